import { type FSWatcher, watch } from 'node:fs';
import { basename } from 'node:path';
import type { AgentPaths } from '../paths.ts';

/**
 * Wakes the loop at once when an action finishes (lock removed), changes the local state or asks
 * for a start, or a new failsafe promise is made (the controller looks for it in the next
 * heartbeat). Nothing else in the directory (PostgreSQL's log and socket) may spin the loop.
 */
export function watchStateDir(paths: AgentPaths, wake: () => void): FSWatcher {
  const wakeOn = new Set(
    [paths.actionLock, paths.localState, paths.startRequest, paths.failsafeFile].map((p) => basename(p)),
  );
  const watcher = watch(paths.stateDir, (_event, file) => {
    if (file && wakeOn.has(String(file))) wake();
  });
  watcher.on('error', () => {});
  return watcher;
}
