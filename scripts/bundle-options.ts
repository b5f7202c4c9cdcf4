import type { BuildOptions } from 'esbuild';

/**
 * What the agent and the local controller bundles share with CDK's NodejsFunction bundling: one
 * minified ESM file for Node, with `require` available to the CommonJS dependencies inside.
 */
export const NODE_BUNDLE_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  // Lambda runs nodejs22.x and hosts Node 22; this machine's Node is 20 or later.
  target: 'node20',
  format: 'esm',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  logLevel: 'warning',
};
