import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { doesIdentityRequireRefresh, isIdentityExpired, memoizeIdentityProvider } from '@smithy/core';
import { Hash } from '@smithy/core/serde';
import { fromContainerMetadata, fromInstanceMetadata } from '@smithy/credential-provider-imds';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { DynamoClientOptions } from './client-options.ts';
import type { DocumentItem, DocumentPort } from './document-port.ts';

/** DynamoDB errors worth another attempt (the SDK's standard retry strategy retries these too). */
const RETRYABLE = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TransactionInProgressException',
]);
const MARSHALL = { removeUndefinedValues: true, convertClassInstanceToMap: false } as const;
/** The request fields that carry attribute values (marshalled) rather than plain parameters. */
const VALUE_FIELDS = ['Item', 'Key', 'ExpressionAttributeValues', 'ExclusiveStartKey'] as const;

/** A DynamoDB error as the SDK reports it: `name` is the exception type. */
class DynamoDbServiceError extends Error {
  constructor(
    override readonly name: string,
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
  }
}

class Sha256 extends Hash {
  constructor(secret?: unknown) {
    super('sha256', secret as never);
  }
}

/** Where credentials come from, in the SDK's order for the sources an agent host has. */
export function credentialSource(local: boolean): AwsCredentialIdentity | AwsCredentialIdentityProvider {
  const env = process.env;
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    };
  }
  // dynalite, moto and LocalStack accept any credentials.
  if (local) return { accessKeyId: 'pgwarden-local', secretAccessKey: 'pgwarden-local' };
  if (env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE) {
    const source = env.AWS_PROFILE ? `AWS_PROFILE=${env.AWS_PROFILE}` : 'AWS_WEB_IDENTITY_TOKEN_FILE';
    return () =>
      Promise.reject(
        new Error(
          `${source} is set, but the agent takes credentials only from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the container endpoint or the instance profile: export them (aws configure export-credentials --format env)`,
        ),
      );
  }
  const remote =
    env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || env.AWS_CONTAINER_CREDENTIALS_FULL_URI
      ? fromContainerMetadata({ timeout: 1000, maxRetries: 1 })
      : fromInstanceMetadata({ timeout: 1000, maxRetries: 1 });
  return memoizeIdentityProvider(
    remote,
    isIdentityExpired,
    doesIdentityRequireRefresh,
  ) as AwsCredentialIdentityProvider;
}

function endpointFor(region: string, configured: string | undefined): URL {
  if (configured) return new URL(configured);
  return new URL(`https://dynamodb.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`);
}

/**
 * DynamoDB's JSON protocol over node:http(s), signed by the SDK's own SigV4 signer and
 * marshalled by its util-dynamodb: what the agent runs instead of the SDK's DynamoDB client,
 * whose operation schemas alone cost the agent ~5 MB of memory (bench/README.md). Requests time
 * out after `requestTimeoutMs` (really: the socket is destroyed), and network errors, 5xx and
 * throttling are retried up to `maxAttempts`, as the SDK does.
 */
export function createJsonDocuments(options: DynamoClientOptions = {}): DocumentPort {
  const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  // An explicit endpoint is dynalite, moto or LocalStack, as for the SDK client (client.ts).
  const configured =
    options.endpoint ?? process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL;
  const url = endpointFor(region, configured);
  const tls = url.protocol === 'https:';
  const agent = tls
    ? new HttpsAgent({ keepAlive: true, maxSockets: 4 })
    : new HttpAgent({ keepAlive: true, maxSockets: 4 });
  const signer = new SignatureV4({
    service: 'dynamodb',
    region,
    credentials: credentialSource(configured !== undefined),
    sha256: Sha256,
  });
  const timeoutMs = options.requestTimeoutMs ?? 1000;
  const attempts = Math.max(1, options.maxAttempts ?? 3);

  async function once(target: string, body: string): Promise<DocumentItem> {
    const signed = await signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname || '/',
      query: {},
      headers: {
        host: url.host,
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `DynamoDB_20120810.${target}`,
        'content-length': String(Buffer.byteLength(body)),
      },
      body,
    });
    const send = tls ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(
        {
          protocol: url.protocol,
          hostname: url.hostname,
          port: url.port || (tls ? 443 : 80),
          path: url.pathname || '/',
          method: 'POST',
          headers: signed.headers,
          agent,
          signal: AbortSignal.timeout(timeoutMs),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: DocumentItem;
            try {
              parsed = text ? (JSON.parse(text) as DocumentItem) : {};
            } catch {
              reject(
                new DynamoDbServiceError(
                  'UnknownError',
                  `${target}: not JSON: ${text.slice(0, 200)}`,
                  res.statusCode ?? 0,
                ),
              );
              return;
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve(parsed);
            const type = String(parsed.__type ?? (status >= 500 ? 'InternalServerError' : 'UnknownError'));
            const message = String(parsed.message ?? parsed.Message ?? `HTTP ${status}`);
            reject(new DynamoDbServiceError(type.slice(type.lastIndexOf('#') + 1), message, status));
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  async function call(target: string, input: object): Promise<DocumentItem> {
    const wire: DocumentItem = { ...input };
    for (const field of VALUE_FIELDS) {
      const value = wire[field];
      if (value !== undefined) wire[field] = marshall(value as DocumentItem, MARSHALL);
    }
    const body = JSON.stringify(wire);
    for (let attempt = 1; ; attempt++) {
      try {
        return await once(target, body);
      } catch (error) {
        const service = error instanceof DynamoDbServiceError;
        const retryable = !service || error.statusCode >= 500 || RETRYABLE.has(error.name);
        if (!retryable || attempt >= attempts) throw error;
        await new Promise((r) => setTimeout(r, Math.random() * 50 * 2 ** attempt));
      }
    }
  }

  const item = (value: unknown) => (value ? unmarshall(value as never) : undefined);
  return {
    get: async (input) => {
      const out = await call('GetItem', input);
      return out.Item ? { Item: item(out.Item) } : {};
    },
    put: (input) => call('PutItem', input),
    update: async (input) => {
      const out = await call('UpdateItem', input);
      return out.Attributes ? { Attributes: item(out.Attributes) } : {};
    },
    delete: (input) => call('DeleteItem', input),
    query: async (input) => {
      const out = await call('Query', input);
      return {
        Items: ((out.Items as unknown[] | undefined) ?? []).map((i) => item(i)!),
        ...(out.LastEvaluatedKey ? { LastEvaluatedKey: item(out.LastEvaluatedKey) } : {}),
      };
    },
  };
}
