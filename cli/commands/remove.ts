import type { Command } from 'commander';
import type { CliContext } from '../cli-context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { heartbeatAges } from './heartbeat-watch.ts';

/** `pgwarden remove CLUSTER`: deletes every item of the cluster from the table (not the hosts). */
export function registerRemove(program: Command, context: () => CliContext): void {
  program
    .command('remove')
    .description("delete a cluster's items from the table (its hosts keep their data)")
    .argument('<cluster>', 'cluster name')
    .option('--confirm <cluster>', 'the cluster name again, instead of typing it')
    .action(async (clusterArg: string, opts: { confirm?: string }) => {
      const ctx = context();
      const cluster = ctx.cluster(clusterArg);
      const typed =
        opts.confirm ?? (await ctx.ask(`Please confirm the cluster name to remove (${cluster}): `)).trim();
      if (typed !== cluster)
        throw new CliError(
          `confirmation ${JSON.stringify(typed)} does not match ${cluster}: nothing removed`,
          EXIT.refused,
        );
      const snapshot = await ctx.store.getSnapshot(cluster);
      const ages = heartbeatAges(snapshot);
      const running = snapshot.members.filter((m) => m.state === 'running' && !ages.get(m.name)?.stale);
      if (running.length > 0 && !opts.confirm) {
        ctx.out(
          `warning: ${running.map((m) => m.name).join(', ')} still heartbeat; their agents will recreate their items`,
        );
      }
      const count = await ctx.store.removeCluster(cluster);
      ctx.out(
        ctx.json ? JSON.stringify({ removed: cluster, items: count }) : `Removed ${cluster} (${count} items)`,
      );
    });
  program
    .command('clusters')
    .description('the clusters registered in the table')
    .action(async () => {
      const ctx = context();
      const clusters = await ctx.store.listClusters();
      ctx.out(ctx.json ? JSON.stringify(clusters) : clusters.join('\n') || '(none)');
    });
}
