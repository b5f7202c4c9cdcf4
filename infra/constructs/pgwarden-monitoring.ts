import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

export interface PgwardenMonitoringProps {
  readonly clusterName: string;
  readonly topic: sns.ITopic;
  readonly controller: lambda.IFunction;
  readonly writerTargetGroup: elbv2.NetworkTargetGroup;
  readonly loadBalancer: elbv2.NetworkLoadBalancer;
  /** Alarm when the worst replica lags more than this. @default 16 MiB */
  readonly maxReplicaLagBytes?: number;
}

/**
 * Alarms to the SNS topic and one dashboard: no primary behind the writer endpoint, a change of
 * primary, replication lag, a refusal to fail over, controller errors, a controller that does
 * not run or is throttled.
 */
export class PgwardenMonitoring extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: PgwardenMonitoringProps) {
    super(scope, id);
    const lagLimit = props.maxReplicaLagBytes ?? 16 * 1024 * 1024;
    if (!(lagLimit > 0))
      throw new Error(
        `PgwardenMonitoring maxReplicaLagBytes: got ${lagLimit}, expected a positive byte count`,
      );
    const controllerMetric = (metricName: string, statistic = 'Sum') =>
      new cloudwatch.Metric({
        namespace: 'pgwarden',
        metricName,
        dimensionsMap: { service: 'pgwarden-controller', cluster: props.clusterName },
        statistic,
        period: Duration.minutes(1),
      });
    const healthyWriters = props.writerTargetGroup.metrics.healthyHostCount({
      period: Duration.minutes(1),
      statistic: 'Minimum',
    });
    const alarm = (
      name: string,
      metric: cloudwatch.IMetric,
      threshold: number,
      comparison: cloudwatch.ComparisonOperator,
      description: string,
      periods = 1,
      missing = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) => {
      const a = new cloudwatch.Alarm(this, name, {
        metric,
        threshold,
        comparisonOperator: comparison,
        evaluationPeriods: periods,
        treatMissingData: missing,
        alarmDescription: `pgwarden ${props.clusterName}: ${description}`,
      });
      a.addAlarmAction(new actions.SnsAction(props.topic));
      this.alarms.push(a);
      return a;
    };
    alarm(
      'NoPrimary',
      healthyWriters,
      1,
      cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      'no healthy target behind the writer endpoint (the routers, or without them the primary)',
      2,
    );
    alarm(
      'FailoverHappened',
      controllerMetric('PrimaryChanged'),
      1,
      cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      'the primary changed',
    );
    alarm(
      'FailoverRefused',
      controllerMetric('FailoverRefused'),
      1,
      cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      'the controller refused to fail over (no eligible candidate)',
    );
    alarm(
      'ReplicationLag',
      controllerMetric('MaxReplicaLagBytes', 'Maximum'),
      lagLimit,
      cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      `a replica lags more than ${lagLimit} bytes`,
      3,
    );
    alarm(
      'ControllerErrors',
      props.controller.metricErrors({ period: Duration.minutes(5) }),
      1,
      cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      'the controller function failed',
    );
    alarm(
      'FailsafeActive',
      controllerMetric('FailsafeActive'),
      1,
      cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      "the primary is in failsafe: DynamoDB is out of its reach and it stays primary on its members' promises",
    );
    // A controller that stopped running publishes nothing: missing data is the alarm here.
    alarm(
      'ControllerNotRunning',
      props.controller.metricInvocations({ period: Duration.minutes(1), statistic: 'Sum' }),
      1,
      cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      'no controller invocation started within a minute: nothing watches the cluster',
      1,
      cloudwatch.TreatMissingData.BREACHING,
    );
    alarm(
      'ControllerThrottled',
      props.controller.metricThrottles({ period: Duration.minutes(1), statistic: 'Sum' }),
      1,
      cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      'a controller invocation was throttled (account concurrency exhausted?)',
    );
    alarm(
      'EvaluationFailed',
      controllerMetric('EvaluationFailed'),
      3,
      cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      'the controller could not evaluate the cluster',
      2,
    );

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      // Named after the stack and cluster: a second stack in the region has its own.
      dashboardName: `${Stack.of(this).stackName}-${props.clusterName}`,
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Healthy primary / replicas behind the endpoint',
        left: [healthyWriters],
      }),
      new cloudwatch.GraphWidget({
        title: 'Changes of primary and refusals',
        left: [controllerMetric('PrimaryChanged'), controllerMetric('FailoverRefused')],
      }),
      new cloudwatch.GraphWidget({
        title: 'Worst replica lag (bytes)',
        left: [controllerMetric('MaxReplicaLagBytes', 'Maximum')],
      }),
      new cloudwatch.GraphWidget({
        title: 'Controller',
        left: [
          props.controller.metricErrors(),
          props.controller.metricDuration(),
          controllerMetric('StepFailed'),
        ],
      }),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms }),
    );
  }
}
