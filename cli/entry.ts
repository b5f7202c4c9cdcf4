// The pgwarden CLI with every command, the local topology's included.
import { localExtensions } from '../local/local-commands.ts';
import { runCli as run } from './main.ts';

export function runCli(argv: string[]): Promise<number> {
  return run(argv, localExtensions);
}
