import { existsSync } from 'node:fs';
import { CliError, EXIT } from '../cli/exit-codes.ts';

/**
 * Builds the bundles local hosts and controller invocations run, as hosts and Lambda run them
 * (esbuild is a dev dependency; without it, the ones already built).
 */
export async function ensureBundles(out: (line: string) => void): Promise<void> {
  const { AGENT_BUNDLE } = await import('./local-topology.ts');
  const { CONTROLLER_BUNDLE } = await import('./local-lambda.ts');
  try {
    const { buildAgentBundle } = await import('../scripts/build-agent.ts');
    const { buildControllerBundle } = await import('../scripts/build-controller.ts');
    await Promise.all([buildAgentBundle(), buildControllerBundle()]);
  } catch (error) {
    if (!existsSync(AGENT_BUNDLE) || !existsSync(CONTROLLER_BUNDLE))
      throw new CliError(
        `cannot build the agent and controller bundles (${(error as Error).message}); run npm ci, then npm run build:agent and npm run build:controller`,
        EXIT.usage,
      );
    out(`could not rebuild the bundles (${(error as Error).message}); using those in dist/`);
  }
}
