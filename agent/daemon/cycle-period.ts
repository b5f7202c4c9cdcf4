import type { ClusterConfig } from '../../core/config/cluster-config.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';
import { PENDING_SYNC_STANDBY } from '../postgres/pg-conf.ts';
import type { LocalState } from '../state/local-state.ts';

/** Heartbeat period while the controller waits for this member's next report. */
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

/**
 * True for a primary promoted less than a ttl ago whose PostgreSQL still waits for a standby no
 * one is: the controller records its first synchronous standby once a heartbeat shows one
 * streaming, and until then nothing commits.
 */
export function awaitingFirstSyncStandby(
  local: LocalState | undefined,
  config: Pick<ClusterConfig, 'ttl'>,
  now: number,
): boolean {
  return (
    local?.want === 'primary' &&
    local.sync_standbys.includes(PENDING_SYNC_STANDBY) &&
    now - local.updated_at < config.ttl * 1000
  );
}

/** Milliseconds from the start of one agent cycle to the start of the next. */
export function cyclePeriodMs(
  snapshot: ClusterSnapshot | undefined,
  me: string,
  config: Pick<ClusterConfig, 'loop_wait' | 'synchronous_mode' | 'ttl'>,
  options: { retrySoon: boolean; now: number; local?: LocalState },
): number {
  if (options.retrySoon) return RETRY_PERIOD_MS;
  if (awaitedBySwitchover(snapshot, me, config, options.now)) return CATCHUP_PERIOD_MS;
  if (awaitingFirstSyncStandby(options.local, config, options.now)) return CATCHUP_PERIOD_MS;
  return config.loop_wait * 1000;
}
