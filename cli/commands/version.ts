import type { Command } from 'commander';
import { AGENT_VERSION } from '../../agent/version.ts';
import type { CliContext } from '../cli-context.ts';
import { CliError, EXIT } from '../exit-codes.ts';

/**
 * `pgwarden version [cluster [member...]]`, as patronictl's: the CLI's version, then each
 * member's agent and PostgreSQL versions from its heartbeat.
 */
export function registerVersion(program: Command, context: () => CliContext): void {
  program
    .command('version')
    .description("the CLI's version and, for a cluster, each member's agent and PostgreSQL versions")
    .argument('[cluster]', 'cluster name')
    .argument('[members...]', 'only these members')
    .action(async (clusterArg: string | undefined, members: string[]) => {
      const ctx = context();
      const lines = [`pgwarden version ${AGENT_VERSION}`];
      const versions: Record<string, { agent: string; postgres?: string }> = {};
      if (clusterArg !== undefined) {
        const cluster = ctx.cluster(clusterArg);
        const snapshot = await ctx.store.getSnapshot(cluster);
        const unknown = members.filter((n) => !snapshot.members.some((m) => m.name === n));
        if (unknown.length > 0)
          throw new CliError(
            `${unknown.join(', ')}: not a member of ${cluster} (members: ${snapshot.members.map((m) => m.name).join(', ')})`,
            EXIT.usage,
          );
        lines.push('');
        for (const m of snapshot.members) {
          if (members.length > 0 && !members.includes(m.name)) continue;
          versions[m.name] = m.versions;
          lines.push(
            `${m.name}: pgwarden ${m.versions.agent}${m.versions.postgres ? ` PostgreSQL ${m.versions.postgres}` : ''}`,
          );
        }
      }
      if (ctx.json) {
        ctx.out(JSON.stringify({ cli: AGENT_VERSION, members: versions }));
        return;
      }
      ctx.out(lines.join('\n'));
    });
}
