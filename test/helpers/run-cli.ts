import { spawn } from 'node:child_process';
import { join } from 'node:path';

const BIN = join(new URL('../..', import.meta.url).pathname, 'bin/pgwarden.js');

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the pgwarden CLI as a person would (a separate process, no terminal). */
export function runCli(
  args: readonly string[],
  env: Record<string, string> = {},
  input?: string,
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    const killAfter = Number(env.PGWARDEN_TEST_KILL_AFTER_MS ?? 0);
    const timer = killAfter ? setTimeout(() => child.kill('SIGINT'), killAfter) : undefined;
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}
