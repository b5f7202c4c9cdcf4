import { z } from 'zod';
import { memberName } from '../config/units.ts';

/**
 * The primary's failsafe ping (DESIGN §3, Failsafe): sent to every member of its last fresh set
 * while DynamoDB cannot be reached, signed with the cluster's shared secret.
 */
export const failsafePingSchema = z.strictObject({
  cluster: memberName,
  /** The lease term the sender holds. */
  term: z.number().int().min(1),
  from: memberName,
  /** The sender's wall clock (ms) when it sent the ping: orders its pings, nothing else. */
  sent_at: z.number().int().positive(),
});
export type FailsafePing = z.output<typeof failsafePingSchema>;

/** The exact bytes the signature covers: the fields in a fixed order. */
export function canonicalPing(ping: FailsafePing): string {
  return JSON.stringify([ping.cluster, ping.term, ping.from, ping.sent_at]);
}

/** What a member promised: no promotion, at any term, until `until` on its monotonic clock. */
export interface FailsafePromise {
  readonly holder: string;
  readonly term: number;
  readonly until: number;
}

/** What the member knows when a ping arrives. */
export interface PingContext {
  readonly cluster: string;
  readonly me: string;
  /** This member is (or wants to be) a primary. */
  readonly primary: boolean;
  /** The highest lease term this member has seen (snapshots, promises). */
  readonly highestTerm: number;
  /** The last ping it accepted from the same sender at the same term. */
  readonly lastFromSender?: { readonly term: number; readonly sent_at: number };
}

export type PingVerdict =
  | { readonly accept: true }
  | { readonly accept: false; readonly status: 400 | 403 | 409; readonly reason: string };

/**
 * Whether a correctly signed ping buys a promise. Refused: another cluster, a ping from itself,
 * a member that is primary, a term below the highest this member has seen (the sender's lease
 * was taken over), and a ping not newer than the last one accepted from its sender (a replay).
 */
export function judgePing(ping: FailsafePing, ctx: PingContext): PingVerdict {
  if (ping.cluster !== ctx.cluster)
    return {
      accept: false,
      status: 403,
      reason: `the ping is for cluster ${ping.cluster}, this member serves ${ctx.cluster}`,
    };
  if (ping.from === ctx.me) return { accept: false, status: 400, reason: 'a ping from this member itself' };
  if (ctx.primary) return { accept: false, status: 409, reason: 'this member is a primary' };
  if (ping.term < ctx.highestTerm)
    return {
      accept: false,
      status: 409,
      reason: `term ${ping.term} is below the highest lease term seen here (${ctx.highestTerm}): that lease was taken over`,
    };
  const last = ctx.lastFromSender;
  if (last && last.term === ping.term && ping.sent_at <= last.sent_at)
    return {
      accept: false,
      status: 409,
      reason: `a replayed or stale ping (sent_at ${ping.sent_at} <= ${last.sent_at})`,
    };
  return { accept: true };
}

/** Whether a promise still forbids promotion at `now` (the member's monotonic clock). */
export function promiseHolds(promise: FailsafePromise | undefined, now: number): boolean {
  return promise !== undefined && now < promise.until;
}
