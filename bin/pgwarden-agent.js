#!/usr/bin/env node
// Runs the agent from a checkout (TypeScript through tsx). Deployed hosts run the esbuild bundle.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../agent/main.ts');
await main(process.argv);
