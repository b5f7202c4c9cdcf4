import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DescribeDocumentCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient, createSdkDocuments, sdkDocuments } from '../../../adapters/dynamodb/client.ts';
import { DynamoDbStore } from '../../../adapters/dynamodb/dynamodb-store.ts';
import { ensureTable } from '../../../adapters/dynamodb/ensure-table.ts';
import { actionDocument } from '../../../core/actions/ssm-document.ts';
import { TABLE_DEFINITION } from '../../../core/store/table-definition.ts';
import { type DynamoBackend, motoBackend } from '../../helpers/dynamo-backends.ts';

const hasAwsCli = spawnSync('sh', ['-c', 'command -v aws']).status === 0;
const file = (path: string) => readFileSync(new URL(`../../../localstack/${path}`, import.meta.url), 'utf8');

describe('the LocalStack setup', () => {
  it('ships the SSM document rendered from core/ (npm run localstack:render)', () => {
    expect(JSON.parse(file('pgwarden-action.json'))).toEqual(JSON.parse(JSON.stringify(actionDocument())));
  });

  it('creates the table with the keys, billing and TTL of the shared table definition', () => {
    const hook = file('ready.d/10-pgwarden.sh');
    expect(hook).toContain(`AttributeName=${TABLE_DEFINITION.partitionKey.name},AttributeType=S`);
    expect(hook).toContain(`AttributeName=${TABLE_DEFINITION.sortKey.name},KeyType=RANGE`);
    expect(hook).toContain(`--billing-mode ${TABLE_DEFINITION.billingMode}`);
    expect(hook).toContain(`AttributeName=${TABLE_DEFINITION.timeToLiveAttribute}`);
  });

  it('pins an image that starts without an auth token, overridable', () => {
    expect(file('docker-compose.yml')).toMatch(
      /image: \$\{LOCALSTACK_IMAGE:-localstack\/localstack:\d+\.\d+\}/,
    );
  });
});

describe.skipIf(motoBackend.skipReason !== undefined)(
  'the same endpoint settings (AWS_ENDPOINT_URL), exercised against moto',
  () => {
    let moto: DynamoBackend;
    const saved = { ...process.env };
    beforeAll(async () => {
      moto = await motoBackend.start();
      process.env.AWS_ENDPOINT_URL = moto.endpoint;
      process.env.AWS_REGION = 'us-east-1';
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_PROFILE;
    });
    afterAll(async () => {
      process.env = saved;
      await moto?.stop();
    });

    it('reaches DynamoDB through AWS_ENDPOINT_URL alone, with local credentials', async () => {
      const doc = createDocumentClient({ requestTimeoutMs: 5000 });
      await ensureTable(doc, 'pgwarden-env');
      const store = new DynamoDbStore(sdkDocuments(doc), 'pgwarden-env');
      await store.registerCluster('demo', 'test', 1);
      expect(await store.listClusters()).toEqual(['demo']);
    });

    it.skipIf(!hasAwsCli)(
      'runs the ready.d init hook (awslocal pointed at moto): table and document created, twice harmlessly',
      async () => {
        const bin = mkdtempSync('/tmp/pgwarden-awslocal-');
        writeFileSync(join(bin, 'awslocal'), `#!/bin/sh\nexec aws --endpoint-url ${moto.endpoint} "$@"\n`, {
          mode: 0o755,
        });
        const env = {
          ...process.env,
          PATH: `${bin}:${process.env.PATH}`,
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
          AWS_DEFAULT_REGION: 'us-east-1',
          PGWARDEN_TABLE: 'pgwarden-hook',
          PGWARDEN_DOCUMENT_FILE: fileURLToPath(
            new URL('../../../localstack/pgwarden-action.json', import.meta.url),
          ),
        };
        const hook = fileURLToPath(new URL('../../../localstack/ready.d/10-pgwarden.sh', import.meta.url));
        for (let i = 0; i < 2; i += 1) {
          const run = spawnSync('bash', [hook], { env, encoding: 'utf8', timeout: 60_000 });
          expect(run.status, run.stderr).toBe(0);
        }
        rmSync(bin, { recursive: true, force: true });
        const ssm = new SSMClient({ credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
        expect(
          (await ssm.send(new DescribeDocumentCommand({ Name: 'pgwarden-action' }))).Document?.Status,
        ).toBe('Active');
        const store = new DynamoDbStore(createSdkDocuments({ requestTimeoutMs: 5000 }), 'pgwarden-hook');
        await store.registerCluster('demo', 'test', 1);
        expect(await store.listClusters()).toEqual(['demo']);
      },
    );
  },
);
