import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import type { CliContext } from '../cli-context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { submitIntent } from './switchover.ts';

/** `restart MEMBER` and `reinit MEMBER`: requests the controller carries to the member's agent. */
export function registerMemberRequests(program: Command, context: () => CliContext): void {
  for (const kind of ['restart', 'reinit'] as const) {
    program
      .command(kind)
      .description(
        kind === 'restart'
          ? 'restart PostgreSQL on a member, in its role'
          : 'rebuild a replica from the leader with pg_basebackup',
      )
      .argument('<cluster>', 'cluster name')
      .argument('<member>', 'the member')
      .option('--force', 'do not ask for confirmation')
      .option('--wait-timeout <seconds>', 'how long to wait for the outcome', '300')
      .action(async (clusterArg: string, member: string, opts: { force?: boolean; waitTimeout: string }) => {
        const ctx = context();
        const cluster = ctx.cluster(clusterArg);
        const snapshot = await ctx.store.getSnapshot(cluster);
        if (!snapshot.members.some((m) => m.name === member)) {
          throw new CliError(
            `${member} is not a member of ${cluster} (members: ${snapshot.members.map((m) => m.name).join(', ')})`,
            EXIT.usage,
          );
        }
        if (!opts.force) {
          if (!ctx.interactive)
            throw new CliError(
              `${kind} of ${member}: add --force to confirm when not on a terminal`,
              EXIT.usage,
            );
          if (!(await ctx.confirm(`${kind} ${member} of ${cluster}?`)))
            throw new CliError('aborted', EXIT.refused);
        }
        await submitIntent(
          ctx,
          cluster,
          { id: randomUUID(), kind, to: member, requested_by: ctx.user, requested_at: Date.now() },
          Number(opts.waitTimeout) * 1000,
          kind[0]!.toUpperCase() + kind.slice(1),
        );
      });
  }
}
