import { readdirSync, readFileSync } from 'node:fs';

const UNANSWERED = Symbol('unanswered');

/**
 * Polls `probe` every `everyMs` until it yields a value (not undefined/false); throws after
 * `timeoutMs`, also when a probe hangs (it is then left to finish on its own).
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined | false>,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    try {
      const cutoff = new Promise<typeof UNANSWERED>((resolve) => {
        timer = setTimeout(() => resolve(UNANSWERED), Math.max(0, deadline - Date.now()) + everyMs);
      });
      const value = await Promise.race([probe(), cutoff]);
      if (value === UNANSWERED) last = new Error('the last check did not answer');
      else if (value !== undefined && value !== false) return value;
      else last = undefined;
    } catch (error) {
      last = error;
    } finally {
      clearTimeout(timer);
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${describe(last)}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Whether `pid` runs (a zombie, dead but not yet reaped by its parent, does not). */
export function processAlive(pid: number | undefined): pid is number {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

function describe(error: unknown): string {
  const e = error as Error & { cause?: unknown };
  const cause = e.cause ? ` (${describe(e.cause)})` : '';
  return `${e.message ?? String(error)}${cause}`;
}

/**
 * Every live descendant of `roots` (children, their children...), from /proc: the processes a
 * host's agent started, wherever they put themselves (pg_ctl, pg_basebackup, pg_rewind run in
 * their own process groups).
 */
export function descendants(roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {}
  }
  const found: number[] = [];
  const queue = [...roots];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      if (found.includes(child) || roots.includes(child)) continue;
      found.push(child);
      queue.push(child);
    }
  }
  return found.filter(processAlive);
}

/**
 * When a process started, in clock ticks since boot (/proc/<pid>/stat field 22): with the PID,
 * it names one process for good (PIDs are reused, and pid_max is 32768 on many machines).
 */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return undefined;
  }
}
