import { parse } from 'shell-quote';
import type { OsUser } from './os-user.ts';
import { agentEnvironment, runProgram } from './postgres/run-program.ts';

/**
 * Splits a configured command line as a POSIX shell would (Patroni: `shlex.split`): quotes and
 * escapes are honoured, `$VAR` is left as written, and shell operators (pipes, redirections,
 * `;`, `&&`) are refused with the key that holds them, since no shell runs the command.
 */
export function splitCommandLine(text: string, key: string): string[] {
  const words = parse(text, (name) => `$${name}`);
  const argv: string[] = [];
  for (const word of words) {
    if (typeof word === 'string') argv.push(word);
    else if ('comment' in word) break;
    else if ('op' in word && word.op === 'glob') argv.push(word.pattern);
    else
      throw new Error(
        `${key}: '${text}' uses the shell operator '${'op' in word ? word.op : '?'}'; expected a command and its arguments (put a pipeline in a script)`,
      );
  }
  if (argv.length === 0) throw new Error(`${key}: expected a command, got '${text}'`);
  return argv;
}

/** A command that makes a data directory (a restore, a replica method) is bounded as pg_basebackup is. */
export const DATA_COMMAND_TIMEOUT_MS = 3_600_000;

/**
 * Runs a command line from the config (`key` names where it comes from) as the PostgreSQL user,
 * with the agent's environment (agent.env's secrets among it, as Patroni passes its own) and
 * `env`, bounded by `timeoutMs`. A non-zero exit throws, naming the key, the command and the end
 * of what it printed.
 */
export async function runUserCommand(
  user: OsUser | undefined,
  options: {
    readonly key: string;
    readonly command: string;
    readonly args?: readonly string[];
    readonly env?: Readonly<Record<string, string>>;
    readonly timeoutMs: number;
  },
): Promise<void> {
  const [program, ...words] = splitCommandLine(options.command, options.key);
  const result = await runProgram(program!, [...words, ...(options.args ?? [])], user, {
    timeoutMs: options.timeoutMs,
    env: { ...agentEnvironment(), ...options.env },
    allowFailure: true,
  });
  if (result.code !== 0)
    throw new Error(
      `${options.key} '${options.command}' exited with ${result.code}: ${(result.stderr || result.stdout).trim().slice(-500)}`,
    );
}
