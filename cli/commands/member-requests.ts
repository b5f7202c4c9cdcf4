import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import type { Member } from '../../core/model/items.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';
import type { CliContext } from '../cli-context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { parseScheduled, submitIntent } from './switchover.ts';

const ROLES = ['leader', 'primary', 'replica', 'standby', 'any'] as const;

interface MemberRequestOptions {
  readonly role?: string;
  readonly any?: boolean;
  readonly pending?: boolean;
  readonly pgVersion?: string;
  readonly scheduled?: string;
  readonly force?: boolean;
  readonly timeout?: string;
  readonly waitTimeout: string;
}

/** PostgreSQL versions compared as patronictl --pg-version does: "15.4" < "15.10" < "16". */
function versionBelow(version: string | undefined, bound: string): boolean {
  if (!version) return false;
  const parts = (v: string) => (/^\d+(\.\d+)*/.exec(v)?.[0] ?? '').split('.').map(Number);
  const [a, b] = [parts(version), parts(bound)];
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    const [x, y] = [a[i] ?? 0, b[i] ?? 0];
    if (x !== y) return x < y;
  }
  return false;
}

/** The members a request goes to: named ones (or all), filtered as patronictl filters them. */
export function selectMembers(
  snapshot: ClusterSnapshot,
  names: readonly string[],
  opts: Pick<MemberRequestOptions, 'role' | 'any' | 'pending' | 'pgVersion'>,
  random: () => number = Math.random,
): Member[] {
  if (opts.role !== undefined && !(ROLES as readonly string[]).includes(opts.role))
    throw new CliError(
      `--role: got ${JSON.stringify(opts.role)}, expected one of ${ROLES.join(', ')}`,
      EXIT.usage,
    );
  const unknown = names.filter((n) => !snapshot.members.some((m) => m.name === n));
  if (unknown.length > 0)
    throw new CliError(
      `${unknown.join(', ')}: not a member of ${snapshot.cluster} (members: ${snapshot.members.map((m) => m.name).join(', ')})`,
      EXIT.usage,
    );
  const leader = snapshot.leader && !snapshot.leader.released ? snapshot.leader.holder : undefined;
  let chosen = snapshot.members.filter((m) => names.length === 0 || names.includes(m.name));
  if (opts.role === 'leader' || opts.role === 'primary') chosen = chosen.filter((m) => m.name === leader);
  if (opts.role === 'replica' || opts.role === 'standby') chosen = chosen.filter((m) => m.name !== leader);
  if (opts.pending) chosen = chosen.filter((m) => m.pending_restart);
  if (opts.pgVersion !== undefined) {
    if (!/^\d+(\.\d+)*$/.test(opts.pgVersion))
      throw new CliError(
        `--pg-version: got ${JSON.stringify(opts.pgVersion)}, expected a version like 15 or 15.4`,
        EXIT.usage,
      );
    chosen = chosen.filter((m) => versionBelow(m.versions.postgres, opts.pgVersion!));
  }
  if (opts.any && chosen.length > 1) chosen = [chosen[Math.floor(random() * chosen.length)]!];
  return chosen;
}

/**
 * `restart`, `reinit` and `reload` of one or several members (patronictl's): the members named,
 * or all, filtered by --role, --pending, --pg-version, --any; the controller carries each to the
 * member's agent, one member at a time (the next once the previous is done).
 */
export function registerMemberRequests(program: Command, context: () => CliContext): void {
  const describe = {
    restart: 'restart PostgreSQL on members, in their role',
    reinit: 'rebuild replicas from the leader with pg_basebackup',
    reload: 'reload the PostgreSQL configuration on members',
  } as const;
  for (const kind of ['restart', 'reinit', 'reload'] as const) {
    const command = program
      .command(kind)
      .description(describe[kind])
      .argument('<cluster>', 'cluster name')
      .argument('[members...]', 'the members (default: every member, after the filters)')
      .option('-r, --role <role>', `only members in this role: ${ROLES.join(' | ')}`)
      .option('--force', 'do not ask for confirmation')
      .option('--wait-timeout <seconds>', 'how long to wait for each outcome', '300');
    if (kind === 'restart')
      command
        .option('--any', 'only one member of the selection, picked at random')
        .option('-p, --pending', 'only members whose PostgreSQL waits for a restart')
        .option('--pg-version <version>', 'only members running an older PostgreSQL than this')
        .option('--scheduled <time>', 'ISO 8601 time to restart at (one member), or now')
        .option('--timeout <seconds>', "patronictl's restart timeout: how long to wait for each restart");
    if (kind === 'reinit')
      command
        .option('--wait', 'wait for each rebuild to finish (pgwarden always does: one member at a time)')
        .option(
          '--from-leader',
          "accepted for patronictl's sake and not acted on: the rebuild uses create_replica_methods (pg_basebackup by default) and streams from the leader",
        );
    command.action(async (clusterArg: string, names: string[], opts: MemberRequestOptions) => {
      const ctx = context();
      const cluster = ctx.cluster(clusterArg);
      const snapshot = await ctx.store.getSnapshot(cluster);
      const members = selectMembers(snapshot, names, opts);
      if (members.length === 0) {
        ctx.out(`No member of ${cluster} matches: nothing to ${kind}`);
        return;
      }
      const now = Date.now();
      const scheduledAt = parseScheduled(opts.scheduled, now);
      if (scheduledAt && members.length > 1)
        throw new CliError(
          `--scheduled: one request waits at a time; name one member (selected: ${members.map((m) => m.name).join(', ')})`,
          EXIT.usage,
        );
      const list = members.map((m) => m.name).join(', ');
      if (!opts.force) {
        if (!ctx.interactive)
          throw new CliError(`${kind} of ${list}: add --force to confirm when not on a terminal`, EXIT.usage);
        if (!(await ctx.confirm(`${kind} ${list} of ${cluster}?`)))
          throw new CliError('aborted', EXIT.refused);
      }
      const waitMs = Number(opts.timeout ?? opts.waitTimeout) * 1000;
      if (!(waitMs > 0))
        throw new CliError(
          `--timeout: got ${JSON.stringify(opts.timeout ?? opts.waitTimeout)}, expected seconds > 0`,
          EXIT.usage,
        );
      for (const m of members) {
        await submitIntent(
          ctx,
          cluster,
          {
            id: randomUUID(),
            kind,
            to: m.name,
            ...(scheduledAt ? { scheduled_at: scheduledAt } : {}),
            requested_by: ctx.user,
            requested_at: Date.now(),
          },
          waitMs,
          kind[0]!.toUpperCase() + kind.slice(1),
        );
      }
    });
  }
}
