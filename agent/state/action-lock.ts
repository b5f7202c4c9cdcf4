import { open, readFile, unlink } from 'node:fs/promises';
import { ActionBusyError } from '../errors.ts';
import { ownLikeDirectory } from './local-state.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Who holds the lock, if a live process does. A lock that exists but cannot be read is held
 * (pid 0): the daemon must never take "unreadable" for "free" and start PostgreSQL mid-rewind.
 */
export async function actionLockHolder(path: string): Promise<{ pid: number; action: string } | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? undefined : { pid: 0, action: `unknown (the lock is unreadable: ${code})` };
  }
  const [pid, action] = text.split(' ');
  const holder = { pid: Number(pid), action: action?.trim() ?? 'unknown' };
  return Number.isInteger(holder.pid) && holder.pid > 0 && alive(holder.pid) ? holder : undefined;
}

/**
 * Serialises actions on one host, and tells the daemon to leave PostgreSQL alone meanwhile.
 * A lock left by a dead process is taken over. Waits up to `waitMs` for a live holder.
 */
export async function withActionLock<T>(
  path: string,
  action: string,
  waitMs: number,
  body: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(`${process.pid} ${action}`);
      await handle.close();
      await ownLikeDirectory(path);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = await actionLockHolder(path);
      if (!holder) {
        await unlink(path).catch(() => {});
        continue;
      }
      if (Date.now() > deadline)
        throw new ActionBusyError(holder.pid ? `${holder.action}, pid ${holder.pid}` : holder.action);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await body();
  } finally {
    await unlink(path).catch(() => {});
  }
}
