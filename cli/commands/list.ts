import type { Command } from 'commander';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';
import type { CliContext } from '../cli-context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { type Format, parseFormat, renderRows } from '../format/render-rows.ts';
import { paint, renderTable } from '../format/table.ts';
import { HeartbeatWatch } from './heartbeat-watch.ts';
import { clusterFacts, listColumns, type MemberRow, memberRows } from './member-rows.ts';

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
 * patronictl topology's order: the leader, then each member under its upstream, its name
 * indented by depth with `+ ` (members with no known upstream last).
 */
function topologyOrder(rows: MemberRow[]): MemberRow[] {
  const out: MemberRow[] = [];
  const seen = new Set<string>();
  const walk = (row: MemberRow, depth: number) => {
    if (seen.has(row.Member)) return;
    seen.add(row.Member);
    out.push(depth === 0 ? row : { ...row, Member: `${'  '.repeat(depth - 1)}+ ${row.Member}` });
    for (const child of rows.filter((r) => r.upstream === row.Member && r.Role !== 'Leader'))
      walk(child, depth + 1);
  };
  for (const leader of rows.filter((r) => r.Role === 'Leader')) walk(leader, 0);
  for (const r of rows) if (!seen.has(r.Member)) walk(r, r.upstream ? 1 : 0);
  return out;
}

/** The row as patronictl prints it in JSON and YAML: empty values dropped. */
function machineRow(
  row: MemberRow,
  columns: readonly string[],
  facts: Record<string, string>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of columns) {
    const v = (row as unknown as Record<string, unknown>)[c];
    if (v === '' || v === null || v === undefined) continue;
    if (c === 'Tags' && Object.keys(v as object).length === 0) continue;
    out[c] = v;
  }
  return { ...out, ...facts };
}

/**
 * patronictl list (Patroni 4): its columns and JSON keys. `watched`: heartbeat ages from the
 * CLI's own repeated reads (`-W`). JSON, YAML and TSV rows carry the cluster's facts (pause, an
 * operation, a refusal) as they carry `Cluster`.
 */
export function renderList(
  snapshot: ClusterSnapshot,
  format: Format,
  color: boolean,
  watched?: ReadonlyMap<string, number>,
  extended = false,
  topology = false,
): string {
  const rows = topology ? topologyOrder(memberRows(snapshot, watched)) : memberRows(snapshot, watched);
  const columns = listColumns(rows, extended);
  if (format !== 'pretty') {
    const facts = clusterFacts(snapshot);
    if (format === 'tsv')
      return renderRows(
        format,
        [...columns, ...Object.keys(facts)],
        rows.map((r) => ({ ...r, ...facts })),
      );
    return renderRows(
      format,
      columns,
      rows.map((r) => machineRow(r, columns, facts)),
    );
  }
  const shown = columns.filter((c) => c !== 'Cluster');
  const cell = (r: MemberRow, c: string): string => {
    if (c === 'Role') return r.Role === 'Leader' ? paint(color, r.Role, 'green') : r.Role;
    if (c === 'State')
      return /no heartbeat|crashed|fenced|stopped|malformed|without the lease/.test(r.State)
        ? paint(color, r.State, 'red')
        : r.State;
    if (c === 'Tags') return tagText(r.Tags);
    const v = (r as unknown as Record<string, unknown>)[c];
    return v === null || v === undefined ? '' : String(v);
  };
  const sysid = snapshot.initialize?.system_identifier;
  const table = renderTable(
    `Cluster: ${snapshot.cluster}${sysid ? ` (${sysid})` : ''}`,
    // patronictl's pretty table titles both lag columns "Lag".
    shown.map((c) => (c === 'Receive Lag' || c === 'Replay Lag' ? 'Lag' : c)),
    rows.map((r) => shown.map((c) => cell(r, c))),
    ['TL', 'Lag', 'Receive LSN', 'Replay LSN'],
  );
  return [table, ...clusterNotes(snapshot)].join('\n');
}

export function registerList(program: Command, context: () => CliContext): void {
  program
    .command('list')
    .alias('ls')
    .description('members of a cluster: role, state, timeline, LSNs and lag (patronictl list)')
    .argument('[cluster]', 'cluster name (default: PGWARDEN_SCOPE or the config file scope)')
    .option('-f, --format <format>', 'pretty | tsv | json | yaml | yml', 'pretty')
    .option('-e, --extended', 'also the pending restart, scheduled restart and tags columns')
    .option('-t, --timestamp', 'print the time before the table')
    .option('-W', 'refresh every 2 seconds until interrupted')
    .option('-w, --watch <seconds>', 'refresh every N seconds until interrupted')
    .action(
      async (
        clusterArg: string | undefined,
        opts: { format: string; extended?: boolean; timestamp?: boolean; W?: boolean; watch?: string },
      ) => {
        const ctx = context();
        const cluster = ctx.cluster(clusterArg);
        const format = parseFormat(opts.format, ctx.json);
        const watch = new HeartbeatWatch();
        const show = async () => {
          const snapshot = await ctx.store.getSnapshot(cluster);
          const text = renderList(snapshot, format, ctx.color, watch.look(snapshot), opts.extended ?? false);
          return opts.timestamp
            ? `${new Date().toISOString().replace('T', ' ').slice(0, 19)}\n${text}`
            : text;
        };
        if (opts.watch === undefined && !opts.W) {
          ctx.out(await show());
          return;
        }
        const seconds = opts.watch === undefined ? 2 : Number(opts.watch);
        if (!(seconds > 0))
          throw new CliError(
            `--watch: got ${JSON.stringify(opts.watch)}, expected a number of seconds > 0`,
            EXIT.usage,
          );
        for (;;) {
          const text = await show();
          if (ctx.color) process.stdout.write('\u001b[2J\u001b[H');
          ctx.out(opts.timestamp ? text : `${new Date().toISOString()}\n${text}`);
          await new Promise((r) => setTimeout(r, seconds * 1000));
        }
      },
    );
}
