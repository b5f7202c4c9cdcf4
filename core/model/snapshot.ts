import type { MalformedItemError } from '../errors.ts';
import type { ConfigItem, HistoryRow, Initialize, Intent, Leader, Member, Observer, Op } from './items.ts';

/** Everything stored for one cluster, read with one consistent Query. Immutable for a cycle. */
export interface ClusterSnapshot {
  readonly cluster: string;
  readonly leader?: Leader;
  readonly members: readonly Member[];
  readonly config?: ConfigItem;
  readonly intent?: Intent;
  readonly op?: Op;
  readonly observer?: Observer;
  readonly initialize?: Initialize;
  readonly history: readonly HistoryRow[];
  /** Items that did not match their schema: reported and skipped. */
  readonly malformed: readonly MalformedItemError[];
}
