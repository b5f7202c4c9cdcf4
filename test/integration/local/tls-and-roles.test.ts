import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthority } from '../../../adapters/tls/certificates.ts';
import { AGENT_COMMAND } from '../../../core/actions/ssm-document.ts';
import { loopbackClient } from '../../../local/loopback-client.ts';
import { AgentCluster, TEST_PASSWORD } from '../../helpers/agent-cluster.ts';

/** Connects with these settings and returns the error message, or 'connected'. */
async function attempt(config: pg.ClientConfig): Promise<string> {
  const client = new pg.Client({
    host: '127.0.0.1',
    database: 'postgres',
    connectionTimeoutMillis: 3000,
    ...config,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return 'connected';
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

describe('TLS and roles on the local topology (as on EC2: the stack provisions a CA, hosts issue their certificate)', () => {
  let c: AgentCluster;
  let ca: string;
  const tmp = mkdtempSync('/tmp/pgwarden-tls-');

  beforeAll(async () => {
    c = await AgentCluster.create({ nodes: 2 });
    await c.startAll();
    ca = readFileSync(c.login.ca!, 'utf8');
  });
  afterAll(async () => {
    await c?.destroy();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('replication runs over TLS, verifying the primary against the CA and its address (verify-full)', async () => {
    const [conninfo] = await c.sql<{ v: string }>('node2', "SELECT current_setting('primary_conninfo') AS v");
    expect(conninfo!.v).toMatch(/sslmode=verify-full/);
    expect(conninfo!.v).toMatch(/sslrootcert=\S*ca\.crt/);
    const rows = await c.waitFor('node2 streaming from node1', 30_000, async () => {
      const found = await c.sql<{ application_name: string; ssl: boolean }>(
        'node1',
        "SELECT r.application_name, s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) WHERE r.state = 'streaming'",
      );
      return found.length > 0 ? found : undefined;
    });
    expect(rows).toEqual([{ application_name: 'node2', ssl: true }]);
  });

  it('the superuser has no network login, even with its password over TLS', async () => {
    const message = await attempt({
      port: c.node('node1').pgPort,
      user: 'postgres',
      password: TEST_PASSWORD,
      ssl: { ca },
    });
    expect(message).toMatch(/pg_hba\.conf rejects connection .*user "postgres"/);
  });

  it('plain text is refused; the application role over verified TLS gets in', async () => {
    const port = c.node('node1').pgPort;
    expect(await attempt({ port, user: 'admin', password: TEST_PASSWORD })).toMatch(/no encryption/);
    expect(await attempt({ port, user: 'admin', password: TEST_PASSWORD, ssl: { ca } })).toBe('connected');
    // Verification is real: another CA's certificate chain is refused by the client.
    const stranger = await createAuthority('someone else');
    expect(
      await attempt({ port, user: 'admin', password: TEST_PASSWORD, ssl: { ca: stranger.cert } }),
    ).toMatch(/self[- ]signed|unable to verify|certificate/i);
    const client = loopbackClient(port, c.login);
    await client.connect();
    try {
      const { rows } = await client.query(
        "SELECT rolcreatedb, rolcreaterole, rolsuper FROM pg_roles WHERE rolname = 'admin'",
      );
      expect(rows).toEqual([{ rolcreatedb: true, rolcreaterole: true, rolsuper: false }]);
      await client.query('CREATE TABLE app_owned (id int)');
    } finally {
      await client.end();
    }
  });

  it('the rewind role reads what pg_rewind reads and may CHECKPOINT, without being a superuser', async () => {
    const [role] = await c.sql<{ rolsuper: boolean; checkpoint: boolean; ls: boolean }>(
      'node1',
      `SELECT rolsuper, pg_has_role('rewind', 'pg_checkpoint', 'MEMBER') AS checkpoint,
              has_function_privilege('rewind', 'pg_catalog.pg_ls_dir(text, boolean, boolean)', 'EXECUTE') AS ls
         FROM pg_roles WHERE rolname = 'rewind'`,
    );
    expect(role).toEqual({ rolsuper: false, checkpoint: true, ls: true });
  });

  it("`pgwarden-agent issue-certificate` (the hosts' boot step) writes a verifiable certificate and a key only postgres reads", () => {
    const out = join(tmp, 'tls');
    const launcher = join(c.node('node1').dir, AGENT_COMMAND);
    const run = spawnSync(
      launcher,
      [
        'issue-certificate',
        '--authority',
        join(c.base, 'tls', 'authority.json'),
        '--out',
        out,
        '--name',
        'host9',
        '--ip',
        '10.0.3.9',
        '--dns',
        'ip-10-0-3-9.ec2.internal',
      ],
      { encoding: 'utf8', env: { PATH: process.env.PATH } },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const verify = spawnSync('openssl', ['verify', '-CAfile', join(out, 'ca.crt'), join(out, 'server.crt')], {
      encoding: 'utf8',
    });
    expect(verify.stdout).toContain(': OK');
    const san = spawnSync(
      'openssl',
      ['x509', '-in', join(out, 'server.crt'), '-noout', '-ext', 'subjectAltName'],
      {
        encoding: 'utf8',
      },
    );
    expect(san.stdout).toContain('IP Address:10.0.3.9');
    expect(san.stdout).toContain('DNS:ip-10-0-3-9.ec2.internal');
    const key = statSync(join(out, 'server.key'));
    expect(key.mode & 0o777).toBe(0o600);
    const postgresUid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    expect(key.uid).toBe(postgresUid);
  });

  it('a bad authority file is an error naming it, with exit code 2', () => {
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, JSON.stringify({ cert: 'nope' }));
    const run = spawnSync(
      join(c.node('node1').dir, AGENT_COMMAND),
      ['issue-certificate', '--authority', bad, '--out', join(tmp, 'x'), '--name', 'h', '--ip', '10.0.0.1'],
      { encoding: 'utf8', env: { PATH: process.env.PATH } },
    );
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(bad);
    expect(run.stderr).toContain('cert');
    expect(run.stderr).toContain('a PEM certificate');
    expect(run.stderr).toContain('key');
  });
});
