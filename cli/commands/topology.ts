import type { Command } from 'commander';
import type { CliContext } from '../cli-context.ts';
import { HeartbeatWatch } from './heartbeat-watch.ts';
import { renderList } from './list.ts';
import { memberRows } from './member-rows.ts';

/**
 * `pgwarden topology`, as patronictl prints it: the list table with the leader first and each
 * member under its upstream, indented with `+ `.
 */
export function registerTopology(program: Command, context: () => CliContext): void {
  program
    .command('topology')
    .description('the members as a replication tree: who streams from whom (patronictl topology)')
    .argument('[cluster]', 'cluster name')
    .option('-e, --extended', 'also the pending restart, scheduled restart and tags columns')
    .action(async (clusterArg: string | undefined, opts: { extended?: boolean }) => {
      const ctx = context();
      const snapshot = await ctx.store.getSnapshot(ctx.cluster(clusterArg));
      if (ctx.json) {
        ctx.out(
          JSON.stringify(
            memberRows(snapshot).map((r) => ({
              member: r.Member,
              role: r.Role,
              state: r.State,
              upstream: r.upstream,
            })),
          ),
        );
        return;
      }
      const watch = new HeartbeatWatch();
      ctx.out(renderList(snapshot, 'pretty', ctx.color, watch.look(snapshot), opts.extended ?? false, true));
    });
}
