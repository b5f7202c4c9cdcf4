import { chmodSync, chownSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type HostFile, type HostLayout, hostDirectories } from '../agent/host/host-layout.ts';
import type { OsUser } from '../agent/os-user.ts';

/**
 * Gives a local host what the EC2 user data gives an instance (DESIGN §8): its directories with
 * their owners, the agent bundle, and the host files rendered by agent/host/host-layout.ts.
 * `runAs` is the daemon's user (undefined when this process is not root: everything stays ours).
 */
export function installHost(
  layout: HostLayout,
  files: readonly HostFile[],
  bundle: string,
  runAs: OsUser | undefined,
): void {
  const own = (path: string, owner: 'root' | 'run_as') => {
    if (runAs && owner === 'run_as') chownSync(path, runAs.uid, runAs.gid);
  };
  for (const dir of hostDirectories(layout)) {
    mkdirSync(dir.path, { recursive: true, mode: 0o755 });
    chmodSync(dir.path, dir.mode);
    own(dir.path, dir.owner);
  }
  copyFileSync(bundle, layout.bundle);
  chmodSync(layout.bundle, 0o644);
  for (const file of files) {
    mkdirSync(dirname(file.path), { recursive: true, mode: 0o755 });
    writeFileSync(file.path, file.content, { mode: file.mode });
    chmodSync(file.path, file.mode);
    own(file.path, file.owner);
  }
}
