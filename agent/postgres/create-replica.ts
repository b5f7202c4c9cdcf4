import { chmod, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { replicaMethodArgs, replicaMethodsToTry } from '../../core/config/create-methods.ts';
import type { Member } from '../../core/model/items.ts';
import { DATA_COMMAND_TIMEOUT_MS, runUserCommand } from '../command-line.ts';
import type { AgentRuntime } from '../runtime.ts';
import { serverConninfo } from './conninfo.ts';

/** Where a new replica's data comes from: a member's server, or (no_leader methods) none. */
export interface CloneSource {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** No method made the data: each one's failure, in order. */
export class CreateReplicaError extends Error {}

/**
 * Patroni's choice of a member to clone: a running replica tagged `clonefrom` (any but this
 * member and the leader, at random, spreading the load), else the leader.
 */
export function cloneMember<M extends Pick<Member, 'name' | 'role' | 'state' | 'tags'>>(
  members: readonly M[],
  self: string,
  leader: M | undefined,
): M | undefined {
  const candidates = members.filter(
    (m) =>
      m.tags.clonefrom && m.role === 'replica' && m.state === 'running' && m.name !== self && m !== leader,
  );
  return candidates.length > 0 ? candidates[Math.floor(Math.random() * candidates.length)] : leader;
}

/**
 * Makes this member's data as a replica with `postgresql.create_replica_methods` (Patroni's
 * contract): each method in order until one exits 0; the built-in `basebackup` runs pg_basebackup
 * from `source`; another method's command gets Patroni's arguments. The data directory is emptied
 * before a method (unless keep_data) and after a failed one, so the next starts from nothing.
 * Returns the method that made the data.
 */
export async function createReplica(rt: AgentRuntime, source: CloneSource | undefined): Promise<string> {
  const { postgresql } = rt.config;
  const sections = postgresql.replica_method_sections;
  const methods = replicaMethodsToTry(postgresql.create_replica_methods, sections, {
    hasSource: source !== undefined,
  });
  if (methods.length === 0) {
    throw new CreateReplicaError(
      'no running member to clone and no create_replica_methods entry with no_leader',
    );
  }
  const failures: string[] = [];
  for (const method of methods) {
    try {
      if (method === 'basebackup') {
        rt.logger.info('creating the replica with pg_basebackup', { source: source!.name });
        await rt.postgres.baseBackup(
          source!,
          postgresql.authentication.replication,
          DATA_COMMAND_TIMEOUT_MS,
          postgresql.basebackup,
        );
      } else {
        await runMethod(rt, method, source);
      }
      // Patroni's _post_restore: a restored promote trigger would promote the new replica.
      await rm(join(rt.paths.dataDir, 'promote'), { force: true });
      rt.logger.info('replica data created', { method, source: source?.name });
      return method;
    } catch (error) {
      const message = (error as Error).message;
      failures.push(`${method}: ${message}`);
      rt.logger.error('replica creation method failed; trying the next', { method, error: message });
      if (method === 'basebackup' || !sections[method]?.keep_data) await rt.postgres.wipeDataDir();
    }
  }
  throw new CreateReplicaError(`every create_replica_methods entry failed: ${failures.join('; ')}`);
}

async function runMethod(rt: AgentRuntime, method: string, source: CloneSource | undefined): Promise<void> {
  const section = rt.config.postgresql.replica_method_sections[method] ?? {};
  const command = section.command ?? method;
  if (!section.keep_data && !(await rt.postgres.isDataDirEmpty())) await rt.postgres.wipeDataDir();
  const connstring = source
    ? serverConninfo(source, rt.config.postgresql.authentication.replication, { passfile: rt.paths.pgpass })
    : '';
  const params = replicaMethodArgs(section, {
    scope: rt.config.scope,
    dataDir: rt.paths.dataDir,
    connstring,
  });
  rt.logger.info('creating the replica with a create_replica_methods command', { method, command });
  await runUserCommand(rt.user, {
    key: `postgresql.${method}.command`,
    command,
    args: params,
    env: { PGPASSFILE: rt.paths.pgpass },
    timeoutMs: DATA_COMMAND_TIMEOUT_MS,
  });
  await chmod(rt.paths.dataDir, 0o700);
}
