// Writes docs/rules.md from the rule table (npm run docs:rules); a unit test keeps it current.
import { writeFileSync } from 'node:fs';
import { renderRulesDocument } from '../test/helpers/rules-document.ts';

writeFileSync(new URL('../docs/rules.md', import.meta.url), renderRulesDocument());
console.log('wrote docs/rules.md');
