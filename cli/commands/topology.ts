import type { Command } from 'commander';
import type { CliContext } from '../cli-context.ts';
import { paint } from '../format/table.ts';
import { memberRows } from './member-rows.ts';

/** `pgwarden topology`: the members as a replication tree (leader, then who streams from whom). */
export function registerTopology(program: Command, context: () => CliContext): void {
  program
    .command('topology')
    .description('the replication tree: who streams from whom')
    .argument('[cluster]', 'cluster name')
    .action(async (clusterArg: string | undefined) => {
      const ctx = context();
      const snapshot = await ctx.store.getSnapshot(ctx.cluster(clusterArg));
      const rows = memberRows(snapshot);
      if (ctx.json) {
        ctx.out(
          JSON.stringify(
            rows.map((r) => ({ member: r.Member, role: r.Role, state: r.State, upstream: r.upstream })),
          ),
        );
        return;
      }
      const lines: string[] = [`Cluster: ${snapshot.cluster}`];
      const shown = new Set<string>();
      const walk = (name: string, depth: number) => {
        if (shown.has(name)) return;
        shown.add(name);
        const r = rows.find((x) => x.Member === name)!;
        const prefix = depth === 0 ? '' : `${'    '.repeat(depth - 1)}└── `;
        const role = r.Role === 'Leader' ? paint(ctx.color, r.Role, 'green') : r.Role;
        lines.push(
          `${prefix}${r.Member}  ${role}  ${r.State}  ${r.Host}${r['Replay Lag'] ? `  lag ${r['Replay Lag']} MB` : ''}`,
        );
        for (const child of rows.filter((x) => x.upstream === name && x.Role !== 'Leader'))
          walk(child.Member, depth + 1);
      };
      const leader = rows.find((r) => r.Role === 'Leader');
      if (leader) walk(leader.Member, 0);
      for (const r of rows) if (!shown.has(r.Member)) walk(r.Member, 0);
      ctx.out(lines.join('\n'));
    });
}
