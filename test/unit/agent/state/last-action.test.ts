import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLastAction, writeLastAction } from '../../../../agent/state/last-action.ts';

describe('the last action outcome file (what the heartbeat reports)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgwarden-last-action-'));

  it('reads back what an action wrote, and nothing when there is none', async () => {
    const path = join(dir, 'last-action.json');
    const bad: string[] = [];
    expect(await readLastAction(path, (w) => bad.push(w))).toBeUndefined();
    const outcome = {
      action: 'rejoin',
      term: 4,
      leader: 'n2',
      ok: false,
      message: 'STORE_UNAVAILABLE: x',
      at: 5,
    };
    await writeLastAction(path, outcome);
    expect(await readLastAction(path, (w) => bad.push(w))).toEqual(outcome);
    expect(bad).toEqual([]);
  });

  it.each([
    ['not JSON', '{"action": "rejoin", ', /not JSON/],
    ['a field missing', '{"action": "rejoin", "term": 4, "at": 5}', /expected \{action, term, ok, at\}: ok/],
  ])('a file that is %s is said and read as none', async (_what, text, why) => {
    const path = join(dir, `bad-${Math.random()}.json`);
    writeFileSync(path, text);
    const bad: string[] = [];
    expect(await readLastAction(path, (w) => bad.push(w))).toBeUndefined();
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatch(why);
  });
});
