// Writes localstack/pgwarden-action.json from core/ (npm run localstack:render); a test keeps it current.
import { writeFileSync } from 'node:fs';
import { actionDocument } from '../core/actions/ssm-document.ts';

writeFileSync(
  new URL('../localstack/pgwarden-action.json', import.meta.url),
  `${JSON.stringify(actionDocument(), null, 2)}\n`,
);
console.log('wrote localstack/pgwarden-action.json');
