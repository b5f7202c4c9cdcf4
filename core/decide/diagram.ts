import type { AgentEvent, AgentRule } from '../agent/agent-decision.ts';
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

/** The agent's table (core/agent/agent-rules.ts) as Markdown, one section per event. */
export function renderAgentRuleTable(rules: readonly AgentRule[]): string {
  const events: readonly [AgentEvent, string][] = [
    ['cycle', 'Each cycle (every loop_wait, or at once when an action ends or the local state changes)'],
    [
      'renewal-timer',
      "The renewal timer (every loop_wait / 2: renews for a cycle stuck on PostgreSQL's queries)",
    ],
    ['lease-lost', "The lease keeper's loss (the renewal lost its condition, or the local deadline passed)"],
  ];
  const lines: string[] = [];
  for (const [event, title] of events) {
    lines.push(`### ${title}`, '', '| rule | when |', '| ---: | --- |');
    for (const r of rules.filter((rule) => rule.on === event))
      lines.push(`| ${r.id} | ${r.when.replace(/\|/g, '\\|')} |`);
    lines.push('');
  }
  return lines.join('\n');
}
