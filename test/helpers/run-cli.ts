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
  /** SIGINT the command (as Ctrl-C would) once its output satisfies this: `--watch` runs. */
  interruptWhen?: (stdout: string) => boolean,
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout.on('data', (d) => {
      stdout += d;
      if (!interrupted && interruptWhen?.(stdout)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => {
      resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}
