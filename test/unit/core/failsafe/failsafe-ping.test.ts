import { describe, expect, it } from 'vitest';
import { type FailsafePing, judgePing, promiseHolds } from '../../../../core/failsafe/failsafe-ping.ts';

const ping: FailsafePing = { cluster: 'c', term: 5, from: 'n1', sent_at: 1000 };
const ctx = { cluster: 'c', me: 'n2', primary: false, highestTerm: 5 };

describe('a member judging a correctly signed failsafe ping', () => {
  it('accepts a ping at the highest term it has seen, from another member, while it is not primary', () => {
    expect(judgePing(ping, ctx)).toEqual({ accept: true });
    expect(judgePing({ ...ping, term: 6 }, ctx)).toEqual({ accept: true });
  });

  it.each<
    [
      string,
      Partial<FailsafePing>,
      Partial<typeof ctx> & { lastFromSender?: { term: number; sent_at: number } },
      number,
      RegExp,
    ]
  >([
    ['another cluster', { cluster: 'd' }, {}, 403, /cluster d/],
    ['itself', { from: 'n2' }, {}, 400, /itself/],
    ['a member that is primary', {}, { primary: true }, 409, /is a primary/],
    [
      'a term below the lease it has seen (taken over)',
      { term: 4 },
      {},
      409,
      /below the highest lease term seen here \(5\)/,
    ],
    ['a replayed ping', {}, { lastFromSender: { term: 5, sent_at: 1000 } }, 409, /replayed or stale/],
    [
      'an older ping than the last one accepted',
      { sent_at: 999 },
      { lastFromSender: { term: 5, sent_at: 1000 } },
      409,
      /replayed or stale/,
    ],
  ])('refuses %s', (_what, change, context, status, reason) => {
    const verdict = judgePing({ ...ping, ...change }, { ...ctx, ...context });
    expect(verdict).toMatchObject({ accept: false, status });
    expect(verdict.accept === false && verdict.reason).toMatch(reason);
  });

  it('keeps a promise until its end on the member monotonic clock, not a moment longer', () => {
    const promise = { holder: 'n1', term: 5, until: 2000 };
    expect(promiseHolds(promise, 1999)).toBe(true);
    expect(promiseHolds(promise, 2000)).toBe(false);
    expect(promiseHolds(undefined, 0)).toBe(false);
  });
});
