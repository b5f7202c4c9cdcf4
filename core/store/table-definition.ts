/**
 * The one DynamoDB table, as data: CDK (infra/) and the local topology both create it from
 * this, so they cannot drift. One table serves many clusters (pk = cluster name).
 */
export const TABLE_DEFINITION = {
  defaultTableName: 'pgwarden',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  billingMode: 'PAY_PER_REQUEST',
  /** Only history rows carry it; DynamoDB TTL never expires a lease (DESIGN §2). */
  timeToLiveAttribute: 'expires_at',
} as const;
