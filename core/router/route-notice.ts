import { z } from 'zod';
import { memberName } from '../config/units.ts';

/**
 * What an action tells every member's router (issue #17), signed like a failsafe ping with the
 * cluster's shared secret: `pause` from a primary about to stop cleanly for a switchover (hold
 * new transactions, drain the ones running), `primary` from a member just promoted at `term`.
 */
export const routeNoticeSchema = z.strictObject({
  cluster: memberName,
  kind: z.enum(['pause', 'primary'], { error: "'pause' or 'primary'" }),
  /** The member the notice is about: the pausing primary, or the promoted one. */
  member: memberName,
  term: z.number({ error: 'a lease term' }).int().min(1),
  /** pause: how long a router may hold connections before it lets them go (ms). */
  hold_ms: z.number().int().positive().max(600_000).optional(),
  /** pause: how long the sender waits for the running transactions to end (ms). */
  drain_ms: z.number().int().nonnegative().max(60_000).optional(),
  /** The sender's wall clock (ms) when it sent it: orders its notices, nothing else. */
  sent_at: z.number().int().positive(),
});
export type RouteNotice = z.output<typeof routeNoticeSchema>;

/** The exact bytes the signature covers: the fields in a fixed order. */
export function canonicalNotice(notice: RouteNotice): string {
  return JSON.stringify([
    'route',
    notice.cluster,
    notice.kind,
    notice.member,
    notice.term,
    notice.hold_ms ?? null,
    notice.drain_ms ?? null,
    notice.sent_at,
  ]);
}
