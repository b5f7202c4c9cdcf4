import type { Command } from 'commander';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';
import type { CliContext } from '../cli-context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { type Format, parseFormat, renderRows } from '../format/render-rows.ts';
import { paint, renderTable } from '../format/table.ts';
import { HeartbeatWatch } from './heartbeat-watch.ts';
import { clusterFacts, LIST_COLUMNS, type MemberRow, memberRows } from './member-rows.ts';

function tagText(tags: Record<string, unknown>): string {
  return Object.entries(tags)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
}

/** The footer lines under the table: pause, pending switchover, operation, a failover refused. */
export function clusterNotes(snapshot: ClusterSnapshot): string[] {
  const notes: string[] = [];
  const data = snapshot.config?.data as { pause?: boolean } | undefined;
  if (data?.pause) notes.push(' Maintenance mode: on');
  const intent = snapshot.intent;
  if (intent && !intent.outcome) {
    const when = intent.scheduled_at ? ` at ${new Date(intent.scheduled_at).toISOString()}` : '';
    notes.push(
      ` ${intent.kind === 'switchover' ? 'Switchover' : intent.kind[0]!.toUpperCase() + intent.kind.slice(1)} scheduled${when}: ${intent.from ?? 'leader'} -> ${intent.to ?? 'best candidate'}`,
    );
  }
  if (snapshot.op)
    notes.push(
      ` Operation in progress: ${snapshot.op.kind} ${snapshot.op.from} -> ${snapshot.op.to} (step ${snapshot.op.step})`,
    );
  if (!snapshot.leader || snapshot.leader.released) notes.push(' No leader: the lease is free');
  const refusal = snapshot.observer?.refusal;
  if (refusal)
    notes.push(` Failover refused since ${new Date(refusal.since).toISOString()}: ${refusal.message}`);
  return notes;
}

/**
 * `watched`: heartbeat ages from the CLI's own repeated reads (`-W`). JSON, YAML and TSV rows
 * carry the cluster's facts (pause, an operation, a refusal) as they carry `Cluster`.
 */
export function renderList(
  snapshot: ClusterSnapshot,
  format: Format,
  color: boolean,
  watched?: ReadonlyMap<string, number>,
): string {
  const rows = memberRows(snapshot, watched);
  if (format !== 'pretty') {
    const facts = clusterFacts(snapshot);
    return renderRows(
      format,
      [...LIST_COLUMNS, ...Object.keys(facts)],
      rows.map(({ upstream: _u, ...r }) => ({ ...r, ...facts })),
    );
  }
  const withTags = rows.some((r) => Object.keys(r.Tags).length > 0);
  const withPending = rows.some((r) => r['Pending restart']);
  const columns = [
    'Member',
    'Host',
    'Role',
    'State',
    'TL',
    'Lag in MB',
    ...(withPending ? ['Pending restart'] : []),
    ...(withTags ? ['Tags'] : []),
  ];
  const cells = (r: MemberRow) => [
    r.Member,
    r.Host,
    r.Role === 'Leader' ? paint(color, r.Role, 'green') : r.Role,
    /no heartbeat|crashed|fenced|stopped|malformed|without the lease/.test(r.State)
      ? paint(color, r.State, 'red')
      : r.State,
    r.TL === null ? '' : String(r.TL),
    r['Lag in MB'] === null ? '' : String(r['Lag in MB']),
    ...(withPending ? [r['Pending restart']] : []),
    ...(withTags ? [tagText(r.Tags)] : []),
  ];
  const sysid = snapshot.initialize?.system_identifier;
  const table = renderTable(
    `Cluster: ${snapshot.cluster}${sysid ? ` (${sysid})` : ''}`,
    columns,
    rows.map(cells),
    ['TL', 'Lag in MB'],
  );
  return [table, ...clusterNotes(snapshot)].join('\n');
}

export function registerList(program: Command, context: () => CliContext): void {
  program
    .command('list')
    .alias('ls')
    .description('members of a cluster: role, state, timeline, lag (patronictl list)')
    .argument('[cluster]', 'cluster name (default: PGWARDEN_SCOPE or the config file scope)')
    .option('-f, --format <format>', 'pretty | json | yaml | tsv', 'pretty')
    .option('-W, --watch [seconds]', 'refresh every N seconds (default 2) until interrupted')
    .action(async (clusterArg: string | undefined, opts: { format: string; watch?: string | boolean }) => {
      const ctx = context();
      const cluster = ctx.cluster(clusterArg);
      const format = parseFormat(opts.format, ctx.json);
      const watch = new HeartbeatWatch();
      const show = async () => {
        const snapshot = await ctx.store.getSnapshot(cluster);
        return renderList(snapshot, format, ctx.color, watch.look(snapshot));
      };
      if (opts.watch === undefined) {
        ctx.out(await show());
        return;
      }
      const seconds = opts.watch === true ? 2 : Number(opts.watch);
      if (!(seconds > 0))
        throw new CliError(
          `--watch: got ${JSON.stringify(opts.watch)}, expected a number of seconds > 0`,
          EXIT.usage,
        );
      for (;;) {
        const text = await show();
        if (ctx.color) process.stdout.write('\u001b[2J\u001b[H');
        ctx.out(`${new Date().toISOString()}\n${text}`);
        await new Promise((r) => setTimeout(r, seconds * 1000));
      }
    });
}
