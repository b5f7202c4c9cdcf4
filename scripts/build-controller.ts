// Bundles the controller for local Lambda-style invocations (dist/pgwarden-controller.mjs), with
// the options CDK's NodejsFunction bundles the deployed function with (infra/constructs/
// pgwarden-controller.ts), around functions/controller/local-invoke.ts. `npm run build:controller`.
import { build } from 'esbuild';
import { NODE_BUNDLE_OPTIONS } from './bundle-options.ts';

export const CONTROLLER_BUNDLE = new URL('../dist/pgwarden-controller.mjs', import.meta.url).pathname;

export async function buildControllerBundle(outfile = CONTROLLER_BUNDLE): Promise<string> {
  await build({
    ...NODE_BUNDLE_OPTIONS,
    entryPoints: [new URL('../functions/controller/local-invoke.ts', import.meta.url).pathname],
    outfile,
    mainFields: ['module', 'main'],
  });
  return outfile;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`built ${await buildControllerBundle()}`);
}
