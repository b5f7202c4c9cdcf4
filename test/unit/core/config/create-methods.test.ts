import { describe, expect, it } from 'vitest';
import {
  bootstrapMethodArgs,
  type ReplicaMethod,
  replicaMethodArgs,
  replicaMethodsToTry,
} from '../../../../core/config/create-methods.ts';

const context = {
  scope: 'orders',
  dataDir: '/var/lib/postgresql/15/main',
  connstring: 'host=10.0.0.1 port=5432 user=replicator',
};

describe("Patroni's create_replica_methods contract", () => {
  it('passes the section keys, then --scope --role --datadir --connstring (booleans as Python writes them)', () => {
    const method: ReplicaMethod = { command: 'restore', keep_data: true, threads: 4, from: 'repo2' };
    expect(replicaMethodArgs(method, context)).toEqual([
      '--keep_data=True',
      '--threads=4',
      '--from=repo2',
      '--scope=orders',
      '--role=replica',
      '--datadir=/var/lib/postgresql/15/main',
      '--connstring=host=10.0.0.1 port=5432 user=replicator',
    ]);
  });

  it('no_params: only the section keys, without no_params, no_leader and keep_data', () => {
    expect(
      replicaMethodArgs({ no_params: true, no_leader: true, keep_data: false, threads: 2 }, context),
    ).toEqual(['--threads=2']);
  });

  it('tries the methods in order; basebackup by default; only basebackup from the leader', () => {
    const sections = { pgbackrest: {}, backup: { no_leader: true } };
    expect(replicaMethodsToTry(undefined, sections, { hasSource: true })).toEqual(['basebackup']);
    expect(replicaMethodsToTry(['pgbackrest', 'basebackup'], sections, { hasSource: true })).toEqual([
      'pgbackrest',
      'basebackup',
    ]);
    expect(
      replicaMethodsToTry(['pgbackrest', 'basebackup'], sections, { hasSource: true, fromLeader: true }),
    ).toEqual(['basebackup']);
  });

  it('with no server to connect to, only the no_leader methods', () => {
    const sections = { pgbackrest: {}, backup: { no_leader: true } };
    expect(
      replicaMethodsToTry(['pgbackrest', 'backup', 'basebackup'], sections, { hasSource: false }),
    ).toEqual(['backup']);
    expect(replicaMethodsToTry(undefined, sections, { hasSource: false })).toEqual([]);
  });
});

describe("Patroni's bootstrap.method contract", () => {
  it('--scope and --datadir, then the other keys; none of the reserved ones', () => {
    expect(
      bootstrapMethodArgs(
        {
          command: 'restore',
          keep_existing_recovery_conf: true,
          recovery_conf: { restore_command: 'x' },
          target: 'latest',
          scope: 'other',
        },
        context,
      ),
    ).toEqual(['--scope=orders', '--datadir=/var/lib/postgresql/15/main', '--target=latest']);
    expect(bootstrapMethodArgs({ command: 'restore', no_params: true, verify: false }, context)).toEqual([
      '--verify=False',
    ]);
  });
});
