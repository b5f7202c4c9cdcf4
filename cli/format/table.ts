/** ANSI colours, only when writing to a terminal. */
export function paint(
  enabled: boolean,
  text: string,
  style: 'bold' | 'green' | 'red' | 'yellow' | 'dim',
): string {
  if (!enabled) return text;
  const codes = { bold: [1, 22], green: [32, 39], red: [31, 39], yellow: [33, 39], dim: [2, 22] }[style];
  return `\u001b[${codes[0]}m${text}\u001b[${codes[1]}m`;
}

const ESCAPE = String.fromCharCode(27);
const visible = (s: string) =>
  s
    .split(ESCAPE)
    .map((part, i) => (i === 0 ? part : part.replace(/^\[\d+m/, '')))
    .join('').length;

/** patronictl's table: `+ Cluster: demo (7312...) ---+` over boxed columns. */
export function renderTable(
  title: string,
  columns: readonly string[],
  rows: readonly (readonly string[])[],
  numeric: readonly string[] = [],
): string {
  const widths = columns.map((c, i) => Math.max(visible(c), ...rows.map((r) => visible(r[i] ?? ''))));
  const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const pad = (text: string, i: number) => {
    const gap = ' '.repeat(widths[i]! - visible(text));
    return numeric.includes(columns[i]!) ? gap + text : text + gap;
  };
  const head = `+ ${title} `;
  const top = head.length < line.length ? head + line.slice(head.length) : `${head}+`;
  return [
    top,
    `| ${columns.map((c, i) => pad(c, i)).join(' | ')} |`,
    line,
    ...rows.map((r) => `| ${r.map((c, i) => pad(c, i)).join(' | ')} |`),
    line,
  ].join('\n');
}
