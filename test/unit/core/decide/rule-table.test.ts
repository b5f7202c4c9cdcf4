import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RULES } from '../../../../core/decide/rule-table.ts';
import { renderRulesDocument } from '../../../helpers/rules-document.ts';

describe('the rule table', () => {
  it('has unique, increasing rule ids', () => {
    const ids = RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
  });

  it('has rules for every state a rule can move an operation to, so no operation hangs', () => {
    const targets = new Set(RULES.flatMap((r) => r.next ?? []));
    for (const state of targets)
      expect(RULES.filter((r) => r.state === state).map((r) => r.id)).not.toEqual([]);
  });

  it('gives every operation state a way back to idle', () => {
    const opStates = new Set(RULES.map((r) => r.state).filter((s) => s.includes(':')));
    const reachesIdle = (state: string, seen = new Set<string>()): boolean => {
      if (state === 'idle') return true;
      if (seen.has(state)) return false;
      seen.add(state);
      return RULES.filter((r) => r.state === state).some((r) =>
        (r.next ?? []).some((n) => reachesIdle(n, seen)),
      );
    };
    for (const state of opStates) expect(reachesIdle(state), state).toBe(true);
  });

  it('is documented by the generated docs/rules.md (run npm run docs:rules after changing it)', () => {
    const onDisk = readFileSync(new URL('../../../../docs/rules.md', import.meta.url), 'utf8');
    expect(onDisk).toBe(renderRulesDocument());
  });
});
