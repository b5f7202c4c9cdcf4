import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { controllerEnvironment } from '../../core/controller/controller-environment.ts';
import { CONTROLLER_SCHEDULE, scheduleProblem } from '../../core/controller/invocation-schedule.ts';
import type { ActionDocument } from './action-document.ts';
import type { CoordinationTable } from './coordination-table.ts';

export const CLUSTER_TAG = 'pgwarden:cluster';

/** How pgwarden's functions are bundled: one ESM file with every dependency, for nodejs22.x. */
export const LAMBDA_BUNDLING = {
  format: OutputFormat.ESM,
  target: 'node22',
  minify: true,
  sourceMap: false,
  mainFields: ['module', 'main'],
  externalModules: [],
  banner: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  forceDockerBundling: false,
};
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
  /**
   * Invocation timeout. The schedule fires every minute, so anything over a minute plus the
   * deadline margin makes consecutive invocations overlap (DESIGN §6).
   * @default Duration.seconds(75) - CONTROLLER_SCHEDULE: 7 s of overlap
   */
  readonly timeout?: Duration;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The controller (DESIGN §6): a Node.js 22 arm64 function on an EventBridge `rate(1 minute)`
 * schedule that loops every `tick` inside each invocation. Invocations overlap (the timeout
 * exceeds the minute), so there is always a live controller; two at once are harmless, so no
 * reserved concurrency (it would also make `cdk deploy` fail on accounts with a small quota).
 * Lambda's own asynchronous retries are off: the schedule is the retry.
 */
export class PgwardenController extends Construct {
  readonly function: NodejsFunction;
  readonly commandLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: PgwardenControllerProps) {
    super(scope, id);
    const tick = props.tick ?? Duration.seconds(1);
    const timeout = props.timeout ?? Duration.seconds(CONTROLLER_SCHEDULE.timeoutSeconds);
    const schedule = { ...CONTROLLER_SCHEDULE, timeoutSeconds: timeout.toSeconds() };
    if (tick.toMilliseconds() < 500 || tick.toSeconds() > 30) {
      throw new Error(
        `PgwardenController tick: got ${tick.toHumanString()}, expected from 500 milliseconds to 30 seconds`,
      );
    }
    const gap = scheduleProblem(schedule);
    if (gap || timeout.toSeconds() > 900) {
      throw new Error(
        `PgwardenController timeout: got ${timeout.toHumanString()}, expected more than ${schedule.everySeconds + schedule.deadlineMarginSeconds} seconds (the schedule fires every minute and each invocation stops ticking ${schedule.deadlineMarginSeconds} s before its end) and at most 15 minutes`,
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
      logGroup: new logs.LogGroup(this, 'Logs', { retention }),
      environment: controllerEnvironment({
        table: props.table.table.tableName,
        tickSeconds: tick.toMilliseconds() / 1000,
        schedule,
        documentName: props.document.documentName,
        commandLogGroup: this.commandLogGroup.logGroupName,
        ...(props.topic ? { topicArn: props.topic.topicArn } : {}),
        // The stack's clusters: the controller keeps them whether or not a host registered them
        // (hosts cannot write the shared registry partition).
        clusters: props.clusters,
      }),
      bundling: LAMBDA_BUNDLING,
    });
    // A failed or throttled invocation is not retried by Lambda (two retries, and throttled
    // events for up to six hours, by default): the next scheduled one replaces it.
    this.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.seconds(60) });
    new events.Rule(this, 'Schedule', {
      description: 'pgwarden controller: evaluate every cluster (the function loops every tick inside)',
      schedule: events.Schedule.rate(Duration.seconds(schedule.everySeconds)),
      targets: [
        new targets.LambdaFunction(this.function, { retryAttempts: 0, maxEventAge: Duration.seconds(60) }),
      ],
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
