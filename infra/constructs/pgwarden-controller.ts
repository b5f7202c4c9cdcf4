import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { ActionDocument } from './action-document.ts';
import type { CoordinationTable } from './coordination-table.ts';

export const CLUSTER_TAG = 'pgwarden:cluster';
const HANDLER = new URL('../../functions/controller/handler.ts', import.meta.url).pathname;

export interface PgwardenControllerProps {
  readonly table: CoordinationTable;
  readonly document: ActionDocument;
  /** Clusters it may act on: SSM commands and EC2 stops only reach instances tagged with one. */
  readonly clusters: readonly string[];
  /** @default - notifications go to the function's log only */
  readonly topic?: sns.ITopic;
  /** Time between two evaluations within one invocation. @default Duration.seconds(1) */
  readonly tick?: Duration;
  /** Invocation timeout; the schedule fires every minute, so one invocation covers one minute. @default Duration.seconds(60) */
  readonly timeout?: Duration;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The controller (DESIGN §6): a Node.js 22 arm64 function on an EventBridge `rate(1 minute)`
 * schedule that loops every `tick` inside each invocation. One invocation at a time
 * (reserved concurrency 1); a second one racing would be harmless anyway.
 */
export class PgwardenController extends Construct {
  readonly function: NodejsFunction;
  readonly commandLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: PgwardenControllerProps) {
    super(scope, id);
    const tick = props.tick ?? Duration.seconds(1);
    const timeout = props.timeout ?? Duration.seconds(60);
    if (tick.toMilliseconds() < 500 || tick.toSeconds() > 30) {
      throw new Error(
        `PgwardenController tick: got ${tick.toHumanString()}, expected from 500 milliseconds to 30 seconds`,
      );
    }
    if (timeout.toSeconds() < 20 || timeout.toSeconds() > 900) {
      throw new Error(
        `PgwardenController timeout: got ${timeout.toHumanString()}, expected from 20 seconds to 15 minutes`,
      );
    }
    if (props.clusters.length === 0)
      throw new Error('PgwardenController clusters: got none, expected at least one cluster name');
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    this.commandLogGroup = new logs.LogGroup(this, 'CommandOutput', { retention });
    this.function = new NodejsFunction(this, 'Function', {
      entry: HANDLER,
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout,
      reservedConcurrentExecutions: 1,
      logGroup: new logs.LogGroup(this, 'Logs', { retention }),
      environment: {
        PGWARDEN_TABLE: props.table.table.tableName,
        PGWARDEN_TICK_SECONDS: String(tick.toMilliseconds() / 1000),
        PGWARDEN_DEADLINE_MARGIN_SECONDS: '5',
        PGWARDEN_DOCUMENT_NAME: props.document.documentName,
        PGWARDEN_COMMAND_LOG_GROUP: this.commandLogGroup.logGroupName,
        POWERTOOLS_SERVICE_NAME: 'pgwarden-controller',
        POWERTOOLS_METRICS_NAMESPACE: 'pgwarden',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        ...(props.topic ? { PGWARDEN_TOPIC_ARN: props.topic.topicArn } : {}),
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        minify: true,
        sourceMap: false,
        mainFields: ['module', 'main'],
        externalModules: [],
        banner: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
        forceDockerBundling: false,
      },
    });
    new events.Rule(this, 'Schedule', {
      description: 'pgwarden controller: evaluate every cluster (the function loops every tick inside)',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 0 })],
    });
    this.grantPermissions(props);
  }

  private grantPermissions(props: PgwardenControllerProps): void {
    const stack = Stack.of(this);
    const instances = stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' });
    const tagged = (key: string) => ({ StringEquals: { [key]: [...props.clusters] } });
    props.table.grantController(this.function);
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'SendOnlyTheActionDocument',
        actions: ['ssm:SendCommand'],
        resources: [props.document.documentArn],
      }),
    );
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'SendOnlyToClusterInstances',
        actions: ['ssm:SendCommand'],
        resources: [instances],
        conditions: tagged(`ssm:resourceTag/${CLUSTER_TAG}`),
      }),
    );
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadCommandResults',
        actions: ['ssm:GetCommandInvocation'],
        resources: ['*'],
      }),
    );
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'SeeInstanceState',
        actions: ['ec2:DescribeInstances'],
        resources: ['*'],
      }),
    );
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'StopOnlyClusterInstances',
        actions: ['ec2:StopInstances'],
        resources: [instances],
        conditions: tagged(`aws:ResourceTag/${CLUSTER_TAG}`),
      }),
    );
    props.topic?.grantPublish(this.function);
  }
}
