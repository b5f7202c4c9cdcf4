import { describe, expect, it } from 'vitest';
import { splitCommandLine } from '../../../../agent/command-line.ts';
import {
  EC2_HOST_LAYOUT,
  hostSecurityConfig,
  renderPostBootstrap,
} from '../../../../agent/host/host-layout.ts';
import { agentPaths } from '../../../../agent/paths.ts';
import { clientSsl, conninfo, serverConninfo } from '../../../../agent/postgres/conninfo.ts';
import { renderHba, renderManagedConf } from '../../../../agent/postgres/pg-conf.ts';
import { type AgentConfigInput, parseAgentConfig } from '../../../../core/config/agent-config.ts';
import { parseClusterConfig } from '../../../../core/config/cluster-config.ts';
import { ConfigValidationError } from '../../../../core/errors.ts';

const base: AgentConfigInput = {
  scope: 'c',
  name: 'n1',
  restapi: { listen: '127.0.0.1:8008' },
  postgresql: { listen: '127.0.0.1:5432', data_dir: '/d' },
  dynamodb: { table: 'pgwarden' },
};

function config(postgresql: Partial<AgentConfigInput['postgresql']> = {}) {
  return parseAgentConfig({ ...base, postgresql: { ...base.postgresql, ...postgresql } });
}

describe('pg_hba.conf', () => {
  it('without TLS or a rewind role: password logins over the network for every role', () => {
    const hba = renderHba(config({ authentication: { superuser: { password: 'x' } } }));
    expect(hba).toMatch(/^host\s+all\s+all\s+0\.0\.0\.0\/0\s+scram-sha-256$/m);
    expect(hba).not.toMatch(/hostssl|reject/);
  });

  it('with ssl on: network logins only over TLS; with a rewind role: the superuser never over the network', () => {
    const security = hostSecurityConfig(EC2_HOST_LAYOUT);
    const hba = renderHba(
      config({
        parameters: security.parameters,
        authentication: { superuser: { password: 'x' }, ...security.authentication },
      }),
    );
    const lines = hba.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines[0]).toMatch(/^local\s+all\s+all\s+trust$/);
    // First match wins: the superuser's reject comes before any line that would let it in.
    const reject = lines.findIndex((l) => /^host\s+all\s+postgres\s+0\.0\.0\.0\/0\s+reject$/.test(l));
    const firstNetwork = lines.findIndex((l) => /^hostssl/.test(l));
    expect(reject).toBeGreaterThan(0);
    expect(reject).toBeLessThan(firstNetwork);
    expect(lines.filter((l) => /^host\s/.test(l)).every((l) => l.endsWith('reject'))).toBe(true);
    expect(lines.some((l) => /^hostssl\s+replication\s+replicator/.test(l))).toBe(true);
  });
});

describe('connection strings', () => {
  it('quote values libpq would split', () => {
    expect(conninfo({ host: 'h', passfile: "/a b/it's", empty: '', none: undefined })).toBe(
      "host=h passfile='/a b/it\\'s'",
    );
  });

  it('carry the role and its TLS settings; prefer when none is set', () => {
    const c = config({
      authentication: { replication: { username: 'r', sslmode: 'verify-full', sslrootcert: '/ca.crt' } },
    });
    expect(serverConninfo({ host: '10.0.0.2', port: 5432 }, c.postgresql.authentication.replication)).toBe(
      'host=10.0.0.2 port=5432 user=r sslmode=verify-full sslrootcert=/ca.crt',
    );
    expect(serverConninfo({ host: 'h', port: 1 }, c.postgresql.authentication.superuser)).toBe(
      'host=h port=1 user=postgres sslmode=prefer',
    );
  });

  it("node-postgres TLS follows libpq's sslmode", () => {
    expect(clientSsl({ username: 'u' })).toBe(false);
    expect(clientSsl({ username: 'u', sslmode: 'require' })).toEqual({ rejectUnauthorized: false });
    expect(clientSsl({ username: 'u', sslmode: 'verify-full' })).toEqual({ rejectUnauthorized: true });
    const ca = clientSsl({ username: 'u', sslmode: 'verify-ca' });
    expect(ca && ca.rejectUnauthorized).toBe(true);
    expect(ca && typeof ca.checkServerIdentity).toBe('function');
    expect(() =>
      clientSsl({ username: 'u', sslmode: 'verify-full', sslrootcert: '/nonexistent/ca.crt' }),
    ).toThrow(/nonexistent/);
  });
});

describe('the config keys', () => {
  it('a bad sslmode or a relative certificate path is an error naming the key', () => {
    try {
      config({ authentication: { replication: { sslmode: 'verify' as 'require', sslrootcert: 'ca.crt' } } });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigValidationError);
      const message = (error as Error).message;
      expect(message).toContain('postgresql.authentication.replication.sslmode');
      expect(message).toContain('verify-full');
      expect(message).toContain('postgresql.authentication.replication.sslrootcert');
      expect(message).toContain('an absolute file path');
    }
  });

  it('the rewind role needs a name', () => {
    expect(() => config({ authentication: { rewind: { password: 'x' } as never } })).toThrow(
      /postgresql\.authentication\.rewind\.username/,
    );
  });
});

describe('post_bootstrap', () => {
  it('splits its command as a shell would and refuses operators', () => {
    expect(splitCommandLine(`/usr/bin/script --name 'a b' "c d" $HOME`, 'k')).toEqual([
      '/usr/bin/script',
      '--name',
      'a b',
      'c d',
      '$HOME',
    ]);
    expect(() => splitCommandLine('a | b', 'bootstrap.post_bootstrap')).toThrow(
      /bootstrap\.post_bootstrap: 'a \| b' uses the shell operator '\|'/,
    );
    expect(() => splitCommandLine('   ', 'k')).toThrow(/k: expected a command/);
  });

  it("the hosts' script creates the application role from agent.env and stops on any error", () => {
    const script = renderPostBootstrap(EC2_HOST_LAYOUT);
    expect(script).toContain('ON_ERROR_STOP=1');
    expect(script).toContain('agent.env sets no PGWARDEN_APP_PASSWORD');
    expect(script).toContain('LOGIN CREATEDB CREATEROLE');
    expect(script).toContain('/usr/bin/psql "$1"');
  });
});

describe("a replica's settings", () => {
  it('never below what its control file says the primary ran with (as Patroni starts replicas)', () => {
    const text = renderManagedConf(
      config({ parameters: { max_connections: 30, max_wal_senders: 20 } }),
      parseClusterConfig({}),
      agentPaths(config()),
      {
        upstream: { host: '10.0.0.1', port: 5432 },
        syncStandbys: [],
        hotStandbyFloor: { max_connections: 100, max_wal_senders: 10, max_locks_per_transaction: 64 },
      },
    );
    expect(text).toMatch(/^max_connections = 100$/m);
    expect(text).toMatch(/^max_wal_senders = 20$/m);
    expect(text).toMatch(/^max_locks_per_transaction = 64$/m);
  });
});
