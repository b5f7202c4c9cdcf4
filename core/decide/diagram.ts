import type { Rule } from './context.ts';

/**
 * Renders the rule table as a Mermaid state diagram plus a Markdown table, so the docs come
 * from the same rows the engine runs.
 */
export function renderRuleDiagram(rules: readonly Rule[]): string {
  const id = (state: string) => state.replace(/[^A-Za-z]/g, '_');
  const edges: string[] = [];
  for (const rule of rules) {
    const from = rule.state === 'any' ? 'idle' : rule.state;
    for (const to of rule.next ?? []) {
      edges.push(`    ${id(from)} --> ${id(to === 'any' ? 'idle' : to)} : ${rule.id}`);
    }
  }
  const states = [...new Set(rules.flatMap((r) => [r.state, ...(r.next ?? [])]).filter((s) => s !== 'any'))];
  const lines = [
    '```mermaid',
    'stateDiagram-v2',
    '    [*] --> idle',
    ...states.map((s) => `    state "${s}" as ${id(s)}`),
    ...edges,
    '```',
    '',
    '| rule | state | when |',
    '| ---: | --- | --- |',
    ...rules.map((r) => `| ${r.id} | ${r.state} | ${r.when.replace(/\|/g, '\\|')} |`),
  ];
  return `${lines.join('\n')}\n`;
}
