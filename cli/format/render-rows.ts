import { stringify } from 'yaml';
import { CliError, EXIT } from '../exit-codes.ts';

export const FORMATS = ['pretty', 'json', 'yaml', 'tsv'] as const;
export type Format = (typeof FORMATS)[number];

export function parseFormat(value: string | undefined, json: boolean): Format {
  // patronictl's spelling `yml` is YAML too.
  const format = json ? 'json' : value === 'yml' ? 'yaml' : (value ?? 'pretty');
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new CliError(
      `--format: got ${JSON.stringify(format)}, expected one of ${FORMATS.join(', ')}, yml`,
      EXIT.usage,
    );
  }
  return format as Format;
}

/** Rows (objects keyed by column name) as JSON, YAML or TSV; pretty is each command's own. */
export function renderRows(
  format: Exclude<Format, 'pretty'>,
  columns: readonly string[],
  rows: readonly Record<string, unknown>[],
): string {
  if (format === 'json') return JSON.stringify(rows);
  if (format === 'yaml') return stringify(rows).trimEnd();
  const cell = (v: unknown) =>
    v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return [columns.join('\t'), ...rows.map((r) => columns.map((c) => cell(r[c])).join('\t'))].join('\n');
}
