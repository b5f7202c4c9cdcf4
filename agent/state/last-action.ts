import { readFile, rename, writeFile } from 'node:fs/promises';
import { type LastAction, lastActionSchema } from '../../core/model/items.ts';
import { ownLikeDirectory } from './local-state.ts';

/**
 * Records the outcome of an action for the daemon's next heartbeat (the action runs as root
 * under SSM; the daemon, as the state directory's owner, reads it). Atomic replace.
 */
export async function writeLastAction(path: string, outcome: LastAction): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(outcome)}\n`, { mode: 0o600 });
  await ownLikeDirectory(tmp);
  await rename(tmp, path);
}

/**
 * The last action's outcome, or undefined when none was recorded. A file that is not one (a
 * partial copy, a hand edit) is reported through `onBad` and read as none: it only informs.
 */
export async function readLastAction(
  path: string,
  onBad: (why: string) => void,
): Promise<LastAction | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') onBad((error as Error).message);
    return undefined;
  }
  try {
    const parsed = lastActionSchema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
    onBad(
      `${path}: expected {action, term, ok, at}: ${parsed.error.issues.map((i) => i.path.join('.') || '(root)').join(', ')}`,
    );
  } catch {
    onBad(`${path}: not JSON`);
  }
  return undefined;
}
