import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { DynamoClientOptions } from './client-options.ts';
import type { DocumentPort } from './document-port.ts';

export type { DynamoClientOptions } from './client-options.ts';

/**
 * A document client for the pgwarden table. Against a local endpoint with no credentials in
 * the environment it uses fixed dummy credentials, as dynalite, moto and LocalStack accept any.
 */
export function createDocumentClient(options: DynamoClientOptions = {}): DynamoDBDocumentClient {
  const hasCredentials = !!process.env.AWS_ACCESS_KEY_ID || !!process.env.AWS_PROFILE;
  // The SDK itself honours AWS_ENDPOINT_URL (LocalStack, moto); such endpoints accept any credentials.
  const local = options.endpoint ?? process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL;
  const client = new DynamoDBClient({
    region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(local && !hasCredentials
      ? { credentials: { accessKeyId: 'pgwarden-local', secretAccessKey: 'pgwarden-local' } }
      : {}),
    maxAttempts: options.maxAttempts ?? 3,
    requestHandler: {
      requestTimeout: options.requestTimeoutMs ?? 1000,
      connectionTimeout: Math.min(options.requestTimeoutMs ?? 1000, 1000),
      // Without it the SDK only logs a warning and the request hangs on: a lease must not.
      throwOnRequestTimeout: true,
    },
  });
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
}

/** The store's document operations through the SDK's document client. */
export function sdkDocuments(doc: Pick<DynamoDBDocumentClient, 'send'>): DocumentPort {
  return {
    get: (input) => doc.send(new GetCommand(input)),
    put: (input) => doc.send(new PutCommand(input)),
    update: (input) => doc.send(new UpdateCommand(input)),
    delete: (input) => doc.send(new DeleteCommand(input)),
    query: (input) => doc.send(new QueryCommand(input)),
  };
}

/** The SDK's document client as the store's document port. */
export function createSdkDocuments(options: DynamoClientOptions = {}): DocumentPort {
  return sdkDocuments(createDocumentClient(options));
}
