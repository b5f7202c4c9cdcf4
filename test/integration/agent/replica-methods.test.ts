import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePgUser } from '../../../agent/os-user.ts';
import { AgentCluster } from '../../helpers/agent-cluster.ts';
import { asPostgres, systemIdentifier } from '../../helpers/as-postgres.ts';

/** pgBackRest as the postgres user on the test's stanza, failing the test on error. */
const pgbackrest = (conf: string, args: string[]) =>
  asPostgres('pgbackrest', [`--config=${conf}`, '--stanza=test', ...args]);
const sysid = (c: AgentCluster, name: string) => systemIdentifier(c.node(name).dataDir);

/**
 * Patroni's create_replica_methods and bootstrap.method (issue #16) with a real backup tool:
 * pgBackRest with a repository on this machine, WAL archived into it by the primary.
 */
describe('replicas and clusters made from a backup (pgBackRest)', () => {
  let a: AgentCluster;
  let b: AgentCluster | undefined;
  let pitr: AgentCluster | undefined;
  let conf: string;
  let repoDir: string;

  beforeAll(async () => {
    a = await AgentCluster.create({
      nodes: 4,
      // node2 offers itself for clones (Patroni's clonefrom tag): new members copy it, not the primary.
      tags: { node2: { clonefrom: true } },
      pgParameters: { archive_mode: 'on', archive_timeout: 0 },
    });
    repoDir = join(a.base, 'pgbackrest');
    conf = join(repoDir, 'pgbackrest.conf');
    for (const d of ['repo', 'log', 'lock', 'spool']) mkdirSync(join(repoDir, d), { recursive: true });
    writeFileSync(
      conf,
      [
        '[global]',
        `repo1-path=${repoDir}/repo`,
        `log-path=${repoDir}/log`,
        `lock-path=${repoDir}/lock`,
        `spool-path=${repoDir}/spool`,
        'start-fast=y',
        'compress-type=none',
        'log-level-console=warn',
        '',
      ].join('\n'),
    );
    const pg = resolvePgUser('postgres')!;
    spawnSync('chown', ['-R', `${pg.uid}:${pg.gid}`, repoDir]);
    // Every node archives into the repository; its data directory is the command's working directory.
    const archive = `pgbackrest --config=${conf} --stanza=test --pg1-path="$PWD" archive-push %p`;
    for (const name of ['node1', 'node2', 'node3', 'node4']) {
      a.editConfig(name, (doc) => {
        doc.postgresql!.parameters = { ...(doc.postgresql!.parameters as object), archive_command: archive };
      });
    }
    a.startAgent('node1');
    await a.waitForRole('node1', '/primary', 60_000);
    const n1 = a.node('node1');
    const at = [`--pg1-path=${n1.dataDir}`, `--pg1-socket-path=${n1.stateDir}`, `--pg1-port=${n1.pgPort}`];
    pgbackrest(conf, [...at, 'stanza-create']);
    pgbackrest(conf, [...at, '--type=full', 'backup']);
    // After the backup: rows only the archived WAL has, and a file only a copy of node1's data
    // directory (pg_basebackup) would bring.
    await a.sql('node1', 'CREATE TABLE after_backup AS SELECT g FROM generate_series(1, 1000) g');
    const [{ wal }] = (await a.sql('node1', 'SELECT pg_walfile_name(pg_switch_wal()) AS wal')) as [
      { wal: string },
    ];
    await a.waitFor('the segment archived', 30_000, async () => {
      const [row] = await a.sql('node1', 'SELECT last_archived_wal FROM pg_stat_archiver');
      return typeof row?.last_archived_wal === 'string' && row.last_archived_wal >= wal;
    });
    writeFileSync(join(n1.dataDir, 'only-on-node1'), 'a base backup from node1 would copy this\n');
    spawnSync('chown', [`${pg.uid}:${pg.gid}`, join(n1.dataDir, 'only-on-node1')]);
  }, 180_000);
  afterAll(async () => {
    await pitr?.destroy();
    await b?.destroy();
    await a?.destroy();
  });

  it('a new replica restored from the backup plus archived WAL: no base backup from the primary', async () => {
    const data = a.node('node2').dataDir;
    a.editConfig('node2', (doc) => {
      doc.postgresql!.create_replica_methods = ['pgbackrest', 'basebackup'];
      doc.postgresql!.pgbackrest = {
        command: `pgbackrest --config=${conf} --stanza=test --pg1-path=${data} --type=standby restore`,
        keep_data: false,
        no_params: true,
      };
    });
    a.startAgent('node2');
    await a.waitForRole('node2', '/replica', 120_000);
    await a.waitFor('node2 streaming', 60_000, async () => {
      const m = (await a.store.getSnapshot('test')).members.find((x) => x.name === 'node2');
      return m?.receiver_state === 'streaming';
    });
    expect(existsSync(join(data, 'only-on-node1'))).toBe(false);
    expect(sysid(a, 'node2')).toBe(sysid(a, 'node1'));
    expect(await a.sql('node2', 'SELECT count(*)::int AS n FROM after_backup')).toEqual([{ n: 1000 }]);
    expect(readFileSync(join(a.node('node2').stateDir, 'postgresql.log'), 'utf8')).toMatch(
      /restored log file "[0-9A-F]{24}" from archive/,
    );
    expect(readFileSync(join(data, 'postgresql.auto.conf'), 'utf8')).toMatch(
      /restore_command = .*archive-get/,
    );
    expect(a.agentLog('node2')).toMatch(/replica data created.*"method":"pgbackrest"/);
  });

  it("a method that fails falls through to the next, which finds an empty directory; Patroni's arguments", async () => {
    const data = a.node('node3').dataDir;
    const argsFile = join(a.base, 'broken-args');
    const script = join(a.base, 'broken-method.sh');
    writeFileSync(
      script,
      `#!/bin/sh\nprintf '%s\\n' "$@" > ${argsFile}\nfor a in "$@"; do case "$a" in --datadir=*) touch "\${a#--datadir=}/left-by-broken";; esac; done\nexit 3\n`,
    );
    chmodSync(script, 0o755);
    writeFileSync(argsFile, '');
    chmodSync(argsFile, 0o666);
    a.editConfig('node3', (doc) => {
      doc.postgresql!.create_replica_methods = ['broken', 'restore_into_empty'];
      doc.postgresql!.broken = { command: script, threads: 2 };
      // pgBackRest refuses a directory that is not empty without --delta: it proves the wipe.
      doc.postgresql!.restore_into_empty = {
        command: `pgbackrest --config=${conf} --stanza=test --pg1-path=${data} --type=standby restore`,
        no_params: true,
      };
    });
    a.startAgent('node3');
    await a.waitForRole('node3', '/replica', 120_000);
    const args = readFileSync(argsFile, 'utf8').trim().split('\n');
    expect(args.slice(0, 5)).toEqual([
      '--threads=2',
      '--scope=test',
      '--role=replica',
      `--datadir=${data}`,
      expect.stringMatching(/^--connstring=host=127\.0\.0\.1 port=\d+ user=replicator /),
    ]);
    expect(existsSync(join(data, 'left-by-broken'))).toBe(false);
    expect(a.agentLog('node3')).toMatch(/replica creation method failed; trying the next.*"method":"broken"/);
    expect(a.agentLog('node3')).toMatch(/replica data created.*"method":"restore_into_empty"/);
    expect(await a.sql('node3', 'SELECT count(*)::int AS n FROM after_backup')).toEqual([{ n: 1000 }]);
  });

  it('the clonefrom tag: a new member takes its base backup from the tagged replica, sparing the primary', async () => {
    const pg = resolvePgUser('postgres')!;
    const marker = join(a.node('node2').dataDir, 'only-on-node2');
    writeFileSync(marker, 'a base backup from node2 copies this\n');
    spawnSync('chown', [`${pg.uid}:${pg.gid}`, marker]);
    a.startAgent('node4');
    await a.waitForRole('node4', '/replica', 120_000);
    const data = a.node('node4').dataDir;
    expect(existsSync(join(data, 'only-on-node2'))).toBe(true);
    expect(existsSync(join(data, 'only-on-node1'))).toBe(false);
    expect(a.agentLog('node4')).toMatch(/replica data created.*"method":"basebackup","source":"node2"/);
    // It streams from the primary all the same.
    await a.waitFor('node4 streaming from node1', 60_000, async () => {
      const rows = await a.sql(
        'node1',
        "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'",
      );
      return rows.some((r) => r.application_name === 'node4');
    });
  });

  it('a new cluster bootstrapped from the backup (bootstrap.method): same system, a new timeline, its replica cloned', async () => {
    b = await AgentCluster.create({ nodes: 2, scope: 'restored' });
    const data = b.node('node1').dataDir;
    b.editConfig('node1', (doc) => {
      doc.bootstrap!.method = 'pgbackrest';
      doc.bootstrap!.pgbackrest = {
        command: `pgbackrest --config=${conf} --stanza=test --pg1-path=${data} restore`,
        keep_existing_recovery_conf: true,
        no_params: true,
      };
    });
    b.startAgent('node1');
    await b.waitForRole('node1', '/primary', 120_000);
    const snapshot = await b.store.getSnapshot('restored');
    expect(snapshot.initialize).toMatchObject({ by: 'node1', system_identifier: sysid(a, 'node1') });
    expect(snapshot.leader).toMatchObject({ holder: 'node1', term: 1, timeline: 2 });
    expect(snapshot.history).toEqual([
      expect.objectContaining({
        kind: 'bootstrap',
        reason: expect.stringContaining('bootstrap.method pgbackrest'),
      }),
    ]);
    expect(await b.sql('node1', 'SELECT count(*)::int AS n FROM after_backup')).toEqual([{ n: 1000 }]);
    expect(existsSync(join(data, 'recovery.signal'))).toBe(false);
    // The roles the cluster's files name exist (post_bootstrap ran: the application role logs in).
    expect(await b.appSql('node1', 'SELECT current_user AS u')).toEqual([{ u: 'admin' }]);
    b.startAgent('node2');
    await b.waitForRole('node2', '/replica', 120_000);
    await b.waitFor('restored node2 streaming', 60_000, async () => {
      const m = (await b!.store.getSnapshot('restored')).members.find((x) => x.name === 'node2');
      return m?.receiver_state === 'streaming' && m.timeline === 2;
    });
  });

  it("bootstrap.method with recovery_conf: a point-in-time restore (the backup's end), its target removed once promoted", async () => {
    pitr = await AgentCluster.create({ nodes: 1, scope: 'pitr' });
    const data = pitr.node('node1').dataDir;
    pitr.editConfig('node1', (doc) => {
      doc.bootstrap!.method = 'restore';
      doc.bootstrap!.restore = {
        // --type=none: pgBackRest writes no recovery settings; recovery_conf gives them.
        command: `pgbackrest --config=${conf} --stanza=test --pg1-path=${data} --type=none restore`,
        no_params: true,
        recovery_conf: {
          restore_command: `pgbackrest --config=${conf} --stanza=test --pg1-path=${data} archive-get %f "%p"`,
          recovery_target: 'immediate',
          recovery_target_action: 'promote',
        },
      };
    });
    pitr.startAgent('node1');
    await pitr.waitForRole('node1', '/primary', 120_000);
    // Stopped where the backup became consistent: before the rows written after it.
    expect(await pitr.sql('node1', "SELECT to_regclass('after_backup') IS NULL AS absent")).toEqual([
      { absent: true },
    ]);
    expect((await pitr.store.getLeader('pitr'))?.timeline).toBe(2);
    const auto = readFileSync(join(data, 'postgresql.auto.conf'), 'utf8');
    expect(auto).not.toMatch(/recovery_target/);
    expect(auto).toMatch(/restore_command = /);
    expect(existsSync(join(data, 'recovery.signal'))).toBe(false);
  });
});
