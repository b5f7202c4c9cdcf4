import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueCertificate } from '../../../adapters/tls/certificates.ts';
import { ensureAuthority } from '../../../functions/tls-authority/handler.ts';
import { type DynamoBackend, motoBackend } from '../../helpers/dynamo-backends.ts';

function event(
  type: 'Create' | 'Update' | 'Delete',
  properties: Record<string, string>,
  physical = 'none',
): CloudFormationCustomResourceEvent {
  const common = {
    ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:provider',
    ResponseURL: 'https://example.invalid/',
    StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/P/1',
    RequestId: 'r1',
    LogicalResourceId: 'Authority',
    ResourceType: 'Custom::PgwardenTlsAuthority',
    ResourceProperties: { ServiceToken: 'x', ...properties },
  };
  if (type === 'Create') return { ...common, RequestType: 'Create' };
  if (type === 'Update')
    return {
      ...common,
      RequestType: 'Update',
      PhysicalResourceId: physical,
      OldResourceProperties: { ServiceToken: 'x' },
    };
  return { ...common, RequestType: 'Delete', PhysicalResourceId: physical };
}

describe.skipIf(motoBackend.skipReason !== undefined)(
  'the certificate-authority custom resource, against moto',
  () => {
    let moto: DynamoBackend;
    let client: SecretsManagerClient;
    let arn: string;
    const dir = mkdtempSync('/tmp/pgwarden-ca-');

    beforeAll(async () => {
      moto = await motoBackend.start();
      client = new SecretsManagerClient({
        region: 'us-east-1',
        endpoint: moto.endpoint,
        credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      });
      // As CDK creates it: a secret with a generated (random) value.
      arn = (await client.send(new CreateSecretCommand({ Name: 'ca', SecretString: 'Gx7#random' }))).ARN!;
    });
    afterAll(async () => {
      await moto?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    const value = async () =>
      JSON.parse((await client.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString!) as {
        cert: string;
        key: string;
      };

    it('on create, fills the secret with an authority that signs certificates openssl verifies', async () => {
      const result = await ensureAuthority(
        event('Create', { SecretArn: arn, CommonName: 'pgwarden demo CA' }),
        client,
      );
      expect(result.PhysicalResourceId).toBe(arn);
      const authority = await value();
      const leaf = await issueCertificate(authority, { commonName: 'h', ips: ['10.0.0.7'], dnsNames: [] });
      writeFileSync(join(dir, 'ca.crt'), authority.cert);
      writeFileSync(join(dir, 'leaf.crt'), leaf.cert);
      const verify = spawnSync('openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), join(dir, 'leaf.crt')], {
        encoding: 'utf8',
      });
      expect(verify.stdout).toContain(': OK');
      const subject = spawnSync('openssl', ['x509', '-in', join(dir, 'ca.crt'), '-noout', '-subject'], {
        encoding: 'utf8',
      });
      expect(subject.stdout).toContain('pgwarden demo CA');
    });

    it('an update (or a repeated create) keeps the authority every host chains to; delete leaves it', async () => {
      const before = await value();
      await ensureAuthority(event('Update', { SecretArn: arn }, arn), client);
      await ensureAuthority(event('Create', { SecretArn: arn }), client);
      await ensureAuthority(event('Delete', { SecretArn: arn }, arn), client);
      expect(await value()).toEqual(before);
    });

    it('a missing SecretArn is an error naming the property', async () => {
      await expect(ensureAuthority(event('Create', {}), client)).rejects.toThrow(
        /ResourceProperties\.SecretArn/,
      );
    });
  },
);
