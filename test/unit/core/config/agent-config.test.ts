import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../../../core/config/agent-config.ts';
import { ConfigValidationError } from '../../../../core/errors.ts';

const minimal = {
  scope: 'demo',
  name: 'node1',
  restapi: { listen: '127.0.0.1:8008' },
  postgresql: { listen: '127.0.0.1:5432', data_dir: '/var/lib/pgwarden/node1' },
  dynamodb: { table: 'pgwarden' },
};

describe('the agent config', () => {
  it('fills Patroni-like defaults', () => {
    const config = parseAgentConfig(minimal);
    expect(config.tags).toMatchObject({
      nofailover: false,
      failover_priority: 1,
      noloadbalance: false,
      nosync: false,
    });
    expect(config.postgresql.authentication.replication.username).toBe('replicator');
    expect(config.postgresql.run_as).toBe('postgres');
    expect(config.dynamodb.region).toBe('us-east-1');
  });

  it.each([
    ['restapi.listen', { ...minimal, restapi: { listen: '8008' } }, 'host:port'],
    [
      'postgresql.data_dir',
      { ...minimal, postgresql: { ...minimal.postgresql, data_dir: 'relative' } },
      'absolute',
    ],
    ['name', { ...minimal, name: 'no spaces please' }, 'letters, digits'],
    ['dynamodb.endpoint', { ...minimal, dynamodb: { table: 'pgwarden', endpoint: 'not a url' } }, 'URL'],
    ['tags.failover_priority', { ...minimal, tags: { failover_priority: -1 } }, '>= 0'],
    ['etcd', { ...minimal, etcd: { hosts: 'x' } }, 'no such key'],
  ])('rejects a bad %s with a clear expectation', (key, input, expected) => {
    try {
      parseAgentConfig(input);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigValidationError);
      const issue = (error as ConfigValidationError).issues.find((i) => i.key === key);
      expect(issue?.expected).toContain(expected);
    }
  });
});
