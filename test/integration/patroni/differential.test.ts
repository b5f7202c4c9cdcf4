import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../../adapters/dynamodb/client.ts';
import { startEmbeddedDynamoDb } from '../../../adapters/dynamodb/embedded-dynamodb.ts';
import { ensureTable } from '../../../adapters/dynamodb/ensure-table.ts';
import { AGENT_BUNDLE } from '../../../local/local-topology.ts';
import { waitFor } from '../../../local/wait-for.ts';
import type { GroupChild } from '../../helpers/child-process.ts';
import { spawnGroup } from '../../helpers/child-process.ts';
import {
  type PatroniMember,
  patroniMembers,
  patroniSkipReason,
  startEtcd,
  startPatroni,
} from '../../helpers/patroni-cluster.ts';
import { runCli } from '../../helpers/run-cli.ts';

/**
 * The differential test of the Patroni drop-in (issue #15): a real Patroni cluster (Debian's
 * patroni with etcd) and a pgwarden cluster started from Patroni member files written the same
 * way, asked the same REST requests. Status codes, JSON keys and their types must match; every
 * intended difference is listed below with its reason. Debian ships Patroni 3.0.2 while pgwarden
 * follows 4.x: where they differ, the 4.x behaviour is the one pgwarden has, and the list says so.
 */

const PATHS = [
  '/',
  '/primary',
  '/master',
  '/leader',
  '/read-write',
  '/standby-leader',
  '/standby_leader',
  '/replica',
  '/replica?lag=1MB',
  '/replica?lag=0',
  '/replica?lag=bogus',
  '/replica?replication_state=streaming',
  '/replica?replication_state=in%20archive%20recovery',
  '/replica?tag_nofailover=false',
  '/replica?tag_clonefrom=true',
  '/read-only',
  '/sync',
  '/synchronous',
  '/async',
  '/asynchronous',
  '/async?lag=1MB',
  '/read-only-sync',
  '/quorum',
  '/read-only-quorum',
  '/health',
  '/liveness',
  '/readiness',
  '/readiness?lag=1MB&mode=write',
  '/patroni',
  '/cluster',
  '/history',
  '/config',
  '/no-such-endpoint',
] as const;

const METHODS = ['GET', 'HEAD', 'OPTIONS'] as const;

/** Paths whose answers differ on purpose (any method, either role) → why. */
const INTENDED: Readonly<Record<string, string>> = {
  '/replica?replication_state=in%20archive%20recovery':
    'Patroni 4 filters on replication_state; 3.0.2 ignores the parameter (a streaming replica passes)',
  '/read-only-quorum':
    'Patroni 4 has a quorum branch for it (503 on a replica that is no quorum standby); 3.0.2 takes it for /read-only',
};

/** JSON keys pgwarden adds, or that Patroni 3.0.2 lacks and 4.x has. */
const PATRONI_EXTRA_KEYS = new Set(['lease', 'decision']);
const PATRONI_4_KEYS = new Set(['tags', 'replication_state']);

type Answer = { status: number; body: unknown; text: string };

async function ask(port: number, method: string, path: string): Promise<Answer> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text };
}

/** Each key of a JSON value with the type of its value, recursively: `xlog.location:number`. */
function shape(value: unknown, prefix = ''): string[] {
  if (value === null) return [`${prefix}:null`];
  if (Array.isArray(value)) return value.length > 0 ? shape(value[0], `${prefix}[]`) : [`${prefix}:array`];
  if (typeof value === 'object')
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
      shape(v, prefix ? `${prefix}.${k}` : k),
    );
  return [`${prefix}:${typeof value}`];
}

describe.skipIf(patroniSkipReason !== undefined)(
  'pgwarden against a real Patroni, request for request',
  () => {
    const dir = mkdtempSync('/tmp/pgwarden-patroni-diff-');
    chmodSync(dir, 0o755);
    const processes: GroupChild[] = [];
    let patroni: PatroniMember[] = [];
    let pgwarden: PatroniMember[] = [];
    let stopDynamo: (() => Promise<void>) | undefined;
    let dynamoEndpoint = '';

    const role = (members: PatroniMember[], r: 'primary' | 'replica') => members[r === 'primary' ? 0 : 1]!;

    beforeAll(async () => {
      const etcd = await startEtcd(join(dir, 'etcd'));
      processes.push(etcd.process);
      patroni = await patroniMembers(
        join(dir, 'patroni'),
        'diff',
        ['pa', 'pb'],
        etcd.endpoint,
        'diff-secret',
      );
      // The same kind of member files (etcd3 section and all), for pgwarden: only the table is added.
      pgwarden = await patroniMembers(
        join(dir, 'pgwarden'),
        'diff',
        ['wa', 'wb'],
        etcd.endpoint,
        'diff-secret',
      );
      const dynamo = await startEmbeddedDynamoDb();
      stopDynamo = () => dynamo.stop();
      dynamoEndpoint = dynamo.endpoint;
      await ensureTable(
        createDocumentClient({ endpoint: dynamo.endpoint, requestTimeoutMs: 3000 }),
        'pgwarden-diff',
      );
      const env = {
        PATH: process.env.PATH,
        HOME: '/var/lib/postgresql',
        PGWARDEN_TABLE: 'pgwarden-diff',
        PGWARDEN_DYNAMODB_ENDPOINT: dynamo.endpoint,
      };
      const startAgent = (m: PatroniMember) =>
        spawnGroup(
          'setpriv',
          [
            '--reuid=postgres',
            '--regid=postgres',
            '--init-groups',
            process.execPath,
            AGENT_BUNDLE,
            'run',
            '-c',
            m.configPath,
          ],
          { cwd: '/', env },
        );
      processes.push(startPatroni(patroni[0]!), startAgent(pgwarden[0]!));
      const up = (m: PatroniMember, path: string) =>
        waitFor(
          `${m.name} ${path}`,
          120_000,
          async () => (await ask(m.apiPort, 'GET', path).catch(() => undefined))?.status === 200,
        );
      await Promise.all([up(patroni[0]!, '/primary'), up(pgwarden[0]!, '/primary')]);
      processes.push(startPatroni(patroni[1]!), startAgent(pgwarden[1]!));
      await Promise.all([up(patroni[1]!, '/replica'), up(pgwarden[1]!, '/replica')]);
      // Both replicas streaming in each cluster's own view (Patroni's /cluster, pgwarden's snapshot).
      await waitFor('both members streaming everywhere', 60_000, async () => {
        const p = (await ask(patroni[1]!.apiPort, 'GET', '/patroni')).body as {
          replication_state?: string;
          state?: string;
        };
        const w = (await ask(pgwarden[1]!.apiPort, 'GET', '/cluster')).body as {
          members?: Array<{ state: string }>;
        };
        const pPrimary = (await ask(patroni[0]!.apiPort, 'GET', '/patroni')).body as {
          replication?: unknown[];
        };
        return (
          p.state === 'running' &&
          (pPrimary.replication?.length ?? 0) > 0 &&
          w.members?.[1]?.state === 'streaming'
        );
      });
    }, 300_000);

    afterAll(async () => {
      for (const p of processes.reverse()) await p.stop();
      await stopDynamo?.();
      rmSync(dir, { recursive: true, force: true });
    });

    it('the same member files start both: pgwarden names the Patroni keys it does not act on', async () => {
      expect(readFileSync(pgwarden[0]!.configPath, 'utf8')).toContain('etcd3:');
      const log = processes.find((p) => p.output().includes('config keys accepted but not acted on'));
      expect(log?.output()).toMatch(/config keys accepted but not acted on: [^"]*etcd3/);
    });

    it.each(['primary', 'replica'] as const)(
      'answers every path and method as Patroni does, as the %s',
      async (r) => {
        const differences: string[] = [];
        for (const method of METHODS)
          for (const path of PATHS) {
            const [p, w] = [
              await ask(role(patroni, r).apiPort, method, path),
              await ask(role(pgwarden, r).apiPort, method, path),
            ];
            if (p.status !== w.status && !INTENDED[path])
              differences.push(`${method} ${path}: Patroni ${p.status}, pgwarden ${w.status}`);
            // Status-only answers (HEAD, OPTIONS, /liveness, /readiness) carry no body on either.
            if (method !== 'GET' || path.startsWith('/liveness') || path.startsWith('/readiness'))
              if ((p.text === '') !== (w.text === ''))
                differences.push(`${method} ${path}: body on one side only`);
          }
        expect(differences).toEqual([]);
      },
    );

    it.each(['primary', 'replica'] as const)(
      "/patroni of the %s: Patroni's keys with Patroni's types",
      async (r) => {
        const p = (await ask(role(patroni, r).apiPort, 'GET', '/patroni')).body as Record<string, unknown>;
        const w = (await ask(role(pgwarden, r).apiPort, 'GET', '/patroni')).body as Record<string, unknown>;
        // Patroni 3.0.2 says master; 4.x (and pgwarden) primary.
        expect(p.role).toBe(r === 'primary' ? 'master' : 'replica');
        expect(w.role).toBe(r);
        const dropVolatile = (keys: string[]) =>
          keys.filter(
            (k) => !PATRONI_EXTRA_KEYS.has(k.split(/[.:[]/)[0]!) && !PATRONI_4_KEYS.has(k.split(/[.:[]/)[0]!),
          );
        // patroni.name and patroni.product: 4.x adds name; product is pgwarden's.
        const wShape = dropVolatile(shape(w)).filter(
          (k) => !['patroni.name:string', 'patroni.product:string'].includes(k),
        );
        expect(wShape.sort()).toEqual(dropVolatile(shape(p)).sort());
      },
    );

    it("/cluster: Patroni 4's member keys (3.0.2's, plus the LSNs 4.x added)", async () => {
      const p = (await ask(patroni[0]!.apiPort, 'GET', '/cluster')).body as {
        members: Record<string, unknown>[];
      };
      const w = (await ask(pgwarden[0]!.apiPort, 'GET', '/cluster')).body as {
        members: Record<string, unknown>[];
      };
      expect(shape(w.members[0]).sort()).toEqual(shape(p.members[0]).sort());
      const added = [
        'receive_lsn:string',
        'receive_lag:number',
        'replay_lsn:string',
        'replay_lag:number',
        'lsn:string',
      ];
      expect(shape(w.members[1]).sort()).toEqual([...shape(p.members[1]), ...added].sort());
      // 3.0.2 says running for a replica; 4.x the replication state.
      expect(p.members[1]!.state).toBe('running');
      expect(w.members[1]!.state).toBe('streaming');
    });

    it('/config and /history carry the dynamic configuration and the changes of primary as Patroni has them', async () => {
      const p = (await ask(patroni[0]!.apiPort, 'GET', '/config')).body as Record<string, unknown>;
      const w = (await ask(pgwarden[0]!.apiPort, 'GET', '/config')).body as Record<string, unknown>;
      expect(w).toMatchObject({
        ttl: p.ttl,
        loop_wait: p.loop_wait,
        maximum_lag_on_failover: p.maximum_lag_on_failover,
      });
      expect((w.postgresql as Record<string, unknown>).pg_hba).toEqual(
        (p.postgresql as Record<string, unknown>).pg_hba,
      );
      expect((await ask(pgwarden[0]!.apiPort, 'GET', '/history')).body).toEqual(
        (await ask(patroni[0]!.apiPort, 'GET', '/history')).body,
      );
    });

    it("list -f json: patronictl 4's keys (3.0.2's Lag in MB became Receive/Replay LSN and Lag), the same roles, states, timelines", async () => {
      const p = JSON.parse(
        spawnSync('patronictl', ['-c', patroni[0]!.configPath, 'list', '-f', 'json'], { encoding: 'utf8' })
          .stdout,
      ) as Record<string, unknown>[];
      const run = await runCli([
        'list',
        'diff',
        '-f',
        'json',
        '--table',
        'pgwarden-diff',
        '--endpoint',
        dynamoEndpoint,
      ]);
      expect(run.stderr).toBe('');
      const w = JSON.parse(run.stdout) as Record<string, unknown>[];
      const lsnKeys = ['Receive LSN', 'Receive Lag', 'Replay LSN', 'Replay Lag'];
      for (const i of [0, 1]) {
        const patroniKeys = Object.keys(p[i]!).filter((k) => k !== 'Lag in MB');
        expect(Object.keys(w[i]!).filter((k) => !lsnKeys.includes(k))).toEqual(patroniKeys);
        expect(w[i]).toMatchObject({ Role: p[i]!.Role, TL: p[i]!.TL, Cluster: 'diff' });
      }
      expect(Object.keys(w[1]!)).toEqual(expect.arrayContaining(lsnKeys));
      expect([p[0]!.State, w[0]!.State]).toEqual(['running', 'running']);
      // 3.0.2 says running for a streaming replica; 4.x streaming.
      expect([p[1]!.State, w[1]!.State]).toEqual(['running', 'streaming']);
    });

    it('history -f json: the same rows (none yet: neither cluster has changed primary)', async () => {
      const p = spawnSync('patronictl', ['-c', patroni[0]!.configPath, 'history', '-f', 'json'], {
        encoding: 'utf8',
      });
      const w = await runCli([
        'history',
        'diff',
        '-f',
        'json',
        '--table',
        'pgwarden-diff',
        '--endpoint',
        dynamoEndpoint,
      ]);
      expect(w.stderr).toBe('');
      expect(JSON.parse(w.stdout)).toEqual(JSON.parse(p.stdout));
      // A Patroni member file read through PATRONICTL_CONFIG_FILE names the scope for the CLI.
      const viaFile = await runCli(
        ['list', '-f', 'json', '--table', 'pgwarden-diff', '--endpoint', dynamoEndpoint],
        {
          PATRONICTL_CONFIG_FILE: pgwarden[0]!.configPath,
        },
      );
      expect(JSON.parse(viaFile.stdout).map((r: { Member: string }) => r.Member)).toEqual(['wa', 'wb']);
    });

    it("/metrics: every Patroni metric under its name, with pgwarden's own under pgwarden_", async () => {
      const names = (text: string) =>
        new Set(
          [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!).filter((n) => n.startsWith('patroni_')),
        );
      for (const r of ['primary', 'replica'] as const) {
        const p = names((await ask(role(patroni, r).apiPort, 'GET', '/metrics')).text);
        const w = names((await ask(role(pgwarden, r).apiPort, 'GET', '/metrics')).text);
        // patroni_master: 3.0.2's old name of patroni_primary, dropped in 4.
        const missing = [...p].filter((n) => !w.has(n) && n !== 'patroni_master');
        expect(missing, r).toEqual([]);
        const wText = (await ask(role(pgwarden, r).apiPort, 'GET', '/metrics')).text;
        expect(wText).toContain(`patroni_${r}{scope="diff",name="${role(pgwarden, r).name}"} 1`);
      }
    });
  },
);
