import { randomUUID } from 'node:crypto';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient, createSdkDocuments } from '../../../adapters/dynamodb/client.ts';
import type { DynamoClientOptions } from '../../../adapters/dynamodb/client-options.ts';
import type { DocumentPort } from '../../../adapters/dynamodb/document-port.ts';
import { DynamoDbStore } from '../../../adapters/dynamodb/dynamodb-store.ts';
import { ensureTable } from '../../../adapters/dynamodb/ensure-table.ts';
import { createJsonDocuments } from '../../../adapters/dynamodb/json-documents.ts';
import { ConditionFailedError, StoreUnavailableError } from '../../../core/errors.ts';
import { buildMember, buildOp } from '../../helpers/builders.ts';
import { ALL_BACKENDS, type DynamoBackend } from '../../helpers/dynamo-backends.ts';

/** The store runs on two document clients: the SDK's (controller, CLI) and the agent's own. */
const CLIENTS: { name: string; make: (options: DynamoClientOptions) => DocumentPort }[] = [
  { name: 'the AWS SDK document client', make: createSdkDocuments },
  { name: "the agent's JSON-protocol client", make: createJsonDocuments },
];
const COMBINATIONS = ALL_BACKENDS.flatMap((factory) =>
  CLIENTS.map((client) => ({ factory, client, name: `${factory.name} through ${client.name}` })),
);

describe.each(COMBINATIONS)('the DynamoDB store against $name', ({ factory, client }) => {
  let backend: DynamoBackend;
  let store: DynamoDbStore;
  const table = `pgwarden-contract-${randomUUID().slice(0, 8)}`;
  const cluster = () => `c-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    if (factory.skipReason) {
      console.warn(`[contract] skipping backend ${factory.name}: ${factory.skipReason}`);
      return;
    }
    backend = await factory.start();
    await ensureTable(createDocumentClient({ endpoint: backend.endpoint, requestTimeoutMs: 5000 }), table);
    store = new DynamoDbStore(client.make({ endpoint: backend.endpoint, requestTimeoutMs: 5000 }), table);
    console.info(`[contract] running against ${factory.name} at ${backend.endpoint}`);
  });
  afterAll(async () => {
    await backend?.stop();
  });

  const test = it.skipIf(factory.skipReason !== undefined);
  const race = it.skipIf(factory.skipReason !== undefined || factory.raceSkipReason !== undefined);
  if (factory.raceSkipReason && !factory.skipReason) {
    console.warn(`[contract] ${factory.name}: concurrent races not run: ${factory.raceSkipReason}`);
  }

  race('lets exactly one node claim initialize', async () => {
    const c = cluster();
    const results = await Promise.all(
      ['a', 'b', 'c', 'd'].map((by) => store.claimInitialize(c, { by, at: 1 })),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  test('creates the first lease once, at term 1', async () => {
    const c = cluster();
    const leader = await store.createLeader(c, { holder: 'n1', ttl: 10, lsn: 100, timeline: 1 });
    expect(leader).toMatchObject({ holder: 'n1', term: 1, sync: [], released: false });
    await expect(
      store.createLeader(c, { holder: 'n2', ttl: 10, lsn: 0, timeline: 1 }),
    ).rejects.toBeInstanceOf(ConditionFailedError);
  });

  test('renews with a fresh rvn while holder and term match', async () => {
    const c = cluster();
    const first = await store.createLeader(c, { holder: 'n1', ttl: 10, lsn: 0, timeline: 1 });
    const renewed = await store.renewLease(c, {
      holder: 'n1',
      term: 1,
      ttl: 10,
      lsn: 42,
      timeline: 1,
      renewedAt: 5,
    });
    expect(renewed.rvn).not.toBe(first.rvn);
    expect(renewed.lsn).toBe(42);
    await expect(
      store.renewLease(c, { holder: 'n2', term: 1, ttl: 10, lsn: 0, timeline: 1, renewedAt: 5 }),
    ).rejects.toBeInstanceOf(ConditionFailedError);
  });

  test("keeps where the holder's timeline branched off: set when given, unchanged when not", async () => {
    const c = cluster();
    await store.createLeader(c, { holder: 'n1', ttl: 10, lsn: 0, timeline: 1 });
    const base = { holder: 'n1', term: 1, ttl: 10, lsn: 42, renewedAt: 5 };
    expect(
      (await store.renewLease(c, { ...base, timeline: 2, timelineSwitchLsn: 40 })).timeline_switch_lsn,
    ).toBe(40);
    expect((await store.renewLease(c, { ...base, timeline: 2 })).timeline_switch_lsn).toBe(40);
    expect(
      (await store.renewLease(c, { ...base, timeline: 1, timelineSwitchLsn: null })).timeline_switch_lsn,
    ).toBeNull();
  });

  race('lets exactly one of 20 concurrent takeovers of one observed lease win', async () => {
    const c = cluster();
    const observed = await store.createLeader(c, { holder: 'old', ttl: 10, lsn: 0, timeline: 1 });
    const attempts = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        store.takeOverLease(c, { to: `n${i}`, term: 1, rvn: observed.rvn, ttl: 10 }),
      ),
    );
    const won = attempts.filter((a) => a.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const lost of attempts.filter((a) => a.status === 'rejected')) {
      expect((lost as PromiseRejectedResult).reason).toBeInstanceOf(ConditionFailedError);
    }
    const leader = await store.getLeader(c);
    expect(leader?.term).toBe(2);
    expect(leader?.holder).toBe((won[0] as PromiseFulfilledResult<{ holder: string }>).value.holder);
  });

  test('refuses a renewal after a takeover', async () => {
    const c = cluster();
    const observed = await store.createLeader(c, { holder: 'old', ttl: 10, lsn: 0, timeline: 1 });
    await store.takeOverLease(c, { to: 'new', term: 1, rvn: observed.rvn, ttl: 10 });
    await expect(
      store.renewLease(c, { holder: 'old', term: 1, ttl: 10, lsn: 1, timeline: 1, renewedAt: 1 }),
    ).rejects.toBeInstanceOf(ConditionFailedError);
  });

  test('refuses a takeover with a stale rvn (the holder renewed in between)', async () => {
    const c = cluster();
    const observed = await store.createLeader(c, { holder: 'old', ttl: 10, lsn: 0, timeline: 1 });
    await store.renewLease(c, { holder: 'old', term: 1, ttl: 10, lsn: 1, timeline: 1, renewedAt: 1 });
    await expect(
      store.takeOverLease(c, { to: 'new', term: 1, rvn: observed.rvn, ttl: 10 }),
    ).rejects.toBeInstanceOf(ConditionFailedError);
    expect((await store.getLeader(c))?.holder).toBe('old');
  });

  test('hands over only from the current holder and term, recording the given sync standbys', async () => {
    const c = cluster();
    await store.createLeader(c, { holder: 'a', ttl: 10, lsn: 0, timeline: 1 });
    await store.recordSync(c, { holder: 'a', term: 1, standbys: ['b'] });
    await expect(store.handOverLease(c, { from: 'x', to: 'b', term: 1, ttl: 10 })).rejects.toBeInstanceOf(
      ConditionFailedError,
    );
    const handed = await store.handOverLease(c, { from: 'a', to: 'b', term: 1, ttl: 10 });
    expect(handed).toMatchObject({ holder: 'b', term: 2, sync: [] });
    const again = await store.handOverLease(c, { from: 'b', to: 'a', term: 2, ttl: 10, sync: ['d', 'c'] });
    expect(again).toMatchObject({ holder: 'a', term: 3, sync: ['d', 'c'] });
    expect((await store.getLeader(c))?.sync).toEqual(['d', 'c']);
  });

  test('releases the lease so that renewals stop and takeover needs no wait', async () => {
    const c = cluster();
    await store.createLeader(c, { holder: 'a', ttl: 10, lsn: 0, timeline: 1 });
    await store.releaseLease(c, { holder: 'a', term: 1 });
    const leader = await store.getLeader(c);
    expect(leader?.released).toBe(true);
    await expect(
      store.renewLease(c, { holder: 'a', term: 1, ttl: 10, lsn: 1, timeline: 1, renewedAt: 1 }),
    ).rejects.toBeInstanceOf(ConditionFailedError);
    const taken = await store.takeOverLease(c, { to: 'b', term: 1, rvn: leader!.rvn, ttl: 10 });
    expect(taken).toMatchObject({ holder: 'b', term: 2, released: false });
  });

  test('takes over a missing lease only while it is missing', async () => {
    const c = cluster();
    await store.takeOverLease(c, { to: 'b', term: 4, ttl: 10 });
    expect((await store.getLeader(c))?.term).toBe(5);
    await expect(store.takeOverLease(c, { to: 'c', term: 4, ttl: 10 })).rejects.toBeInstanceOf(
      ConditionFailedError,
    );
  });

  test('writes config with compare-and-set on its version and refuses a stale one', async () => {
    const c = cluster();
    expect(await store.getConfig(c)).toEqual({ version: 0, data: {} });
    expect(await store.putConfig(c, { ttl: 20 }, 0, 'test', 1)).toBe(1);
    await expect(store.putConfig(c, { ttl: 30 }, 0, 'test', 2)).rejects.toBeInstanceOf(ConditionFailedError);
    expect(await store.putConfig(c, { ttl: 30 }, 1, 'test', 2)).toBe(2);
    await expect(store.putConfig(c, { ttl: 40 }, 1, 'test', 3)).rejects.toBeInstanceOf(ConditionFailedError);
    expect(await store.getConfig(c)).toEqual({ version: 2, data: { ttl: 30 } });
  });

  test('keeps one op at a time and moves it by compare-and-set', async () => {
    const c = cluster();
    const op = buildOp({ version: 1 });
    await store.beginOp(c, op);
    await expect(store.beginOp(c, op)).rejects.toBeInstanceOf(ConditionFailedError);
    await store.updateOp(c, { ...op, step: 'fence', version: 2 });
    await expect(store.updateOp(c, { ...op, step: 'promote', version: 2 })).rejects.toBeInstanceOf(
      ConditionFailedError,
    );
    await expect(store.endOp(c, { ...op, version: 1 })).rejects.toBeInstanceOf(ConditionFailedError);
    await store.endOp(c, { ...op, version: 2 });
    expect((await store.getSnapshot(c)).op).toBeUndefined();
  });

  test('appends one history row per term', async () => {
    const c = cluster();
    const row = {
      term: 3,
      kind: 'failover' as const,
      new: 'b',
      old: 'a',
      reason: 'r',
      rule: 160,
      at: 1,
      timings: {},
    };
    expect(await store.appendHistory(c, row)).toBe(true);
    expect(await store.appendHistory(c, { ...row, new: 'c' })).toBe(false);
    expect((await store.getSnapshot(c)).history).toEqual([row]);
  });

  test('deletes an intent only when it still has the same id', async () => {
    const c = cluster();
    const intent = { id: 'i1', kind: 'switchover' as const, requested_by: 'op', requested_at: 1 };
    await store.putIntent(c, intent, { onlyIfAbsent: true });
    await expect(store.putIntent(c, { ...intent, id: 'i2' }, { onlyIfAbsent: true })).rejects.toBeInstanceOf(
      ConditionFailedError,
    );
    expect(await store.deleteIntent(c, 'other')).toBe(false);
    expect(await store.deleteIntent(c, 'i1')).toBe(true);
  });

  test('keeps a resolved intent as a receipt that a new intent may replace', async () => {
    const c = cluster();
    const intent = { id: 'i1', kind: 'switchover' as const, requested_by: 'op', requested_at: 1 };
    await store.putIntent(c, intent, { onlyIfAbsent: true });
    expect(await store.resolveIntent(c, 'other', { ok: true, message: 'x', at: 2 })).toBe(false);
    expect(await store.resolveIntent(c, 'i1', { ok: false, message: 'refused: reasons', at: 2 })).toBe(true);
    expect((await store.getSnapshot(c)).intent?.outcome).toEqual({
      ok: false,
      message: 'refused: reasons',
      at: 2,
    });
    await store.putIntent(c, { ...intent, id: 'i2' }, { onlyIfAbsent: true });
    expect((await store.getSnapshot(c)).intent).toMatchObject({ id: 'i2' });
    expect((await store.getSnapshot(c)).intent?.outcome).toBeUndefined();
  });

  test('stores observations by compare-and-set', async () => {
    const c = cluster();
    const observer = {
      members: {},
      rejoin_requested: {},
      malformed_reported: [],
      version: 0,
      leader: { rvn: 'r', first_seen: 5 },
    };
    expect(await store.putObserver(c, observer)).toBe(1);
    await expect(store.putObserver(c, observer)).rejects.toBeInstanceOf(ConditionFailedError);
    expect(await store.putObserver(c, { ...observer, version: 1 })).toBe(2);
    expect((await store.getSnapshot(c)).observer).toMatchObject({
      version: 2,
      leader: { rvn: 'r', first_seen: 5 },
    });
  });

  test('reports a malformed item with its key and still returns the rest of the snapshot', async () => {
    const c = cluster();
    await store.createLeader(c, { holder: 'n1', ttl: 10, lsn: 0, timeline: 1 });
    await store.putMember(c, buildMember('n1'));
    const doc = createDocumentClient({ endpoint: backend.endpoint });
    await doc.send(
      new PutCommand({ TableName: table, Item: { pk: c, sk: 'member#broken', role: 'emperor' } }),
    );
    const snapshot = await store.getSnapshot(c);
    expect(snapshot.leader?.holder).toBe('n1');
    expect(snapshot.members.map((m) => m.name)).toEqual(['n1']);
    expect(snapshot.malformed).toHaveLength(1);
    expect(snapshot.malformed[0]).toMatchObject({ code: 'ITEM_MALFORMED', pk: c, sk: 'member#broken' });
    expect(snapshot.malformed[0]!.message).toContain('role');
  });

  test('registers and lists clusters, and removes one with all its items', async () => {
    const a = cluster();
    const b = cluster();
    await store.registerCluster(a, 'n1', 1);
    await store.registerCluster(a, 'n2', 1);
    await store.registerCluster(b, 'n1', 1);
    await store.putMember(a, buildMember('n1'));
    const listed = await store.listClusters();
    expect(listed).toEqual(expect.arrayContaining([a, b]));
    expect(await store.removeCluster(a)).toBe(1);
    expect(await store.listClusters()).not.toContain(a);
    expect((await store.getSnapshot(a)).members).toEqual([]);
  });
});

describe.each(CLIENTS)('the DynamoDB store on $name when the endpoint does not answer', (client) => {
  it('fails with a retryable StoreUnavailableError when nothing listens', async () => {
    const store = new DynamoDbStore(
      client.make({ endpoint: 'http://127.0.0.1:9', requestTimeoutMs: 300, maxAttempts: 1 }),
      'nowhere',
    );
    const error = await store.getLeader('c').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreUnavailableError).code).toBe('STORE_UNAVAILABLE');
  });

  it('gives up on an endpoint that accepts and never answers within its request timeout', async () => {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const store = new DynamoDbStore(
        client.make({ endpoint: `http://127.0.0.1:${port}`, requestTimeoutMs: 300, maxAttempts: 2 }),
        'hung',
      );
      const started = Date.now();
      const error = await store.getLeader('c').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      // Two attempts of 300 ms and a short back-off: far below the lease's local validity.
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
