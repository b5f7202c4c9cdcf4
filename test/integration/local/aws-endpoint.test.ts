import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DynamoBackend, externalBackend, motoBackend } from '../../helpers/dynamo-backends.ts';
import { runCli } from '../../helpers/run-cli.ts';

/**
 * `pgwarden local up --aws-endpoint URL`: the local topology on a DynamoDB endpoint it does not
 * own, as with LocalStack (`--aws-endpoint http://localhost:4566`). Here: moto server, and
 * PGWARDEN_TEST_AWS_ENDPOINT when set.
 */
describe.each([motoBackend, externalBackend])('pgwarden local up --aws-endpoint ($name)', (backend) => {
  let db: DynamoBackend | undefined;
  let base = '';
  const cli = (...args: string[]) => runCli(args, { PGWARDEN_LOCAL_DIR: `${base}/local` });

  beforeAll(async () => {
    if (backend.skipReason) return;
    base = mkdtempSync('/tmp/pgwarden-endpoint-');
    chmodSync(base, 0o755);
    db = await backend.start();
  });
  afterAll(async () => {
    if (!base) return;
    await cli('local', 'down');
    await db?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it.skipIf(backend.skipReason)(
    'keeps the cluster in the endpoint and starts afresh over a previous run',
    async () => {
      const endpoint = db!.endpoint;
      const up = await cli('local', 'up', '--nodes', '2', '--profile', 'fast', '--aws-endpoint', endpoint);
      expect(up.stderr).toBe('');
      expect(up.code).toBe(0);
      expect(up.stdout).toContain(`DynamoDB: ${endpoint}`);
      const status = JSON.parse((await cli('local', 'status', '--json')).stdout);
      expect(status.dynamodb_endpoint).toBe(endpoint);
      expect(status.nodes.map((n: { role: string }) => n.role)).toEqual(['Leader', 'Replica']);
      // The pgwarden CLI reads the same endpoint.
      const list = await runCli(['list', '--endpoint', endpoint, 'local']);
      expect(list.stdout).toMatch(/node1 .*Leader/);
      expect((await cli('local', 'down')).code).toBe(0);
      // The previous cluster's items are still in the endpoint: a new one must not inherit them.
      const again = await cli('local', 'up', '--nodes', '1', '--profile', 'fast', '--aws-endpoint', endpoint);
      expect(again.stderr).toBe('');
      expect(again.code).toBe(0);
      // -e: the bootstrap row too (patronictl's history lists changes of primary only).
      const history = await runCli(['history', '--endpoint', endpoint, 'local', '-f', 'json', '-e']);
      expect(JSON.parse(history.stdout)).toHaveLength(1);
    },
  );
});
