import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../../adapters/dynamodb/client.ts';
import { DynamoDbStore } from '../../../adapters/dynamodb/dynamodb-store.ts';
import { ensureTable } from '../../../adapters/dynamodb/ensure-table.ts';
import { createJsonDocuments, credentialSource } from '../../../adapters/dynamodb/json-documents.ts';
import { StoreUnavailableError } from '../../../core/errors.ts';
import { type DynamoBackend, motoBackend, startMoto } from '../../helpers/dynamo-backends.ts';

/**
 * The agent signs its DynamoDB requests itself (SigV4 through @smithy/signature-v4). moto with
 * IAM authentication on recomputes every signature with botocore and rejects a wrong one, so
 * this is the check that AWS would accept the agent's requests.
 */
describe.skipIf(motoBackend.skipReason !== undefined)(
  "the agent's DynamoDB client against moto with IAM authentication",
  () => {
    let moto: DynamoBackend;
    let key: { id: string; secret: string };
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };

    /** One IAM query-protocol call; moto lets the first three through without authentication. */
    async function iam(params: Record<string, string>): Promise<string> {
      const res = await fetch(moto.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization:
            'AWS4-HMAC-SHA256 Credential=setup/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0',
        },
        body: new URLSearchParams({ ...params, Version: '2010-05-08' }).toString(),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`IAM ${params.Action}: ${res.status} ${text}`);
      return text;
    }

    function withKey<T>(id: string, secret: string, run: () => Promise<T>): Promise<T> {
      process.env.AWS_ACCESS_KEY_ID = id;
      process.env.AWS_SECRET_ACCESS_KEY = secret;
      return run().finally(() => {
        for (const [name, value] of [
          ['AWS_ACCESS_KEY_ID', saved.id],
          ['AWS_SECRET_ACCESS_KEY', saved.secret],
        ] as const) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
      });
    }

    beforeAll(async () => {
      moto = await startMoto({ INITIAL_NO_AUTH_ACTION_COUNT: '3' });
      await iam({ Action: 'CreateUser', UserName: 'agent' });
      const created = await iam({ Action: 'CreateAccessKey', UserName: 'agent' });
      key = {
        id: /<AccessKeyId>(.+?)<\/AccessKeyId>/.exec(created)![1]!,
        secret: /<SecretAccessKey>(.+?)<\/SecretAccessKey>/.exec(created)![1]!,
      };
      await iam({
        Action: 'PutUserPolicy',
        UserName: 'agent',
        PolicyName: 'dynamodb',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'dynamodb:*', Resource: '*' }],
        }),
      });
      await withKey(key.id, key.secret, () =>
        ensureTable(createDocumentClient({ endpoint: moto.endpoint, requestTimeoutMs: 5000 }), 'signed'),
      );
    }, 60_000);
    afterAll(async () => {
      await moto?.stop();
    });

    const store = () =>
      new DynamoDbStore(
        createJsonDocuments({ endpoint: moto.endpoint, requestTimeoutMs: 5000, maxAttempts: 1 }),
        'signed',
      );

    it('is accepted with the right secret: writes, conditional updates and reads', async () => {
      await withKey(key.id, key.secret, async () => {
        const s = store();
        await s.createLeader('c', { holder: 'n1', ttl: 10, lsn: 0, timeline: 1 });
        await s.renewLease('c', { holder: 'n1', term: 1, ttl: 10, lsn: 5, timeline: 1, renewedAt: 1 });
        expect((await s.getSnapshot('c')).leader).toMatchObject({ holder: 'n1', term: 1, lsn: 5 });
      });
    });

    it('is rejected with a wrong secret (so the check above means something)', async () => {
      const error = await withKey(key.id, 'not-the-secret', () => store().getLeader('c')).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(String((error as Error).cause)).toContain('SignatureDoesNotMatch');
    });

    it('takes the instance profile credentials from the metadata service (IMDSv2) on EC2', async () => {
      const env = { ...process.env };
      try {
        for (const name of [
          'AWS_ACCESS_KEY_ID',
          'AWS_SECRET_ACCESS_KEY',
          'AWS_SESSION_TOKEN',
          'AWS_PROFILE',
        ]) {
          delete process.env[name];
        }
        // moto serves the metadata service (token, role, credentials) as an instance would.
        process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT = moto.endpoint;
        const source = credentialSource(false);
        expect(typeof source).toBe('function');
        const credentials = await (source as () => Promise<object>)();
        expect(credentials).toMatchObject({
          accessKeyId: 'test-key',
          secretAccessKey: 'test-secret-key',
          sessionToken: 'test-session-token',
        });
        process.env.AWS_PROFILE = 'ops';
        const refused = await (credentialSource(false) as () => Promise<unknown>)().catch(
          (e: Error) => e.message,
        );
        expect(refused).toContain('AWS_PROFILE=ops is set');
      } finally {
        process.env = env;
      }
    });
  },
);
