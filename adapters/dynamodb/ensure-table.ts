import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { TABLE_DEFINITION } from '../../core/store/table-definition.ts';

/** Creates the pgwarden table from TABLE_DEFINITION when it does not exist, and waits until ACTIVE. */
export async function ensureTable(client: Pick<DynamoDBClient, 'send'>, tableName: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [
          {
            AttributeName: TABLE_DEFINITION.partitionKey.name,
            AttributeType: TABLE_DEFINITION.partitionKey.type,
          },
          { AttributeName: TABLE_DEFINITION.sortKey.name, AttributeType: TABLE_DEFINITION.sortKey.type },
        ],
        KeySchema: [
          { AttributeName: TABLE_DEFINITION.partitionKey.name, KeyType: 'HASH' },
          { AttributeName: TABLE_DEFINITION.sortKey.name, KeyType: 'RANGE' },
        ],
        BillingMode: TABLE_DEFINITION.billingMode,
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException) && (error as Error).name !== 'ResourceInUseException')
      throw error;
  }
  for (let i = 0; i < 100; i += 1) {
    try {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      if (Table?.TableStatus === 'ACTIVE') return;
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`table ${tableName} did not become ACTIVE within 10 s`);
}
