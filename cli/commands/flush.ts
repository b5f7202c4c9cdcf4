import type { Command } from 'commander';
import type { CliContext } from '../cli-context.ts';
import { CliError, EXIT } from '../exit-codes.ts';

const KINDS = ['restart', 'switchover', 'failover', 'reinit'] as const;

/**
 * `pgwarden flush CLUSTER restart|switchover` (patronictl's): cancels a request that is waiting
 * (scheduled, or not yet picked up by the controller). One already under way is not cancelled:
 * the operation runs to its end (docs/safety.md), and flush says so.
 */
export function registerFlush(program: Command, context: () => CliContext): void {
  program
    .command('flush')
    .description('cancel a scheduled or waiting request: restart | switchover (also failover, reinit)')
    .argument('<cluster>', 'cluster name')
    .argument('<kind>', KINDS.join(' | '))
    .option('--force', 'do not ask for confirmation')
    .action(async (clusterArg: string, kind: string, opts: { force?: boolean }) => {
      if (!(KINDS as readonly string[]).includes(kind))
        throw new CliError(
          `kind: got ${JSON.stringify(kind)}, expected one of ${KINDS.join(', ')}`,
          EXIT.usage,
        );
      const ctx = context();
      const cluster = ctx.cluster(clusterArg);
      const snapshot = await ctx.store.getSnapshot(cluster);
      const intent = snapshot.intent;
      if (!intent || intent.outcome || intent.kind !== kind) {
        ctx.out(`No pending ${kind} of ${cluster}: nothing to cancel`);
        return;
      }
      const underWay =
        snapshot.op !== undefined && (intent.scheduled_at === undefined || intent.scheduled_at <= Date.now());
      if (underWay)
        throw new CliError(
          `the ${kind} ${intent.from ?? ''}${intent.to ? ` -> ${intent.to}` : ''} is already under way (step ${snapshot.op!.step}): it cannot be cancelled; it runs to its end`,
          EXIT.refused,
        );
      const what = `${kind}${intent.to ? ` -> ${intent.to}` : ''} requested by ${intent.requested_by}${
        intent.scheduled_at ? ` for ${new Date(intent.scheduled_at).toISOString()}` : ''
      }`;
      if (!opts.force) {
        if (!ctx.interactive)
          throw new CliError(`cancel the ${what}: add --force when not on a terminal`, EXIT.usage);
        if (!(await ctx.confirm(`Cancel the ${what}?`))) throw new CliError('aborted', EXIT.refused);
      }
      if (!(await ctx.store.deleteIntent(cluster, intent.id)))
        throw new CliError(
          `the ${kind} changed meanwhile (taken up or replaced): look again with pgwarden list`,
          EXIT.refused,
        );
      ctx.out(`Cancelled the ${what}`);
    });
}
