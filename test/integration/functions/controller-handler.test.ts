import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient } from '../../../adapters/dynamodb/client.ts';
import {
  type EmbeddedDynamoDb,
  startEmbeddedDynamoDb,
} from '../../../adapters/dynamodb/embedded-dynamodb.ts';
import { ensureTable } from '../../../adapters/dynamodb/ensure-table.ts';

function context(remainingMs: number): Context {
  const end = Date.now() + remainingMs;
  return {
    getRemainingTimeInMillis: () => end - Date.now(),
    functionName: 'pgwarden-controller',
    awsRequestId: 'req-1',
  } as unknown as Context;
}

describe('the controller Lambda handler', () => {
  let db: EmbeddedDynamoDb;
  let handler: (event: unknown, ctx: Context) => Promise<{ ticks: number }>;

  beforeAll(async () => {
    db = await startEmbeddedDynamoDb();
    await ensureTable(createDocumentClient({ endpoint: db.endpoint }), 'pgwarden-handler');
    Object.assign(process.env, {
      PGWARDEN_TABLE: 'pgwarden-handler',
      PGWARDEN_AWS_ENDPOINT: db.endpoint,
      PGWARDEN_TICK_SECONDS: '0.2',
      PGWARDEN_DEADLINE_MARGIN_SECONDS: '0.5',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      POWERTOOLS_METRICS_NAMESPACE: 'pgwarden',
    });
    ({ handler } = (await import('../../../functions/controller/handler.ts')) as never);
  });
  afterAll(async () => {
    await db?.stop();
  });

  it('ticks every tick until shortly before the invocation deadline', async () => {
    const started = Date.now();
    const result = await handler({ source: 'aws.events', 'detail-type': 'Scheduled Event' }, context(2000));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result.ticks).toBeGreaterThanOrEqual(5);
  });

  it('rejects an event that is not an object, naming what was expected', async () => {
    await expect(handler('nonsense', context(1000))).rejects.toThrow(/controller event/);
  });
});
