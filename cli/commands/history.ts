import type { Command } from 'commander';
import type { HistoryRow } from '../../core/model/items.ts';
import type { CliContext } from '../cli-context.ts';
import { parseFormat, renderRows } from '../format/render-rows.ts';
import { renderTable } from '../format/table.ts';

/** patronictl history's columns; pgwarden's own follow with --extended. */
const COLUMNS = ['TL', 'LSN', 'Reason', 'Timestamp', 'New Leader'];
const EXTENDED = ['Term', 'Kind', 'Old', 'Took', 'Rule'];

/** Seconds from detection to the new primary (failover) or from the request to the end. */
function took(row: HistoryRow): string {
  const start = row.timings.detected;
  const end = row.timings.repoint ?? row.timings.finished;
  return start !== undefined && end !== undefined ? `${((end - start) / 1000).toFixed(1)} s` : '';
}

/**
 * `pgwarden history`: one row per change of primary, as patronictl prints it (the timeline that
 * ended, the LSN of the switch, the reason, when, the new leader; pgwarden's terms stand for
 * timelines: each promotion starts one of each). `--extended` adds the term, kind, old leader,
 * how long it took and the rule that decided it; `--extended` also lists the bootstrap.
 */
export function registerHistory(program: Command, context: () => CliContext): void {
  program
    .command('history')
    .description(
      'every change of primary (patronictl history; --extended: term, kind, old leader, timings, rule)',
    )
    .argument('[cluster]', 'cluster name')
    .option('-f, --format <format>', 'pretty | tsv | json | yaml | yml', 'pretty')
    .option('-e, --extended', "pgwarden's columns too: term, kind, old leader, how long, rule")
    .action(async (clusterArg: string | undefined, opts: { format: string; extended?: boolean }) => {
      const ctx = context();
      const format = parseFormat(opts.format, ctx.json);
      const snapshot = await ctx.store.getSnapshot(ctx.cluster(clusterArg));
      const extended = opts.extended ?? false;
      const columns = extended ? [...COLUMNS, ...EXTENDED] : COLUMNS;
      const rows = snapshot.history
        .filter((h) => extended || h.kind !== 'bootstrap')
        .map((h) => ({
          TL: h.term - 1,
          LSN: h.lsn ?? '',
          Reason: h.reason,
          Timestamp: new Date(h.at).toISOString().replace('Z', '+00:00'),
          'New Leader': h.new,
          ...(extended
            ? {
                Term: h.term,
                Kind: h.kind,
                Old: h.old ?? '',
                Took: took(h),
                Rule: h.rule,
                Timings: h.timings,
              }
            : {}),
        }));
      if (format !== 'pretty') {
        ctx.out(renderRows(format, extended ? [...columns, 'Timings'] : columns, rows));
        return;
      }
      ctx.out(
        renderTable(
          `Cluster: ${snapshot.cluster}`,
          columns,
          rows.map((r) => columns.map((c) => String((r as Record<string, unknown>)[c] ?? ''))),
          ['TL', 'LSN', 'Term'],
        ),
      );
      const refusal = snapshot.observer?.refusal;
      if (refusal)
        ctx.out(` Failover refused since ${new Date(refusal.since).toISOString()}: ${refusal.message}`);
    });
}
