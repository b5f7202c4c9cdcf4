import { spawn } from 'node:child_process';
import { PgCommandError } from '../errors.ts';
import type { OsUser } from '../os-user.ts';

export interface ProgramResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly timeoutMs: number;
  readonly env?: Record<string, string>;
  /** Resolve with the result instead of throwing on a non-zero exit. */
  readonly allowFailure?: boolean;
  readonly cwd?: string;
  /** Start detached in its own process group and do not wait for its output to close. */
  readonly detachedLog?: boolean;
}

/**
 * Runs one PostgreSQL program as `user` (when the agent is root), with a time bound: on timeout
 * the program's process group is killed and PgCommandError thrown.
 */
export function runProgram(
  path: string,
  args: readonly string[],
  user: OsUser | undefined,
  options: RunOptions,
): Promise<ProgramResult> {
  const program = path.split('/').pop()!;
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, {
      detached: true,
      cwd: options.cwd ?? user?.home ?? '/',
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        LANG: 'C.UTF-8',
        ...(user
          ? { HOME: user.home, USER: user.name, LOGNAME: user.name }
          : { HOME: process.env.HOME ?? '/' }),
        ...options.env,
      },
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout = (stdout + d.toString()).slice(-64_000);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-64_000);
    });
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
      reject(new PgCommandError(program, `timed out after ${options.timeoutMs} ms`, stderr || stdout));
    }, options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new PgCommandError(program, `could not start: ${error.message}`, ''));
    });
    // `close` waits for stdio; pg_ctl start leaves the postmaster holding none of our pipes (-l).
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? (signal ? 128 : 1), stdout, stderr };
      if (result.code !== 0 && !options.allowFailure) {
        reject(new PgCommandError(program, `exited with ${signal ?? code}`, stderr || stdout));
      } else {
        resolve(result);
      }
    });
  });
}

/** The agent's own environment (agent.env's secrets among it), for the user's commands, as Patroni passes its own. */
export function agentEnvironment(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined),
  );
}
