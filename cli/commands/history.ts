import type { Command } from 'commander';
import { formatLsn } from '../../core/format.ts';
import type { HistoryRow } from '../../core/model/items.ts';
import type { CliContext } from '../cli-context.ts';
import { parseFormat, renderRows } from '../format/render-rows.ts';
import { renderTable } from '../format/table.ts';

const COLUMNS = ['Term', 'Kind', 'Old', 'New', 'LSN', 'Time', 'Took', 'Rule', 'Reason'];

/** Seconds from detection to the new primary (failover) or from the request to the end. */
function took(row: HistoryRow): string {
  const start = row.timings.detected;
  const end = row.timings.repoint ?? row.timings.finished;
  return start !== undefined && end !== undefined ? `${((end - start) / 1000).toFixed(1)} s` : '';
}

/** `pgwarden history`: one row per change of primary, with what triggered it and how long it took. */
export function registerHistory(program: Command, context: () => CliContext): void {
  program
    .command('history')
    .description('every change of primary: term, old and new leader, reason, timings')
    .argument('[cluster]', 'cluster name')
    .option('-f, --format <format>', 'pretty | json | yaml | tsv', 'pretty')
    .action(async (clusterArg: string | undefined, opts: { format: string }) => {
      const ctx = context();
      const format = parseFormat(opts.format, ctx.json);
      const snapshot = await ctx.store.getSnapshot(ctx.cluster(clusterArg));
      const rows = snapshot.history.map((h) => ({
        Term: h.term,
        Kind: h.kind,
        Old: h.old ?? '',
        New: h.new,
        LSN: h.lsn === undefined ? '' : formatLsn(h.lsn),
        Time: new Date(h.at).toISOString(),
        Took: took(h),
        Rule: h.rule,
        Reason: h.reason,
        Timings: h.timings,
      }));
      if (format !== 'pretty') {
        ctx.out(renderRows(format, [...COLUMNS, 'Timings'], rows));
        return;
      }
      ctx.out(
        renderTable(
          `Cluster: ${snapshot.cluster}`,
          COLUMNS,
          rows.map((r) => COLUMNS.map((c) => String(r[c as keyof typeof r] ?? ''))),
          ['Term'],
        ),
      );
      const refusal = snapshot.observer?.refusal;
      if (refusal)
        ctx.out(` Failover refused since ${new Date(refusal.since).toISOString()}: ${refusal.message}`);
    });
}
