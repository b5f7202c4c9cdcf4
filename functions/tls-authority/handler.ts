import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { createAuthority } from '../../adapters/tls/certificates.ts';

export interface AuthorityResult {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string>;
}

function isAuthority(text: string | undefined): boolean {
  try {
    const value = JSON.parse(text ?? '') as { cert?: unknown; key?: unknown };
    return (
      typeof value.cert === 'string' &&
      value.cert.includes('BEGIN CERTIFICATE') &&
      typeof value.key === 'string' &&
      value.key.includes('BEGIN PRIVATE KEY')
    );
  } catch {
    return false;
  }
}

/**
 * The cluster's certificate authority, as a CloudFormation custom resource (the CDK provider
 * framework calls this on create, update and delete). On create, or when the secret holds no
 * authority yet, it writes a new one ({cert, key} as JSON) into the secret the stack made; an
 * authority already there is kept (an update never rotates it: every host's certificate chains to
 * it). Delete leaves the secret to CloudFormation. The key never leaves Secrets Manager but for the
 * hosts, which read it once at boot to issue their own certificate.
 */
export async function ensureAuthority(
  event: CloudFormationCustomResourceEvent,
  client: SecretsManagerClient,
): Promise<AuthorityResult> {
  const secretArn = String(event.ResourceProperties.SecretArn ?? '');
  const commonName = String(event.ResourceProperties.CommonName ?? 'pgwarden CA');
  if (!secretArn)
    throw new Error('ResourceProperties.SecretArn: expected the ARN of the secret to hold the authority');
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
  const current = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  if (!isAuthority(current.SecretString)) {
    const authority = await createAuthority(commonName);
    await client.send(
      new PutSecretValueCommand({ SecretId: secretArn, SecretString: JSON.stringify(authority) }),
    );
  }
  return { PhysicalResourceId: secretArn, Data: { SecretArn: secretArn } };
}

const client = new SecretsManagerClient({});

export const handler = (event: CloudFormationCustomResourceEvent): Promise<AuthorityResult> =>
  ensureAuthority(event, client);
