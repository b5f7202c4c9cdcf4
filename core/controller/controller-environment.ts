import type { InvocationSchedule } from './invocation-schedule.ts';

export interface ControllerEnvironmentInput {
  readonly table: string;
  readonly tickSeconds: number;
  readonly schedule: InvocationSchedule;
  readonly documentName?: string;
  readonly commandLogGroup?: string;
  readonly topicArn?: string;
  /** The clusters this controller keeps, beside those in the table's registry. */
  readonly clusters?: readonly string[];
}

/**
 * The controller function's environment: what CDK deploys it with, and what the local
 * topology gives each of its invocations (which add where their services are).
 */
export function controllerEnvironment(input: ControllerEnvironmentInput): Record<string, string> {
  return {
    PGWARDEN_TABLE: input.table,
    PGWARDEN_TICK_SECONDS: String(input.tickSeconds),
    PGWARDEN_DEADLINE_MARGIN_SECONDS: String(input.schedule.deadlineMarginSeconds),
    ...(input.documentName ? { PGWARDEN_DOCUMENT_NAME: input.documentName } : {}),
    ...(input.commandLogGroup ? { PGWARDEN_COMMAND_LOG_GROUP: input.commandLogGroup } : {}),
    ...(input.topicArn ? { PGWARDEN_TOPIC_ARN: input.topicArn } : {}),
    ...(input.clusters?.length ? { PGWARDEN_CLUSTERS: input.clusters.join(',') } : {}),
    POWERTOOLS_SERVICE_NAME: 'pgwarden-controller',
    POWERTOOLS_METRICS_NAMESPACE: 'pgwarden',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}
