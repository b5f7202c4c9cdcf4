import { startEmbeddedDynamoDb } from '../adapters/dynamodb/embedded-dynamodb.ts';

/** The DynamoDB a topology uses: dynalite in this process, or an endpoint it was given. */
export interface DynamoBackend {
  readonly endpoint: string;
  readonly host: string;
  readonly port: number;
  readonly embedded: boolean;
  stop(): Promise<void>;
}

export async function dynamoBackend(awsEndpoint: string | undefined): Promise<DynamoBackend> {
  if (!awsEndpoint) {
    const db = await startEmbeddedDynamoDb();
    return { endpoint: db.endpoint, host: '127.0.0.1', port: db.port, embedded: true, stop: () => db.stop() };
  }
  let url: URL;
  try {
    url = new URL(awsEndpoint);
  } catch {
    throw new Error(`--aws-endpoint: got ${JSON.stringify(awsEndpoint)}, expected an http(s) URL`);
  }
  if (url.protocol !== 'http:')
    throw new Error(`--aws-endpoint: got ${awsEndpoint}, expected an http:// URL (LocalStack, moto)`);
  const host = url.hostname === 'localhost' ? '127.0.0.1' : url.hostname;
  return { endpoint: awsEndpoint, host, port: Number(url.port || 80), embedded: false, stop: async () => {} };
}
