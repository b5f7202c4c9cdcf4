import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, describe, expect, it } from 'vitest';
import { runCallback } from '../../../agent/callbacks.ts';
import { resolvePgUser } from '../../../agent/os-user.ts';
import { parseAgentConfig } from '../../../core/config/agent-config.ts';
import { waitFor } from '../../../local/wait-for.ts';

const dir = mkdtempSync('/tmp/pgwarden-callbacks-');
chmodSync(dir, 0o777);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A callback that writes its argv and user to `<out>.start`, sleeps, then writes `<out>.done`. */
function script(seconds: number): string {
  const path = join(dir, `callback-${seconds}.sh`);
  writeFileSync(
    path,
    `#!/bin/sh\naction=$(eval echo "\\\${$(($# - 2))}")\nout="${dir}/$action"\nprintf '%s\\n' "$(id -un)" "$@" > "$out.start"\nsleep ${seconds}\ntouch "$out.done"\n`,
    { mode: 0o755 },
  );
  return path;
}

function context(callbacks: Record<string, string>) {
  const stateDir = join(dir, 'state');
  mkdirSync(stateDir, { recursive: true, mode: 0o777 });
  chmodSync(stateDir, 0o777);
  const config = parseAgentConfig({
    scope: 'shop',
    name: 'n1',
    restapi: { listen: '127.0.0.1:8008' },
    postgresql: { listen: '127.0.0.1:5432', data_dir: dir, callbacks },
    dynamodb: { table: 'pgwarden' },
  });
  return {
    config,
    logger: new Logger({ serviceName: 'test', logLevel: 'ERROR' }),
    user: resolvePgUser('postgres'),
    paths: { stateDir, dataDir: dir },
  };
}

describe("callbacks, with Patroni's contract", () => {
  it('split as a shell would, then action role scope, as the PostgreSQL user', async () => {
    const ctx = context({ on_start: `${script(0)} --label 'two words'` });
    runCallback(ctx, 'on_start', 'replica');
    const file = join(dir, 'on_start.start');
    await waitFor('the callback to run', 5000, async () => existsSync(join(dir, 'on_start.done')));
    expect(readFileSync(file, 'utf8').trim().split('\n')).toEqual([
      process.getuid?.() === 0 ? 'postgres' : process.env.USER,
      '--label',
      'two words',
      'on_start',
      'replica',
      'shop',
    ]);
  });

  it('one at a time: a new callback kills the one still running; on_reload runs beside them', async () => {
    const slow = script(5);
    const ctx = context({ on_stop: slow, on_role_change: slow, on_reload: slow });
    runCallback(ctx, 'on_stop', 'primary');
    await waitFor('on_stop to start', 5000, async () => existsSync(join(dir, 'on_stop.start')));
    runCallback(ctx, 'on_reload', 'primary');
    await waitFor('on_reload to start', 5000, async () => existsSync(join(dir, 'on_reload.start')));
    runCallback(ctx, 'on_role_change', 'demoted');
    await waitFor(
      'on_role_change and on_reload to finish',
      10_000,
      async () => existsSync(join(dir, 'on_role_change.done')) && existsSync(join(dir, 'on_reload.done')),
    );
    // on_stop was killed by on_role_change (it never finished); on_reload was not.
    expect(existsSync(join(dir, 'on_stop.done'))).toBe(false);
    expect(readFileSync(join(dir, 'on_role_change.start'), 'utf8')).toContain('demoted');
  }, 20_000);
});
