import { spawn } from 'node:child_process';

export interface SystemdNotifier {
  ready(): void;
  /** Pets the systemd watchdog, at most twice per WatchdogSec. */
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
  if (!env.NOTIFY_SOCKET) return { ready() {}, watchdog() {} };
  const intervalMs = env.WATCHDOG_USEC ? Number(env.WATCHDOG_USEC) / 2000 : Number.POSITIVE_INFINITY;
  let last = 0;
  return {
    ready: () => notify('--ready'),
    watchdog() {
      const now = Date.now();
      if (now - last < intervalMs / 2) return;
      last = now;
      notify('WATCHDOG=1');
    },
  };
}
