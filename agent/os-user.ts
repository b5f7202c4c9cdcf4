import { constants, readFileSync } from 'node:fs';
import { access, chown, mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DirectoryAccessError } from './errors.ts';

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

/** The user's groups: its primary group and those /etc/group lists it in. */
function groupsOf(user: OsUser): Set<number> {
  const groups = new Set([user.gid]);
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const [, , gid, members] = line.split(':');
      if (members?.split(',').includes(user.name)) groups.add(Number(gid));
    }
  } catch {}
  return groups;
}

/** The nearest ancestor of `dir` (itself included) that exists. */
async function existingAncestor(dir: string): Promise<string> {
  for (let d = dir; ; d = dirname(d)) {
    try {
      await stat(d);
      return d;
    } catch {
      if (d === '/') return d;
    }
  }
}

/**
 * Creates `dir` for the PostgreSQL user: parents it creates are traversable by everyone (0755),
 * the directory itself gets `mode` and is handed to `user`. Started as root, a parent that
 * exists and that `user` cannot enter is named in one error (initdb would fail on it forever).
 * `key` is the config key that names the directory.
 */
export async function ensureOwnedDir(
  dir: string,
  user: OsUser | undefined,
  key: string,
  mode = 0o700,
): Promise<void> {
  const existing = await existingAncestor(dirname(dir));
  if (user) {
    const groups = groupsOf(user);
    for (let d = existing; ; d = dirname(d)) {
      const s = await stat(d);
      const bit = s.uid === user.uid ? 0o100 : groups.has(s.gid) ? 0o010 : 0o001;
      if ((s.mode & bit) === 0)
        throw new DirectoryAccessError(
          key,
          dir,
          `PostgreSQL runs as "${user.name}", which cannot enter ${d} (mode ${(s.mode & 0o777).toString(8)}, owner uid ${s.uid}); chmod o+x it or choose another directory`,
        );
      if (d === '/') break;
    }
  }
  try {
    await mkdir(dirname(dir), { recursive: true, mode: 0o755 });
    await mkdir(dir, { recursive: true, mode });
    if (user) await chown(dir, user.uid, user.gid);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DirectoryAccessError(
      key,
      dir,
      `cannot create it as ${user?.name ?? `uid ${process.getuid?.()}`} (${code}): create it for the agent's user, e.g. install -d -o postgres -g postgres -m 0700 ${dir}`,
    );
  }
  if (!user) {
    await access(dir, constants.R_OK | constants.W_OK | constants.X_OK).catch((error) => {
      throw new DirectoryAccessError(
        key,
        dir,
        `the agent (uid ${process.getuid?.()}) cannot read and write it (${(error as NodeJS.ErrnoException).code}): hand it to the agent's user`,
      );
    });
  }
}
