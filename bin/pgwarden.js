#!/usr/bin/env node
// The operator CLI from a checkout (TypeScript through tsx).
import { register } from 'tsx/esm/api';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { runCli } = await import('../cli/entry.ts');
process.exitCode = await runCli(process.argv);
