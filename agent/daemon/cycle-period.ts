import type { ClusterConfig } from '../../core/config/cluster-config.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';

/** Heartbeat period of a switchover candidate while the controller waits for its catch-up. */
export const CATCHUP_PERIOD_MS = 250;
/** After a cycle that should be retried soon (DynamoDB or PostgreSQL did not answer). */
export const RETRY_PERIOD_MS = 500;

/**
 * True while a switchover may wait for `me` to report the old primary's final LSN: one is
 * requested (due within a loop_wait) or under way, naming `me` or no one, and `me` is not the
 * primary being switched away from. In synchronous mode every other standby too: the hand-over
 * records those that report it (rule 425 waits for them).
 */
export function awaitedBySwitchover(
  snapshot: ClusterSnapshot | undefined,
  me: string,
  config: Pick<ClusterConfig, 'loop_wait' | 'synchronous_mode'>,
  now: number,
): boolean {
  const op = snapshot?.op;
  if (op) {
    if (op.kind !== 'switchover' || op.from === me) return false;
    return (op.step === 'demote' || op.step === 'catchup') && (op.to === me || config.synchronous_mode);
  }
  const intent = snapshot?.intent;
  if (intent?.kind !== 'switchover' || intent.outcome || intent.from === me) return false;
  const due = intent.scheduled_at === undefined || intent.scheduled_at <= now + config.loop_wait * 1000;
  return due && ((intent.to ?? me) === me || config.synchronous_mode);
}

/** Milliseconds from the start of one agent cycle to the start of the next. */
export function cyclePeriodMs(
  snapshot: ClusterSnapshot | undefined,
  me: string,
  config: Pick<ClusterConfig, 'loop_wait' | 'synchronous_mode'>,
  options: { retrySoon: boolean; now: number },
): number {
  if (options.retrySoon) return RETRY_PERIOD_MS;
  if (awaitedBySwitchover(snapshot, me, config, options.now)) return CATCHUP_PERIOD_MS;
  return config.loop_wait * 1000;
}
