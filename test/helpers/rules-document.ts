import { AGENT_RULES } from '../../core/agent/agent-rules.ts';
import { renderAgentRuleTable, renderRuleDiagram } from '../../core/decide/diagram.ts';
import { RULES } from '../../core/decide/rule-table.ts';

export function renderRulesDocument(): string {
  return [
    '# The decision rules',
    '',
    'Generated from `core/decide/rule-table.ts` by `npm run docs:rules`; a unit test fails when it is stale.',
    "Rules are tried in this order within the state of the cluster's operation (`any` rows always); the first",
    'that matches decides, and its id and reason go to the log, the `op` item and the history row.',
    '',
    renderRuleDiagram(RULES),
    "## The agent's rules",
    '',
    'Generated from `core/agent/agent-rules.ts`. The agent makes no cluster-wide decision: what it does with',
    'PostgreSQL and the lease on its own host is a pure function of what it observed (the local state file,',
    'PostgreSQL, the action lock, the lease keeper, failsafe and the last consistent snapshot) and of what it',
    'remembers (fencing begun; since when PostgreSQL has been down on a primary). The daemon gathers the facts,',
    'asks the table, performs the steps. Rows are tried in order within the event; the first that matches',
    "decides. Its id and reason go to the log (once per change; warnings every 30 s) and to `/patroni`'s",
    '`decision`.',
    '',
    renderAgentRuleTable(AGENT_RULES),
  ].join('\n');
}
