import { renderRuleDiagram } from '../../core/decide/diagram.ts';
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
  ].join('\n');
}
