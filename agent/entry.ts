// Entry point of the agent bundle (dist/pgwarden-agent.mjs) that hosts run.
import './zod-interpreted.ts';
import { main } from './main.ts';

await main(process.argv);
