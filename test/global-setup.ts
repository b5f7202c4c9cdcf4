// Builds the agent bundle once per test run: integration and e2e tests run what hosts run.
import { buildAgentBundle } from '../scripts/build-agent.ts';

export default async function setup(): Promise<void> {
  await buildAgentBundle();
}
