import { CustomResource, Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { LAMBDA_BUNDLING } from './pgwarden-controller.ts';

const HANDLER = new URL('../../functions/tls-authority/handler.ts', import.meta.url).pathname;

export interface TlsAuthorityProps {
  readonly clusterName: string;
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The certificate authority of one cluster's PostgreSQL servers: a secret ({cert, key} PEM) that a
 * custom resource fills once at the first deploy (functions/tls-authority). Each host issues its
 * own certificate from it at boot (`pgwarden-agent issue-certificate`, with its IP and name), and
 * replicas verify their upstream against it (sslmode=verify-full). No AWS Private CA: its
 * $400/month would dwarf the rest of the stack.
 */
export class TlsAuthority extends Construct {
  readonly secret: secretsmanager.Secret;
  readonly resource: CustomResource;
  readonly function: NodejsFunction;

  constructor(scope: Construct, id: string, props: TlsAuthorityProps) {
    super(scope, id);
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    this.secret = new secretsmanager.Secret(this, 'Secret', {
      description: `pgwarden ${props.clusterName}: certificate authority of the PostgreSQL servers ({cert, key} PEM)`,
    });
    const fn = new NodejsFunction(this, 'Function', {
      entry: HANDLER,
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.minutes(1),
      logGroup: new logs.LogGroup(this, 'Logs', { retention }),
      bundling: LAMBDA_BUNDLING,
    });
    this.function = fn;
    this.secret.grantRead(fn);
    this.secret.grantWrite(fn);
    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: fn,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', { retention }),
    });
    this.resource = new CustomResource(this, 'Authority', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::PgwardenTlsAuthority',
      properties: { SecretArn: this.secret.secretArn, CommonName: `pgwarden ${props.clusterName} CA` },
    });
  }
}
