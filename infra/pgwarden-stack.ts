import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { type ClusterConfigInput, parseClusterConfig } from '../core/config/cluster-config.ts';
import { DEFAULT_HEALTH_CHECK } from '../core/endpoints/health-check-profile.ts';
import { ActionDocument } from './constructs/action-document.ts';
import { CoordinationTable } from './constructs/coordination-table.ts';
import { PgwardenController } from './constructs/pgwarden-controller.ts';
import { PgwardenEndpoint } from './constructs/pgwarden-endpoint.ts';
import { PgwardenMonitoring } from './constructs/pgwarden-monitoring.ts';
import { PostgresHosts } from './constructs/postgres-hosts.ts';

export interface PgwardenStackProps extends StackProps {
  /** The agent bundle to ship (dist/pgwarden-agent.mjs). */
  readonly agentBundlePath: string;
  /** @default 'demo' */
  readonly clusterName?: string;
  /** Several clusters sharing the table and the controller (each gets hosts and an endpoint). @default [clusterName] */
  readonly clusters?: readonly string[];
  /** An existing VPC (needs credentials at synth time for the lookup). @default - a new VPC over 3 AZs */
  readonly vpcId?: string;
  /** @default 3 */
  readonly nodeCount?: number;
  /** @default t4g.medium */
  readonly instanceType?: string;
  /** @default 15 */
  readonly postgresVersion?: number;
  /** @default 'pgwarden' */
  readonly tableName?: string;
  /** @default 100 */
  readonly volumeSizeGiB?: number;
  /** Initial dynamic config (ttl, loop_wait, synchronous_mode, ...). @default - pgwarden's defaults */
  readonly clusterConfig?: ClusterConfigInput;
  /** @default true: the table survives `cdk destroy` */
  readonly retainTable?: boolean;
  /**
   * NAT gateways of a new VPC. Failover does not need them (SSM, Secrets Manager and CloudWatch
   * Logs are reached through interface endpoints, DynamoDB and S3 through gateway endpoints);
   * hosts use them at boot (packages). One per AZ survives an AZ at boot too. @default 1
   */
  readonly natGateways?: number;
  /** The hosts' image. @default - the latest Amazon Linux 2023 arm64 (kept by each host; see hostTemplateVersions) */
  readonly machineImage?: ec2.IMachineImage;
  /**
   * Interface endpoints in a new VPC for SSM (ssm, ssmmessages, ec2messages), Secrets Manager and
   * CloudWatch Logs, so that promote, fence and rejoin never depend on one AZ's NAT gateway (about
   * $110 a month over 3 AZs). Off: give natGateways one per AZ instead. @default true
   */
  readonly interfaceEndpoints?: boolean;
  /** Launch-template version per host (see PostgresHosts.hostTemplateVersions). @default - 1 for every host */
  readonly hostTemplateVersions?: readonly (number | 'latest')[];
  /**
   * A router on every host as the NLB's targets (issue #17; `-c routers=false`: the NLB targets
   * PostgreSQL and waits for its health checks at every change of primary). @default true
   */
  readonly routers?: boolean;
}

/** Everything one cluster needs: table, SSM document, hosts, endpoint, controller, alarms. */
export class PgwardenStack extends Stack {
  constructor(scope: Construct, id: string, props: PgwardenStackProps) {
    super(scope, id, props);
    const clusters = props.clusters ?? [props.clusterName ?? 'demo'];
    if (clusters.length === 0 || new Set(clusters).size !== clusters.length) {
      throw new Error(
        `PgwardenStack clusters: got ${JSON.stringify(clusters)}, expected distinct cluster names`,
      );
    }
    if (
      props.natGateways !== undefined &&
      !(Number.isInteger(props.natGateways) && props.natGateways >= 1 && props.natGateways <= 3)
    )
      throw new Error(
        `PgwardenStack natGateways: got ${props.natGateways}, expected 1 to 3 (hosts install packages at boot; one per AZ at most)`,
      );
    const vpc = props.vpcId
      ? ec2.Vpc.fromLookup(this, 'Vpc', { vpcId: props.vpcId })
      : this.newVpc(props.natGateways ?? 1, props.interfaceEndpoints ?? true);

    const table = new CoordinationTable(this, 'Table', {
      ...(props.tableName ? { tableName: props.tableName } : {}),
      deletionProtection: props.retainTable ?? true,
    });
    // Named after the stack: a second stack in the same region has its own document.
    const document = new ActionDocument(this, 'ActionDocument', { documentName: `${this.stackName}-action` });
    // A customer-managed key: CloudWatch alarms cannot publish to a topic encrypted with the
    // AWS-managed alias/aws/sns key (its policy cannot be changed).
    const topicKey = new kms.Key(this, 'EventsKey', {
      description: 'pgwarden: encrypts the events topic; CloudWatch alarms may use it to publish',
      enableKeyRotation: true,
    });
    topicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );
    const topic = new sns.Topic(this, 'Events', {
      displayName: 'pgwarden',
      enforceSSL: true,
      masterKey: topicKey,
    });
    const controller = new PgwardenController(this, 'Controller', { table, document, clusters, topic });
    new CfnOutput(this, 'TableName', { value: table.table.tableName });
    new CfnOutput(this, 'EventsTopicArn', { value: topic.topicArn });

    for (const clusterName of clusters) {
      // The first cluster keeps the plain construct ids (and output names) of a one-cluster stack.
      const scope = clusterName === clusters[0] ? this : new Construct(this, `Cluster-${clusterName}`);
      const suffix = clusterName === clusters[0] ? '' : clusterName.replace(/[^A-Za-z0-9]/g, '');
      const hosts = new PostgresHosts(scope, 'Hosts', {
        vpc,
        clusterName,
        table,
        agentBundlePath: props.agentBundlePath,
        commandLogGroup: controller.commandLogGroup,
        ...(props.nodeCount ? { nodeCount: props.nodeCount } : {}),
        ...(props.instanceType ? { instanceType: new ec2.InstanceType(props.instanceType) } : {}),
        ...(props.postgresVersion ? { postgresVersion: props.postgresVersion } : {}),
        ...(props.volumeSizeGiB ? { volumeSizeGiB: props.volumeSizeGiB } : {}),
        ...(props.clusterConfig ? { clusterConfig: props.clusterConfig } : {}),
        ...(props.hostTemplateVersions ? { hostTemplateVersions: props.hostTemplateVersions } : {}),
        ...(props.machineImage ? { machineImage: props.machineImage } : {}),
        routers: props.routers ?? true,
      });
      const endpoint = new PgwardenEndpoint(scope, 'Endpoint', {
        vpc,
        instanceIds: hosts.instances.map((i) => i.ref),
        routers: props.routers ?? true,
        // Stale or disconnected replicas leave the reader endpoint, at the failover bound.
        healthCheck: {
          ...DEFAULT_HEALTH_CHECK,
          readerMaxLagBytes: parseClusterConfig(props.clusterConfig ?? {}).maximum_lag_on_failover,
        },
      });
      new PgwardenMonitoring(scope, 'Monitoring', {
        clusterName,
        topic,
        controller: controller.function,
        writerTargetGroup: endpoint.writerTargetGroup,
        loadBalancer: endpoint.loadBalancer,
      });
      const dns = endpoint.loadBalancer.loadBalancerDnsName;
      new CfnOutput(this, `WriterEndpoint${suffix}`, {
        value: `${dns}:${DEFAULT_HEALTH_CHECK.writerPort}`,
        description: `${clusterName}: the primary (read-write)`,
      });
      new CfnOutput(this, `ReaderEndpoint${suffix}`, {
        value: `${dns}:${DEFAULT_HEALTH_CHECK.readerPort}`,
        description: `${clusterName}: the replicas (read-only)`,
      });
      new CfnOutput(this, `ClusterName${suffix}`, { value: clusterName });
      new CfnOutput(this, `AgentBundleParameter${suffix}`, {
        value: hosts.bundleParameter.parameterName,
        description: `${clusterName}: SSM parameter naming this release's agent bundle (pgwarden upgrade-agent --bundle)`,
      });
      new CfnOutput(this, `PasswordsSecretArn${suffix}`, {
        value: hosts.secret.secretArn,
        description: `${clusterName}: superuser password (JSON key superuser_password; the superuser logs in only on a host's local socket)`,
      });
      new CfnOutput(this, `AppRoleSecretArn${suffix}`, {
        value: hosts.appSecret.secretArn,
        description: `${clusterName}: what applications log in as (JSON username, password; TLS required)`,
      });
      new CfnOutput(this, `CertificateAuthoritySecretArn${suffix}`, {
        value: hosts.authority.secret.secretArn,
        description: `${clusterName}: the servers' CA (JSON cert is the PEM clients verify with, sslmode=verify-full)`,
      });
    }
  }

  private newVpc(natGateways: number, interfaceEndpoints: boolean): ec2.Vpc {
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 3,
      natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
      ],
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
    });
    // Promote, fence and rejoin travel through SSM (its agent needs ssm, ssmmessages and
    // ec2messages); hosts read secrets and write command output: none of it may depend on one AZ's NAT.
    const endpoints = {
      Ssm: ec2.InterfaceVpcEndpointAwsService.SSM,
      SsmMessages: ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES,
      Ec2Messages: ec2.InterfaceVpcEndpointAwsService.EC2_MESSAGES,
      SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    };
    if (interfaceEndpoints)
      for (const [id, service] of Object.entries(endpoints))
        vpc.addInterfaceEndpoint(id, {
          service,
          subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        });
    vpc.addFlowLog('FlowLogs', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, 'FlowLogGroup', { retention: logs.RetentionDays.ONE_MONTH }),
      ),
    });
    return vpc;
  }
}
