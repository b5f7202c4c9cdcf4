// Builds the agent and controller bundles once per test run: integration and e2e tests run what
// hosts and Lambda run.
import { buildAgentBundle } from '../scripts/build-agent.ts';
import { buildControllerBundle } from '../scripts/build-controller.ts';

export default async function setup(): Promise<void> {
  await Promise.all([buildAgentBundle(), buildControllerBundle()]);
}
