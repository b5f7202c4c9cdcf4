import { randomUUID } from 'node:crypto';
import { historyKey, ItemKey, memberKey, REGISTRY_PK } from '../../core/constants.ts';
import { ConditionFailedError } from '../../core/errors.ts';
import type {
  HistoryRow,
  Initialize,
  Intent,
  Leader,
  Member,
  Observer,
  Op,
  OpCommand,
} from '../../core/model/items.ts';
import { leaderSchema } from '../../core/model/items.ts';
import { parseItem, type RawItem, snapshotFromItems } from '../../core/model/parse-item.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';
import type { CoordinationStore, LeaseRenewal } from '../../core/store/coordination-store.ts';
import type { DocumentPort } from './document-port.ts';
import { translateStoreError } from './errors.ts';

/** History rows are garbage-collected by DynamoDB TTL after this long (never leases). */
const HISTORY_RETENTION_S = 365 * 24 * 3600;

/**
 * Set only in the deliberately broken agent build of the fault campaign (bench/chaos/broken-build.ts),
 * which must make its checkers report a violation; undefined in every real build.
 */
declare const __PGWARDEN_PLANTED_BUG__: string | undefined;
const PLANTED_BUG = typeof __PGWARDEN_PLANTED_BUG__ === 'string' ? __PGWARDEN_PLANTED_BUG__ : undefined;

/** The coordination store over one DynamoDB table (single-item conditional writes only). */
export class DynamoDbStore implements CoordinationStore {
  constructor(
    private readonly doc: DocumentPort,
    readonly tableName: string,
  ) {}

  private async run<T>(operation: string, condition: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw translateStoreError(operation, error, condition);
    }
  }

  /** PutItem IF the item does not exist yet. */
  private putIfAbsent(operation: string, condition: string, item: Record<string, unknown>): Promise<void> {
    return this.run(operation, condition, async () => {
      await this.doc.put({
        TableName: this.tableName,
        Item: item,
        ConditionExpression: 'attribute_not_exists(pk)',
      });
    });
  }

  /** True when the conditional write happened, false when its condition did not hold. */
  private async whether(write: Promise<unknown>): Promise<boolean> {
    try {
      await write;
      return true;
    } catch (error) {
      if (error instanceof ConditionFailedError) return false;
      throw error;
    }
  }

  private async queryAll(pk: string): Promise<RawItem[]> {
    const items: RawItem[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.query({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ConsistentRead: true,
        ...(start ? { ExclusiveStartKey: start } : {}),
      });
      items.push(...((page.Items ?? []) as RawItem[]));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  getSnapshot(cluster: string): Promise<ClusterSnapshot> {
    return this.run('getSnapshot', '', async () => snapshotFromItems(cluster, await this.queryAll(cluster)));
  }

  getLeader(cluster: string): Promise<Leader | undefined> {
    return this.run('getLeader', '', async () => {
      const { Item } = await this.doc.get({
        TableName: this.tableName,
        Key: { pk: cluster, sk: ItemKey.leader },
        ConsistentRead: true,
      });
      return Item ? parseItem(leaderSchema, Item) : undefined;
    });
  }

  listClusters(): Promise<string[]> {
    return this.run('listClusters', '', async () =>
      (await this.queryAll(REGISTRY_PK)).map((item) => String(item.sk)).sort(),
    );
  }

  async registerCluster(cluster: string, by: string, now: number): Promise<void> {
    await this.whether(
      this.putIfAbsent('registerCluster', 'already registered', {
        pk: REGISTRY_PK,
        sk: cluster,
        cluster,
        registered_at: now,
        registered_by: by,
      }),
    );
  }

  removeCluster(cluster: string): Promise<number> {
    return this.run('removeCluster', '', async () => {
      const items = await this.queryAll(cluster);
      for (const item of items) {
        await this.doc.delete({ TableName: this.tableName, Key: { pk: cluster, sk: item.sk } });
      }
      await this.doc.delete({ TableName: this.tableName, Key: { pk: REGISTRY_PK, sk: cluster } });
      return items.length;
    });
  }

  putMember(cluster: string, member: Member): Promise<void> {
    return this.run('putMember', '', async () => {
      await this.doc.put({
        TableName: this.tableName,
        Item: { pk: cluster, sk: memberKey(member.name), ...member },
      });
    });
  }

  deleteMember(cluster: string, name: string): Promise<void> {
    return this.run('deleteMember', '', async () => {
      await this.doc.delete({ TableName: this.tableName, Key: { pk: cluster, sk: memberKey(name) } });
    });
  }

  claimInitialize(cluster: string, init: Initialize): Promise<boolean> {
    return this.whether(
      this.putIfAbsent('claimInitialize', 'the cluster is already initialized', {
        pk: cluster,
        sk: ItemKey.initialize,
        ...init,
      }),
    );
  }

  completeInitialize(cluster: string, by: string, systemIdentifier: string): Promise<void> {
    return this.run('completeInitialize', `${by} is not the initializer`, async () => {
      await this.doc.update({
        TableName: this.tableName,
        Key: { pk: cluster, sk: ItemKey.initialize },
        UpdateExpression: 'SET system_identifier = :sid',
        ConditionExpression: '#by = :by',
        ExpressionAttributeNames: { '#by': 'by' },
        ExpressionAttributeValues: { ':sid': systemIdentifier, ':by': by },
      });
    });
  }

  async createLeader(
    cluster: string,
    lease: { holder: string; ttl: number; lsn: number; timeline: number },
  ): Promise<Leader> {
    const leader: Leader = { ...lease, term: 1, rvn: randomUUID(), sync: [], released: false };
    await this.putIfAbsent('createLeader', 'a leader item exists', {
      pk: cluster,
      sk: ItemKey.leader,
      ...leader,
    });
    return leader;
  }

  private async updateLeader(
    operation: string,
    condition: string,
    cluster: string,
    update: {
      set: Record<string, unknown>;
      increment?: boolean;
      condition: string;
      values: Record<string, unknown>;
    },
  ): Promise<Leader> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ...update.values };
    const assignments = Object.entries(update.set).map(([key, value]) => {
      names[`#${key}`] = key;
      values[`:set_${key}`] = value;
      return `#${key} = :set_${key}`;
    });
    if (update.increment) {
      names['#term'] = 'term';
      values[':one'] = 1;
      assignments.push('#term = #term + :one');
    }
    for (const match of update.condition.matchAll(/#(\w+)/g)) names[`#${match[1]}`] = match[1]!;
    return this.run(operation, condition, async () => {
      const { Attributes } = await this.doc.update({
        TableName: this.tableName,
        Key: { pk: cluster, sk: ItemKey.leader },
        UpdateExpression: `SET ${assignments.join(', ')}`,
        ConditionExpression: update.condition,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      });
      return parseItem(leaderSchema, Attributes as RawItem);
    });
  }

  renewLease(cluster: string, lease: LeaseRenewal): Promise<Leader> {
    const branch =
      lease.timelineSwitchLsn === undefined ? {} : { timeline_switch_lsn: lease.timelineSwitchLsn };
    if (PLANTED_BUG === 'unconditional-renewal')
      return this.updateLeader('renewLease', 'never', cluster, {
        set: {
          holder: lease.holder,
          term: lease.term,
          released: false,
          rvn: randomUUID(),
          ttl: lease.ttl,
          lsn: lease.lsn,
          timeline: lease.timeline,
          renewed_at: lease.renewedAt,
        },
        condition: 'attribute_exists(#holder)',
        values: {},
      });
    return this.updateLeader(
      'renewLease',
      `${lease.holder} no longer holds the lease at term ${lease.term}`,
      cluster,
      {
        set: {
          rvn: randomUUID(),
          ttl: lease.ttl,
          lsn: lease.lsn,
          timeline: lease.timeline,
          ...branch,
          renewed_at: lease.renewedAt,
        },
        condition: '#holder = :holder AND #term = :term AND #released = :false',
        values: { ':holder': lease.holder, ':term': lease.term, ':false': false },
      },
    );
  }

  async releaseLease(cluster: string, lease: { holder: string; term: number }): Promise<void> {
    await this.updateLeader(
      'releaseLease',
      `${lease.holder} no longer holds the lease at term ${lease.term}`,
      cluster,
      {
        set: { rvn: randomUUID(), released: true },
        condition: '#holder = :holder AND #term = :term',
        values: { ':holder': lease.holder, ':term': lease.term },
      },
    );
  }

  async takeOverLease(
    cluster: string,
    takeover: { to: string; term: number; rvn?: string; ttl: number },
  ): Promise<Leader> {
    if (takeover.rvn === undefined) {
      const leader: Leader = {
        holder: takeover.to,
        term: takeover.term + 1,
        rvn: randomUUID(),
        ttl: takeover.ttl,
        sync: [],
        lsn: 0,
        released: false,
      };
      await this.putIfAbsent('takeOverLease', 'a leader item appeared', {
        pk: cluster,
        sk: ItemKey.leader,
        ...leader,
      });
      return leader;
    }
    return this.updateLeader(
      'takeOverLease',
      `the lease moved on from rvn ${takeover.rvn} at term ${takeover.term}`,
      cluster,
      {
        set: { holder: takeover.to, rvn: randomUUID(), ttl: takeover.ttl, sync: [], released: false },
        increment: true,
        condition: '#rvn = :observed AND #term = :term',
        values: { ':observed': takeover.rvn, ':term': takeover.term },
      },
    );
  }

  handOverLease(
    cluster: string,
    handover: { from: string; to: string; term: number; ttl: number; sync?: readonly string[] },
  ): Promise<Leader> {
    return this.updateLeader(
      'handOverLease',
      `${handover.from} no longer holds the lease at term ${handover.term}`,
      cluster,
      {
        set: {
          holder: handover.to,
          rvn: randomUUID(),
          ttl: handover.ttl,
          sync: [...(handover.sync ?? [])],
          released: false,
        },
        increment: true,
        condition: '#holder = :from AND #term = :term',
        values: { ':from': handover.from, ':term': handover.term },
      },
    );
  }

  async recordSync(
    cluster: string,
    sync: { holder: string; term: number; standbys: readonly string[] },
  ): Promise<void> {
    await this.updateLeader(
      'recordSync',
      `${sync.holder} no longer holds the lease at term ${sync.term}`,
      cluster,
      {
        set: { sync: [...sync.standbys] },
        condition: '#holder = :holder AND #term = :term',
        values: { ':holder': sync.holder, ':term': sync.term },
      },
    );
  }

  getConfig(cluster: string): Promise<{ version: number; data: Record<string, unknown> }> {
    return this.run('getConfig', '', async () => {
      const { Item } = await this.doc.get({
        TableName: this.tableName,
        Key: { pk: cluster, sk: ItemKey.config },
        ConsistentRead: true,
      });
      if (!Item) return { version: 0, data: {} };
      return { version: Number(Item.version), data: (Item.data ?? {}) as Record<string, unknown> };
    });
  }

  putConfig(
    cluster: string,
    data: Record<string, unknown>,
    expectedVersion: number,
    by: string,
    now: number,
  ): Promise<number> {
    const version = expectedVersion + 1;
    return this.run('putConfig', `the config is no longer at version ${expectedVersion}`, async () => {
      await this.doc.put({
        TableName: this.tableName,
        Item: { pk: cluster, sk: ItemKey.config, version, data, updated_by: by, updated_at: now },
        ConditionExpression: expectedVersion === 0 ? 'attribute_not_exists(pk)' : '#version = :expected',
        ...(expectedVersion === 0
          ? {}
          : {
              ExpressionAttributeNames: { '#version': 'version' },
              ExpressionAttributeValues: { ':expected': expectedVersion },
            }),
      });
      return version;
    });
  }

  putIntent(cluster: string, intent: Intent, options: { onlyIfAbsent?: boolean } = {}): Promise<void> {
    return this.run('putIntent', 'another intent is pending', async () => {
      await this.doc.put({
        TableName: this.tableName,
        Item: { pk: cluster, sk: ItemKey.intent, ...intent },
        ...(options.onlyIfAbsent
          ? { ConditionExpression: 'attribute_not_exists(pk) OR attribute_exists(outcome)' }
          : {}),
      });
    });
  }

  deleteIntent(cluster: string, id: string): Promise<boolean> {
    return this.whether(
      this.run('deleteIntent', `the intent is no longer ${id}`, () =>
        this.doc.delete({
          TableName: this.tableName,
          Key: { pk: cluster, sk: ItemKey.intent },
          ConditionExpression: '#id = :id',
          ExpressionAttributeNames: { '#id': 'id' },
          ExpressionAttributeValues: { ':id': id },
        }),
      ),
    );
  }

  resolveIntent(
    cluster: string,
    id: string,
    outcome: { ok: boolean; message: string; at: number },
  ): Promise<boolean> {
    return this.whether(
      this.run('resolveIntent', `the intent is no longer ${id}`, () =>
        this.doc.update({
          TableName: this.tableName,
          Key: { pk: cluster, sk: ItemKey.intent },
          UpdateExpression: 'SET outcome = :outcome',
          ConditionExpression: '#id = :id',
          ExpressionAttributeNames: { '#id': 'id' },
          ExpressionAttributeValues: { ':id': id, ':outcome': outcome },
        }),
      ),
    );
  }

  beginOp(cluster: string, op: Op): Promise<void> {
    return this.putIfAbsent('beginOp', 'another operation is in flight', {
      pk: cluster,
      sk: ItemKey.op,
      ...op,
    });
  }

  updateOp(cluster: string, op: Op): Promise<void> {
    return this.run('updateOp', `the operation is no longer at version ${op.version - 1}`, async () => {
      await this.doc.put({
        TableName: this.tableName,
        Item: { pk: cluster, sk: ItemKey.op, ...op },
        ConditionExpression: '#version = :expected AND #id = :id',
        ExpressionAttributeNames: { '#version': 'version', '#id': 'id' },
        ExpressionAttributeValues: { ':expected': op.version - 1, ':id': op.id },
      });
    });
  }

  recordOpCommand(cluster: string, op: Op, command: OpCommand | null): Promise<void> {
    return this.run('recordOpCommand', `the operation is no longer at version ${op.version}`, async () => {
      await this.doc.update({
        TableName: this.tableName,
        Key: { pk: cluster, sk: ItemKey.op },
        UpdateExpression: command ? 'SET #command = :command' : 'REMOVE #command',
        ConditionExpression: '#version = :expected AND #id = :id',
        ExpressionAttributeNames: { '#command': 'command', '#version': 'version', '#id': 'id' },
        ExpressionAttributeValues: {
          ...(command ? { ':command': command } : {}),
          ':expected': op.version,
          ':id': op.id,
        },
      });
    });
  }

  endOp(cluster: string, op: Op): Promise<void> {
    return this.run('endOp', `the operation is no longer at version ${op.version}`, async () => {
      await this.doc.delete({
        TableName: this.tableName,
        Key: { pk: cluster, sk: ItemKey.op },
        ConditionExpression: '#version = :expected AND #id = :id',
        ExpressionAttributeNames: { '#version': 'version', '#id': 'id' },
        ExpressionAttributeValues: { ':expected': op.version, ':id': op.id },
      });
    });
  }

  putObserver(cluster: string, observer: Observer): Promise<number> {
    const version = observer.version + 1;
    return this.run('putObserver', `the observer is no longer at version ${observer.version}`, async () => {
      await this.doc.put({
        TableName: this.tableName,
        Item: { pk: cluster, sk: ItemKey.observer, ...observer, version },
        ConditionExpression: observer.version === 0 ? 'attribute_not_exists(pk)' : '#version = :expected',
        ...(observer.version === 0
          ? {}
          : {
              ExpressionAttributeNames: { '#version': 'version' },
              ExpressionAttributeValues: { ':expected': observer.version },
            }),
      });
      return version;
    });
  }

  appendHistory(cluster: string, row: HistoryRow): Promise<boolean> {
    const expires_at = Math.floor(row.at / 1000) + HISTORY_RETENTION_S;
    return this.whether(
      this.putIfAbsent('appendHistory', `history for term ${row.term} exists`, {
        pk: cluster,
        sk: historyKey(row.term),
        ...row,
        expires_at,
      }),
    );
  }
}
