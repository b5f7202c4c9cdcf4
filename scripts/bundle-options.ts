import type { BuildOptions, Plugin } from 'esbuild';

/**
 * zod's `z.locales` namespace re-exports its ~40 languages (258 KB, 17 % of the agent bundle),
 * which every start of the agent — each SSM action among them — parses; pgwarden's messages are
 * English and nothing calls `z.config(z.locales.xx())`. The bundle's `z.locales` has English only.
 */
const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](classic|core)$/.test(args.resolveDir)
        ? { path: 'zod-locales-en', namespace: 'zod-english-only', pluginData: args.resolveDir }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, (args) => ({
      contents: "export { default as en } from '../locales/en.js';",
      resolveDir: args.pluginData as string,
      loader: 'js',
    }));
  },
};

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
  plugins: [zodEnglishOnly],
};
