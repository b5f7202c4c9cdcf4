import { parse } from 'shell-quote';

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
