import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import type { FailsafePromise } from '../../core/failsafe/failsafe-ping.ts';
import { ownLikeDirectory } from '../state/local-state.ts';

/**
 * The machine's monotonic clock in ms (CLOCK_MONOTONIC: it survives agent restarts, not reboots).
 * Promises are kept on it, so that a restarted agent keeps refusing promotion (DESIGN §3).
 */
export function machineMonotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

const fileSchema = z.object({
  holder: z.string(),
  term: z.number().int(),
  until: z.number(),
  ttl_ms: z.number().positive(),
  boot_id: z.string(),
  /** The last ping accepted from each sender (replays are refused). */
  last: z.record(z.string(), z.object({ term: z.number().int(), sent_at: z.number() })).default({}),
});
type PromiseFile = z.output<typeof fileSchema>;

/** The member's failsafe promise and the pings it accepted, in `<state_dir>/failsafe.json`. */
export class PromiseStore {
  constructor(private readonly path: string) {}

  /**
   * The promise on record. After a reboot the monotonic clock restarted: the promise then holds
   * for a whole ttl from now, which is never shorter than what was promised.
   */
  async read(
    now = machineMonotonicMs(),
  ): Promise<(FailsafePromise & { last: PromiseFile['last'] }) | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const parsed = fileSchema.safeParse(JSON.parse(text));
    if (!parsed.success)
      throw new Error(`${this.path}: not a failsafe promise file: ${parsed.error.message}`);
    const file = parsed.data;
    const until = file.boot_id === bootId() ? file.until : now + file.ttl_ms;
    return { holder: file.holder, term: file.term, until, last: file.last };
  }

  /**
   * The promise in force and the milliseconds it has left, or undefined. Throws when the file
   * cannot be read: `promote` must then refuse, not take it for no promise.
   */
  async inForce(
    now = machineMonotonicMs(),
  ): Promise<{ holder: string; term: number; remaining_ms: number } | undefined> {
    const promise = await this.read(now);
    const remaining = promise ? Math.round(promise.until - now) : 0;
    return promise && remaining > 0
      ? { holder: promise.holder, term: promise.term, remaining_ms: remaining }
      : undefined;
  }

  /** Records a promise to `holder` at `term` until `now + ttlMs`, and the ping that bought it. */
  async promise(holder: string, term: number, sentAt: number, ttlMs: number, now = machineMonotonicMs()) {
    const previous = await this.read(now).catch(() => undefined);
    const file: PromiseFile = {
      holder,
      term,
      until: Math.max(now + ttlMs, previous?.until ?? 0),
      ttl_ms: ttlMs,
      boot_id: bootId(),
      last: { ...previous?.last, [holder]: { term, sent_at: sentAt } },
    };
    // Two pings answered at once must not share a temporary file.
    const tmp = `${this.path}.${process.pid}.${randomUUID()}.tmp`;
    await writeFile(tmp, `${JSON.stringify(file)}\n`, { mode: 0o600 });
    await ownLikeDirectory(tmp);
    await rename(tmp, this.path);
    return { holder, term, until: file.until };
  }
}
