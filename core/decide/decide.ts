import type { ClusterConfig } from '../config/cluster-config.ts';
import type { Observations } from '../lease/observe.ts';
import type { ClusterSnapshot } from '../model/snapshot.ts';
import { buildContext, type Rule } from './context.ts';
import { RULES } from './rule-table.ts';
import type { Decision } from './steps.ts';

/**
 * The decision engine (DESIGN §4): pure, no I/O, no clock. Tries the rules of the cluster's
 * operation state (and the `any` rules) in table order; the first that matches decides.
 */
export function decide(
  snapshot: ClusterSnapshot,
  observations: Observations,
  config: ClusterConfig,
  now: number,
  options: { configValid?: boolean; rules?: readonly Rule[] } = {},
): Decision {
  const ctx = buildContext(snapshot, observations, config, now, options.configValid ?? true);
  for (const rule of options.rules ?? RULES) {
    if (rule.state !== 'any' && rule.state !== ctx.state) continue;
    const outcome = rule.decide(ctx);
    if (outcome) return { rule: rule.id, ...outcome };
  }
  return { rule: 0, reason: `no rule matched in state ${ctx.state}`, steps: [] };
}
