import type { Rule } from './context.ts';
import { idleRules, idleTailRules } from './rules/idle-rules.ts';
import { failoverRules } from './rules/op-rules.ts';
import { switchoverRules } from './rules/switchover-rules.ts';
import { syncRules } from './rules/sync-rules.ts';

/** The one table of numbered rules (gapped ids), in the order they are tried. */
export const RULES: readonly Rule[] = [
  ...idleRules,
  ...syncRules,
  ...idleTailRules,
  ...failoverRules,
  ...switchoverRules,
];
