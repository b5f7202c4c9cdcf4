import { readFileSync } from 'node:fs';
import { chown, mkdir } from 'node:fs/promises';

export interface OsUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

/**
 * Who runs PostgreSQL's programs. Started as root, the agent drops to `runAs` for them
 * (PostgreSQL refuses to run as root); started as any other user, it runs them as itself.
 */
export function resolvePgUser(runAs: string): OsUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[0] === runAs);
  if (!line) {
    throw new Error(
      `postgresql.run_as: OS user "${runAs}" does not exist (create it, e.g. useradd --system ${runAs})`,
    );
  }
  const [name, , uid, gid, , home] = line.split(':');
  return { name: name!, uid: Number(uid), gid: Number(gid), home: home || '/' };
}

/** Creates `dir` (and parents) and hands it to the PostgreSQL user with the given mode. */
export async function ensureOwnedDir(dir: string, user: OsUser | undefined, mode = 0o700): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
  if (user) await chown(dir, user.uid, user.gid);
}
