// Entry point of the agent bundle (dist/pgwarden-agent.mjs) that hosts run.
import { main } from './main.ts';

await main(process.argv);
