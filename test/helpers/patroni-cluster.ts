import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { resolvePgUser } from '../../agent/os-user.ts';
import { freePort } from '../../local/free-port.ts';
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
