import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { resolvePgUser } from '../agent/os-user.ts';

/**
 * Started as root, PostgreSQL runs as `postgres`, which must reach the data directories: every
 * parent of `dir` must be searchable by it. Says which one is not, instead of failing in initdb.
 */
export function checkReachable(dir: string, runAs = 'postgres'): void {
  const user = resolvePgUser(runAs);
  if (!user) return;
  const probe = spawnSync(process.execPath, ['-e', 'require("fs").accessSync(process.argv[1], 1)', dir], {
    uid: user.uid,
    gid: user.gid,
    stdio: 'ignore',
  });
  if (probe.status !== 0) {
    let blocked = dir;
    for (let d = dir; d !== '/'; d = dirname(d)) {
      const p = spawnSync(process.execPath, ['-e', 'require("fs").accessSync(process.argv[1], 1)', d], {
        uid: user.uid,
        gid: user.gid,
        stdio: 'ignore',
      });
      if (p.status !== 0) blocked = d;
    }
    throw new Error(
      `--dir ${dir}: PostgreSQL runs as "${runAs}" (the agent runs as root) and cannot enter ${blocked}; ` +
        'choose a directory it can reach, e.g. --dir /tmp/pgwarden-local, or chmod o+x the parents',
    );
  }
}
