import { execFile, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { resolvePgUser } from '../../agent/os-user.ts';
import { freePort } from '../../local/free-port.ts';
import type { LocalTopology } from '../../local/local-topology.ts';
import { waitFor } from '../../local/wait-for.ts';
import { type GroupChild, spawnGroup } from './child-process.ts';

/** Why Patroni tests are skipped on this machine, or undefined when they can run. */
export const patroniSkipReason: string | undefined = (() => {
  for (const command of ['patroni', 'patronictl', 'etcd']) {
    if (spawnSync('sh', ['-c', `command -v ${command}`]).status !== 0)
      return `${command} is not installed (apt-get install patroni etcd-server; scripts/ensure-prereqs.sh does it)`;
  }
  return undefined;
})();

export interface PatroniMember {
  readonly name: string;
  readonly pgPort: number;
  readonly apiPort: number;
  readonly dataDir: string;
  readonly configPath: string;
}

/**
 * A Patroni member file as a user writes one (etcd3, REST API, bootstrap, authentication,
 * tags): what both a real Patroni and a pgwarden agent are started from.
 */
export function patroniYaml(
  scope: string,
  member: Omit<PatroniMember, 'configPath'>,
  etcd: string,
  password: string,
): string {
  return stringify({
    scope,
    namespace: '/service/',
    name: member.name,
    log: { level: 'WARNING' },
    restapi: {
      listen: `127.0.0.1:${member.apiPort}`,
      connect_address: `127.0.0.1:${member.apiPort}`,
    },
    ctl: { insecure: true },
    etcd3: { hosts: [etcd] },
    bootstrap: {
      dcs: {
        ttl: 30,
        loop_wait: 10,
        retry_timeout: 10,
        maximum_lag_on_failover: 1048576,
        synchronous_mode: 'off',
        postgresql: {
          use_pg_rewind: true,
          pg_hba: [
            'host replication replicator 127.0.0.1/32 scram-sha-256',
            'host all all 127.0.0.1/32 scram-sha-256',
          ],
          parameters: { max_connections: 30, shared_buffers: '16MB', fsync: 'off' },
        },
      },
      initdb: [{ encoding: 'UTF8' }, 'data-checksums'],
    },
    postgresql: {
      listen: `127.0.0.1:${member.pgPort}`,
      connect_address: `127.0.0.1:${member.pgPort}`,
      data_dir: member.dataDir,
      bin_dir: '/usr/lib/postgresql/15/bin',
      pgpass: `${member.dataDir}.pgpass`,
      authentication: {
        replication: { username: 'replicator', password },
        superuser: { username: 'postgres', password },
        rewind: { username: 'rewind_user', password },
      },
      parameters: { unix_socket_directories: `${member.dataDir}.sock` },
    },
    watchdog: { mode: 'off' },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
  });
}

/** An etcd of its own on free loopback ports, data under `dir`. */
export async function startEtcd(dir: string): Promise<{ endpoint: string; process: GroupChild }> {
  const [client, peer] = [await freePort(), await freePort()];
  mkdirSync(dir, { recursive: true });
  const endpoint = `127.0.0.1:${client}`;
  const process = spawnGroup('etcd', [
    '--name',
    'pgwarden-test',
    '--data-dir',
    join(dir, 'data'),
    '--listen-client-urls',
    `http://${endpoint}`,
    '--advertise-client-urls',
    `http://${endpoint}`,
    '--listen-peer-urls',
    `http://127.0.0.1:${peer}`,
    '--initial-advertise-peer-urls',
    `http://127.0.0.1:${peer}`,
    '--initial-cluster',
    `pgwarden-test=http://127.0.0.1:${peer}`,
  ]);
  await waitFor('etcd to answer', 30_000, async () => {
    const res = await fetch(`http://${endpoint}/health`).catch(() => undefined);
    return res?.ok;
  }).catch((error: Error) => {
    throw new Error(`${error.message}\n${process.output()}`);
  });
  return { endpoint, process };
}

/** Directories and ports of `names`, under `dir` (reachable by postgres), and their files. */
export async function patroniMembers(
  dir: string,
  scope: string,
  names: readonly string[],
  etcd: string,
  password: string,
): Promise<PatroniMember[]> {
  const pg = resolvePgUser('postgres');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const members: PatroniMember[] = [];
  for (const name of names) {
    const member = {
      name,
      pgPort: await freePort(),
      apiPort: await freePort(),
      dataDir: join(dir, name, 'data'),
    };
    mkdirSync(join(dir, name), { recursive: true, mode: 0o755 });
    if (pg) chownSync(join(dir, name), pg.uid, pg.gid);
    const configPath = join(dir, `${name}.yml`);
    writeFileSync(configPath, patroniYaml(scope, member, etcd, password), { mode: 0o644 });
    members.push({ ...member, configPath });
  }
  return members;
}

/** A Patroni daemon for one member file, as the postgres user (as Debian's unit runs it). */
export function startPatroni(member: PatroniMember): GroupChild {
  const asPostgres = process.getuid?.() === 0 && existsSync('/usr/bin/setpriv');
  return asPostgres
    ? spawnGroup(
        'setpriv',
        ['--reuid=postgres', '--regid=postgres', '--init-groups', 'patroni', member.configPath],
        {
          cwd: '/tmp',
          env: { PATH: process.env.PATH, HOME: '/var/lib/postgresql', LANG: 'C.UTF-8' },
        },
      )
    : spawnGroup('patroni', [member.configPath], { cwd: '/tmp' });
}

/** A Patroni cluster on a local topology's hosts: each member's file, and its daemon. */
export interface PatroniOnTopology {
  /** Each member's Patroni file, parsed (the same document pgwarden is started from later). */
  readonly files: Readonly<Record<string, Record<string, unknown>>>;
  readonly configPath: (name: string) => string;
  /** Stops every Patroni daemon (PostgreSQL keeps running while the cluster is paused). */
  stop(): Promise<void>;
}

/**
 * Patroni (with `etcd`) on the hosts of `t` instead of pgwarden: the same data directories and
 * ports, the Patroni socket directory and password file in a directory of the host's own, the
 * first member bootstrapped, the others cloned by Patroni and streaming.
 */
export async function startPatroniOn(
  t: LocalTopology,
  etcd: string,
  password: string,
  dcs: Record<string, unknown> = {},
): Promise<PatroniOnTopology> {
  const pgUser = resolvePgUser('postgres')!;
  const names = [...t.nodes.keys()];
  const daemons: GroupChild[] = [];
  const files: Record<string, Record<string, unknown>> = {};
  const paths: Record<string, string> = {};
  for (const name of names) {
    const node = t.node(name);
    const own = join(node.dir, 'patroni');
    mkdirSync(own, { recursive: true });
    chownSync(own, pgUser.uid, pgUser.gid);
    const doc = parseYaml(
      patroniYaml(
        t.scope,
        { name, pgPort: node.pgPort, apiPort: node.apiPort, dataDir: node.dataDir },
        etcd,
        password,
      ),
    ) as Record<string, Record<string, unknown>>;
    Object.assign(doc.postgresql!, {
      pgpass: join(own, 'pgpass'),
      parameters: { unix_socket_directories: own },
    });
    Object.assign((doc.bootstrap as { dcs: object }).dcs, dcs);
    files[name] = doc;
    paths[name] = join(own, 'patroni.yml');
    writeFileSync(paths[name], stringify(doc), { mode: 0o644 });
    const member = {
      name,
      pgPort: node.pgPort,
      apiPort: node.apiPort,
      dataDir: node.dataDir,
      configPath: paths[name],
    };
    daemons.push(startPatroni(member));
    if (name === names[0]) await t.waitForRole(name, '/primary', 120_000);
  }
  for (const name of names.slice(1)) await t.waitForRole(name, '/replica', 120_000);
  return {
    files,
    configPath: (name) => paths[name]!,
    stop: async () => {
      for (const d of daemons.splice(0)) await d.stop();
    },
  };
}

/**
 * `patronictl pause --wait` on the cluster: Patroni stops managing PostgreSQL. Asynchronous, so
 * that a writer in this process keeps writing meanwhile.
 */
export function patronictlPause(configPath: string, scope: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'patronictl',
      ['-c', configPath, 'pause', scope, '--wait'],
      { cwd: '/tmp', timeout: 60_000 },
      (error, stdout, stderr) =>
        error ? reject(new Error(`patronictl pause: ${stderr}${stdout}${error.message}`)) : resolve(),
    );
  });
}

/**
 * The migration step of the runbook on each host: the member's Patroni file as it was, plus
 * pgwarden's table (and the host's state directory), as the agent's config.
 */
export function writePgwardenFiles(
  t: LocalTopology,
  files: Readonly<Record<string, Record<string, unknown>>>,
): void {
  for (const [name, doc] of Object.entries(files)) {
    const node = t.node(name);
    writeFileSync(
      node.configPath,
      stringify({
        ...doc,
        dynamodb: { table: t.table, endpoint: node.dynamo.endpoint },
        state_dir: node.stateDir,
      }),
    );
  }
}
