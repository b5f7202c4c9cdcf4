import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { DirectoryAccessError } from '../../../agent/errors.ts';
import { ensureOwnedDir, resolvePgUser } from '../../../agent/os-user.ts';
import { actionLockHolder } from '../../../agent/state/action-lock.ts';
import { AGENT_BIN, AgentCluster } from '../../helpers/agent-cluster.ts';

const asRoot = process.getuid?.() === 0;

/** Whether `user` can enter and write `dir` (checked by a process running as that user). */
function usableBy(user: { uid: number; gid: number }, dir: string): boolean {
  const probe = spawnSync(process.execPath, ['-e', 'require("fs").accessSync(process.argv[1], 7)', dir], {
    uid: user.uid,
    gid: user.gid,
  });
  return probe.status === 0;
}

describe.skipIf(!asRoot)('data and state directories the agent is pointed at', () => {
  const base = mkdtempSync('/tmp/pgwarden-dirs-');
  chmodSync(base, 0o755);
  const postgres = resolvePgUser('postgres')!;
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('creates missing parents that the PostgreSQL user can traverse, and hands it the directory', async () => {
    const dir = join(base, 'new', 'parents', 'data');
    await ensureOwnedDir(dir, postgres, 'postgresql.data_dir');
    expect(statSync(join(base, 'new')).mode & 0o777).toBe(0o755);
    expect(statSync(join(base, 'new', 'parents')).mode & 0o777).toBe(0o755);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(dir).uid).toBe(postgres.uid);
    expect(usableBy(postgres, dir)).toBe(true);
  });

  it('names a parent the PostgreSQL user cannot enter, with the key that points there', async () => {
    const locked = join(base, 'locked');
    mkdirSync(locked, { mode: 0o700 });
    const error = await ensureOwnedDir(join(locked, 'data'), postgres, 'postgresql.data_dir').catch((e) => e);
    expect(error).toBeInstanceOf(DirectoryAccessError);
    expect(error.message).toContain(`postgresql.data_dir ${locked}/data`);
    expect(error.message).toContain(`cannot enter ${locked} (mode 700`);
  });

  it('makes the agent stop at start with that one error instead of looping on initdb', async () => {
    const c = await AgentCluster.create({ nodes: 1 });
    try {
      const config = parse(readFileSync(c.node('node1').configPath, 'utf8'));
      const locked = join(base, 'locked-agent');
      mkdirSync(locked, { mode: 0o700 });
      config.postgresql.data_dir = join(locked, 'data');
      config.state_dir = join(locked, 'state');
      const path = join(c.dir, 'locked.yml');
      writeFileSync(path, stringify(config));
      const run = spawnSync(process.execPath, [AGENT_BIN, 'run', '-c', path], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(
        `state_dir ${locked}/state: PostgreSQL runs as "postgres", which cannot enter ${locked}`,
      );
    } finally {
      await c.destroy();
    }
  });

  it('takes a lock it cannot read for a held one, never for a free one', async () => {
    const lock = join(base, 'action.lock');
    mkdirSync(lock); // reading it fails (EISDIR), as an unreadable file's read does (EACCES)
    expect(await actionLockHolder(lock)).toMatchObject({
      pid: 0,
      action: expect.stringContaining('unreadable'),
    });
    expect(await actionLockHolder(join(base, 'no-such.lock'))).toBeUndefined();
  });
});
