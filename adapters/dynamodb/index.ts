export { createDocumentClient, type DynamoClientOptions } from './client.ts';
export { DynamoDbStore } from './dynamodb-store.ts';
export { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from './embedded-dynamodb.ts';
export { ensureTable } from './ensure-table.ts';
