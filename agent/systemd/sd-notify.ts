import { spawn } from 'node:child_process';

export interface SystemdNotifier {
  /** WatchdogSec in milliseconds (WATCHDOG_USEC), Infinity when there is no watchdog. */
  readonly watchdogPeriodMs: number;
  ready(): void;
  /** Pets the systemd watchdog, at most four times per WatchdogSec. */
  watchdog(): void;
}

function notify(message: string): void {
  // Node cannot send unix datagrams; systemd-notify can (the unit sets NotifyAccess=all).
  const child = spawn('systemd-notify', [message], { stdio: 'ignore' });
  child.on('error', () => {});
  child.unref();
}

/** sd_notify(3) when running under systemd (NOTIFY_SOCKET set); no-ops elsewhere. */
export function systemdNotifier(env: NodeJS.ProcessEnv = process.env): SystemdNotifier {
  const none = Number.POSITIVE_INFINITY;
  if (!env.NOTIFY_SOCKET) return { watchdogPeriodMs: none, ready() {}, watchdog() {} };
  const periodMs = env.WATCHDOG_USEC ? Number(env.WATCHDOG_USEC) / 1000 : none;
  let last = 0;
  return {
    watchdogPeriodMs: periodMs,
    ready: () => notify('--ready'),
    watchdog() {
      const now = Date.now();
      if (now - last < periodMs / 5) return;
      last = now;
      notify('WATCHDOG=1');
    },
  };
}
