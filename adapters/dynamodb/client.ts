import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface DynamoClientOptions {
  readonly region?: string;
  /** DynamoDB-compatible endpoint: dynalite, moto, LocalStack. Default: AWS. */
  readonly endpoint?: string;
  /** Per-request timeout, so a hung store never outlives the caller's deadline. @default 1000 */
  readonly requestTimeoutMs?: number;
  /** @default 3 */
  readonly maxAttempts?: number;
}

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
