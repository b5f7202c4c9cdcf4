import type { SystemdNotifier } from './sd-notify.ts';

/** How long one cycle may run before the daemon counts as hung (systemd then kills the unit). */
export function cycleBudgetMs(bootstrapping: boolean, primaryStopTimeoutSeconds: number): number {
  // A bootstrap clones with pg_basebackup (bounded at 1 h); an ordinary cycle's steps are each
  // bounded by seconds, and stopping PostgreSQL by twice primary_stop_timeout at most.
  return bootstrapping ? 3_700_000 : 120_000 + 2 * primaryStopTimeoutSeconds * 1000;
}

/**
 * Feeds the systemd watchdog from a timer, not from the end of a cycle: a cycle that clones a
 * large database runs far longer than WatchdogSec. The timer fires only while the event loop
 * turns (a hung loop still gets the unit killed), and pets only while `healthy()` (no cycle
 * has outrun its budget). Returns what stops it.
 */
export function feedWatchdog(notifier: SystemdNotifier, healthy: () => boolean): () => void {
  if (!Number.isFinite(notifier.watchdogPeriodMs)) return () => {};
  const timer = setInterval(() => {
    if (healthy()) notifier.watchdog();
  }, notifier.watchdogPeriodMs / 4);
  timer.unref();
  return () => clearInterval(timer);
}
