import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { AgentConfig } from '../core/config/agent-config.ts';
import { splitCommandLine } from './command-line.ts';
import type { OsUser } from './os-user.ts';

export type CallbackName = 'on_start' | 'on_stop' | 'on_restart' | 'on_reload' | 'on_role_change';

/** Patroni 4's role words, as callbacks receive them. */
export type CallbackRole = 'primary' | 'replica' | 'demoted' | 'uninitialized';

export interface CallbackContext {
  readonly config: AgentConfig;
  readonly logger: Logger;
  /** Who runs PostgreSQL: callbacks run as that user, as Patroni's do. */
  readonly user: OsUser | undefined;
  readonly paths: { readonly stateDir: string; readonly dataDir: string };
}

/** The process group of the callback that runs in `slot`, when it is still that callback. */
function runningIn(pidFile: string): number | undefined {
  let record: { pid: number; program: string };
  try {
    record = JSON.parse(readFileSync(pidFile, 'utf8')) as { pid: number; program: string };
  } catch {
    return undefined;
  }
  try {
    // The PID may have been reused: it must still be the program the file names.
    const cmdline = readFileSync(`/proc/${record.pid}/cmdline`, 'utf8');
    return cmdline.includes(record.program) ? record.pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs a user callback with Patroni's contract: the configured command split as a shell would
 * (shlex), then `action role scope`; as the PostgreSQL user; one callback at a time, a new one
 * killing the one still running (with its children), `on_reload` apart with its own slot. The
 * slot is a file in the state directory, so a callback an action (SSM) started and one the daemon
 * starts take turns too. Its failure is logged and never affects the agent.
 */
export function runCallback(ctx: CallbackContext, name: CallbackName, role: CallbackRole): void {
  const { config, logger } = ctx;
  const command = config.postgresql.callbacks[name];
  if (!command) return;
  let argv: string[];
  try {
    argv = splitCommandLine(command, `postgresql.callbacks.${name}`);
  } catch (error) {
    logger.warn('callback not run', { callback: name, error: (error as Error).message });
    return;
  }
  const pidFile = join(ctx.paths.stateDir, name === 'on_reload' ? 'callback-reload.pid' : 'callback.pid');
  const previous = runningIn(pidFile);
  if (previous !== undefined) {
    try {
      process.kill(-previous, 'SIGKILL');
      logger.info('killed the callback still running: a new one replaces it', {
        callback: name,
        pid: previous,
      });
    } catch {}
  }
  const [program, ...args] = argv;
  const child = spawn(program!, [...args, name, role, config.scope], {
    stdio: 'ignore',
    detached: true,
    cwd: ctx.paths.dataDir,
    ...(ctx.user ? { uid: ctx.user.uid, gid: ctx.user.gid } : {}),
  });
  child.once('error', (error) => {
    logger.warn('callback could not start', { callback: name, command, error: error.message });
  });
  if (child.pid !== undefined) {
    try {
      writeFileSync(pidFile, JSON.stringify({ pid: child.pid, program: program! }), { mode: 0o644 });
    } catch (error) {
      logger.warn('cannot record the running callback', { callback: name, error: (error as Error).message });
    }
  }
  child.once('exit', (code, signal) => {
    if (runningIn(pidFile) === undefined) rmSync(pidFile, { force: true });
    if (code !== 0 && signal !== 'SIGKILL')
      logger.warn('callback failed', { callback: name, command, exitCode: code, signal });
  });
  child.unref();
}
