// Bundles the agent into one file (dist/pgwarden-agent.mjs): what EC2 hosts install and what the
// local topology and the benchmarks run. `npm run build:agent`.
import { build } from 'esbuild';
import { NODE_BUNDLE_OPTIONS } from './bundle-options.ts';

export const AGENT_BUNDLE = new URL('../dist/pgwarden-agent.mjs', import.meta.url).pathname;

/**
 * `version`: another release's version string (the rolling-upgrade test builds a second agent).
 * `plantedBug`: a deliberately broken build for the fault campaign's own check (bench/chaos).
 */
export async function buildAgentBundle(
  outfile = AGENT_BUNDLE,
  version?: string,
  plantedBug?: 'unconditional-renewal',
): Promise<string> {
  await build({
    ...NODE_BUNDLE_OPTIONS,
    entryPoints: [new URL('../agent/entry.ts', import.meta.url).pathname],
    outfile,
    // pg-native is an optional peer of pg; the agent uses the pure JavaScript client.
    external: ['pg-native'],
    // pg looks for Cloudflare Workers with `typeof Response`; on Node 20 that getter loads the
    // whole fetch implementation (undici, and WebAssembly, which --jitless turns off): +13 MB.
    // Nothing else in the agent refers to the global Response.
    define: {
      Response: 'undefined',
      ...(version ? { __PGWARDEN_AGENT_VERSION__: JSON.stringify(version) } : {}),
      ...(plantedBug ? { __PGWARDEN_PLANTED_BUG__: JSON.stringify(plantedBug) } : {}),
    },
  });
  return outfile;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`built ${await buildAgentBundle()}`);
}
