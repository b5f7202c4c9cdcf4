import { chown, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';

/**
 * What this node should be, kept in a file so that the daemon and the action processes agree
 * and a restarted agent resumes safely. The agent starts PostgreSQL as primary only when this
 * says `primary` *and* the lease is held at `term` (DESIGN §3).
 */
export const localStateSchema = z.object({
  want: z.enum(['primary', 'replica', 'stopped']),
  /** Why it is stopped: fenced (lease lost, or the controller fenced it) or demoted (switchover). */
  stopped_reason: z.enum(['fenced', 'demoted', 'bootstrap']).optional(),
  term: z.number().int().min(0).default(0),
  /** The member this replica streams from. */
  upstream: z.string().optional(),
  /** Names for synchronous_standby_names (primary); `*` blocks on any standby. */
  sync_standbys: z.array(z.string()).default([]),
  updated_at: z.number(),
  updated_by: z.string(),
});
export type LocalState = z.output<typeof localStateSchema>;

export async function readLocalState(path: string): Promise<LocalState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = localStateSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${path}: not a valid agent state file: ${parsed.error.message}`);
  return parsed.data;
}

/**
 * Gives a file written in the state directory to the directory's owner. Actions run as root
 * (SSM) and the daemon as `run_as` (systemd): what an action writes, the daemon must read.
 */
export async function ownLikeDirectory(path: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const dir = await stat(dirname(path));
  if (dir.uid !== 0) await chown(path, dir.uid, dir.gid);
}

/** Atomic replace (write a temporary file, then rename), owned by the state directory's owner. */
export async function writeLocalState(
  path: string,
  state: Omit<LocalState, 'updated_at'>,
): Promise<LocalState> {
  const full: LocalState = { ...state, updated_at: Date.now() };
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(full, null, 2)}\n`, { mode: 0o600 });
  await ownLikeDirectory(tmp);
  await rename(tmp, path);
  return full;
}
