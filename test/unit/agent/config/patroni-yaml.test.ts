import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../../../agent/config/load-agent-config.ts';
import { ConfigValidationError } from '../../../../core/errors.ts';

const FIXTURE = new URL('../../../fixtures/patroni/member.yml', import.meta.url).pathname;
const tmp = mkdtempSync('/tmp/pgwarden-patroni-yaml-');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(tmp, name);
  writeFileSync(path, text);
  return path;
}

async function failure(
  path: string,
  env: NodeJS.ProcessEnv = { PGWARDEN_TABLE: 'pgwarden' },
): Promise<string> {
  try {
    await loadAgentConfig(path, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigValidationError);
    return (error as Error).message;
  }
  throw new Error('expected the config to be refused');
}

describe('an unmodified patroni.yml', () => {
  it('starts an agent once a table is known, every Patroni spelling translated', async () => {
    const config = await loadAgentConfig(FIXTURE, { PGWARDEN_TABLE: 'pgwarden', AWS_REGION: 'eu-west-1' });
    expect(config).toMatchObject({
      scope: 'orders',
      name: 'db1',
      log: { level: 'info' },
      dynamodb: { table: 'pgwarden', region: 'eu-west-1' },
      postgresql: {
        listen: '127.0.0.1,10.0.1.11:5432',
        data_dir: join(new URL('../../../fixtures/patroni/', import.meta.url).pathname, 'data/db1'),
        pgpass: '/tmp/pgpass-db1',
        start_timeout: 90,
        parameters: { restore_command: 'cp /archive/%f %p', max_connections: 200 },
        authentication: {
          replication: {
            username: 'replicator',
            sslmode: 'verify-ca',
            sslrootcert: '/etc/ssl/certs/orders-ca.pem',
          },
          rewind: { username: 'rewind_user', password: 'rewind-pass' },
        },
      },
      bootstrap: {
        dcs: {
          ttl: 30,
          loop_wait: 10,
          synchronous_mode: true,
          primary_start_timeout: 300,
          postgresql: { pg_hba: expect.arrayContaining([expect.stringMatching(/^hostssl replication/)]) },
        },
      },
      tags: { datacenter: 'eu-west-1a' },
    });
  });

  it('names each key it does not act on, and why, once', async () => {
    const { inactive_keys: inactive } = await loadAgentConfig(FIXTURE, { PGWARDEN_TABLE: 'pgwarden' });
    expect(Object.keys(inactive ?? {}).sort()).toEqual([
      'bootstrap.users',
      'ctl',
      'etcd3',
      'log.dir',
      'log.file_num',
      'namespace',
      'watchdog',
    ]);
    expect(inactive!.etcd3).toMatch(/DynamoDB/);
    expect(inactive!['bootstrap.users']).toMatch(/post_bootstrap/);
  });

  it('without a table: an error that says where pgwarden keeps the state instead of a DCS', async () => {
    const message = await failure(FIXTURE, {});
    expect(message).toContain('dynamodb');
    expect(message).toContain('PGWARDEN_TABLE');
    expect(message).toMatch(/instead of a DCS/);
  });

  it('a key neither product knows is an error naming it and the nearest known key', async () => {
    const path = file(
      'typo.yml',
      'scope: s\nname: n\nrestapi:\n  lisen: 127.0.0.1:8008\npostgresql:\n  listen: 127.0.0.1:5432\n  data_dir: /d\n  paramters: {}\nbootstrp: {}\n',
    );
    const message = await failure(path);
    expect(message).toContain('restapi.lisen');
    expect(message).toContain('did you mean restapi.listen?');
    expect(message).toContain('postgresql.paramters');
    expect(message).toContain('did you mean postgresql.parameters?');
    expect(message).toContain('did you mean bootstrap?');
  });

  it('PATRONI_* variables stand for the PGWARDEN_* ones (which win when both are set)', async () => {
    const config = await loadAgentConfig(FIXTURE, {
      PGWARDEN_TABLE: 'pgwarden',
      PATRONI_NAME: 'db7',
      PATRONI_REPLICATION_PASSWORD: 'from-patroni-env',
      PATRONI_SUPERUSER_SSLMODE: 'require',
      PATRONI_LOG_LEVEL: 'DEBUG',
      PATRONI_SCOPE: 'ignored',
      PGWARDEN_SCOPE: 'orders2',
    });
    expect(config.name).toBe('db7');
    expect(config.scope).toBe('orders2');
    expect(config.log.level).toBe('debug');
    expect(config.postgresql.authentication.replication.password).toBe('from-patroni-env');
    expect(config.postgresql.authentication.superuser.sslmode).toBe('require');
  });

  it("synchronous_mode in Patroni's spellings; quorum is taken as on, and said", async () => {
    for (const [written, expected] of [
      ['off', false],
      ['"true"', true],
      ['quorum', true],
    ] as const) {
      const path = file(
        `sync-${expected}.yml`,
        `scope: s\nname: n\nrestapi:\n  listen: 127.0.0.1:8008\npostgresql:\n  listen: 127.0.0.1:5432\n  data_dir: /d\nbootstrap:\n  dcs:\n    synchronous_mode: ${written}\n`,
      );
      const config = await loadAgentConfig(path, { PGWARDEN_TABLE: 'pgwarden' });
      expect(config.bootstrap.dcs?.synchronous_mode, written).toBe(expected);
      if (written === 'quorum')
        expect(config.inactive_keys?.['bootstrap.dcs.synchronous_mode']).toMatch(/quorum/);
    }
  });

  it("create_replica_methods and bootstrap.method: Patroni's sections beside the known keys", async () => {
    const path = file(
      'methods.yml',
      [
        'scope: s',
        'name: n',
        'restapi: { listen: 127.0.0.1:8008 }',
        'postgresql:',
        '  listen: 127.0.0.1:5432',
        '  data_dir: /d',
        '  create_replica_method: [pgbackrest, basebackup]',
        '  pgbackrest:',
        '    command: /usr/bin/pgbackrest --stanza=s --delta restore',
        '    keep_data: True',
        '    no_params: True',
        '  basebackup: { max-rate: 100M, checkpoint: fast, verbose: true }',
        'bootstrap:',
        '  method: restore',
        '  restore:',
        '    command: /usr/local/bin/restore --from s3',
        '    keep_existing_recovery_conf: true',
        '    target: latest',
        '',
      ].join('\n'),
    );
    const config = await loadAgentConfig(path, { PGWARDEN_TABLE: 'pgwarden' });
    expect(config.postgresql.create_replica_methods).toEqual(['pgbackrest', 'basebackup']);
    expect(config.postgresql.replica_method_sections).toEqual({
      pgbackrest: {
        command: '/usr/bin/pgbackrest --stanza=s --delta restore',
        keep_data: true,
        no_params: true,
      },
    });
    expect(config.postgresql.basebackup).toEqual([{ 'max-rate': '100M' }, { checkpoint: 'fast' }, 'verbose']);
    expect(config.bootstrap).toMatchObject({
      method: 'restore',
      method_section: {
        command: '/usr/local/bin/restore --from s3',
        keep_existing_recovery_conf: true,
        target: 'latest',
      },
    });
    expect(config.inactive_keys).toEqual({});
  });

  it('a bad method section is an error naming the key; a method without a section runs its name', async () => {
    const path = file(
      'bad-methods.yml',
      [
        'scope: s',
        'name: n',
        'restapi: { listen: 127.0.0.1:8008 }',
        'postgresql:',
        '  listen: 127.0.0.1:5432',
        '  data_dir: /d',
        '  create_replica_methods: [wal_e, pgbackrest, basebackup]',
        '  pgbackrest:',
        '    keep_data: maybe',
        '    options: { nested: 1 }',
        'bootstrap:',
        '  method: restore',
        '',
      ].join('\n'),
    );
    const message = await failure(path);
    expect(message).toContain('postgresql.pgbackrest.keep_data');
    expect(message).toContain('true or false');
    expect(message).toContain('postgresql.pgbackrest.options');
    expect(message).toContain('bootstrap.restore');
    expect(message).toContain('a section with a command (bootstrap.method names restore)');
    expect(message).not.toContain('wal_e');
    const noCommand = file(
      'no-command.yml',
      'scope: s\nname: n\nrestapi: { listen: 127.0.0.1:8008 }\npostgresql: { listen: 127.0.0.1:5432, data_dir: /d }\nbootstrap:\n  method: restore\n  restore: { keep_existing_recovery_conf: true }\n',
    );
    expect(await failure(noCommand)).toContain('bootstrap.restore.command');
  });
});
