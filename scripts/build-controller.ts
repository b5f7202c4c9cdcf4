// Bundles the controller for local Lambda-style invocations (dist/pgwarden-controller.mjs), with
// the options CDK's NodejsFunction bundles the deployed function with (infra/constructs/
// pgwarden-controller.ts), around functions/controller/local-invoke.ts. `npm run build:controller`.
import { build } from 'esbuild';

export const CONTROLLER_BUNDLE = new URL('../dist/pgwarden-controller.mjs', import.meta.url).pathname;

export async function buildControllerBundle(outfile = CONTROLLER_BUNDLE): Promise<string> {
  await build({
    entryPoints: [new URL('../functions/controller/local-invoke.ts', import.meta.url).pathname],
    outfile,
    bundle: true,
    platform: 'node',
    // Lambda runs nodejs22.x; this machine's Node is 20 or later.
    target: 'node20',
    format: 'esm',
    minify: true,
    sourcemap: false,
    mainFields: ['module', 'main'],
    legalComments: 'none',
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
    logLevel: 'warning',
  });
  return outfile;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`built ${await buildControllerBundle()}`);
}
