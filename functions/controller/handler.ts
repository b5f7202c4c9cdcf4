import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { createSdkDocuments } from '../../adapters/dynamodb/client.ts';
import { DynamoDbStore } from '../../adapters/dynamodb/dynamodb-store.ts';
import { Ec2InstanceFencer } from '../../adapters/ec2/ec2-instance-fencer.ts';
import { LogNotifier } from '../../adapters/local/log-notifier.ts';
import { SnsNotifier } from '../../adapters/sns/sns-notifier.ts';
import { SsmCommandBus } from '../../adapters/ssm/ssm-command-bus.ts';
import { parseControllerSettings } from '../../core/config/controller-settings.ts';
import { parseOrThrow } from '../../core/config/validation.ts';
import { Controller } from './controller.ts';
import { runControllerLoop } from './run-loop.ts';

const logger = new Logger({ serviceName: 'pgwarden-controller' });
const metrics = new Metrics({ namespace: 'pgwarden', serviceName: 'pgwarden-controller' });

/** The EventBridge scheduled event (or `{}` from a manual invoke); nothing in it is needed. */
const eventSchema = z.looseObject({
  source: z.string().optional(),
  'detail-type': z.string().optional(),
  time: z.string().optional(),
});

const env = process.env;
const settings = parseControllerSettings(
  {
    table: env.PGWARDEN_TABLE,
    region: env.AWS_REGION ?? 'us-east-1',
    ...(env.PGWARDEN_AWS_ENDPOINT ? { endpoint: env.PGWARDEN_AWS_ENDPOINT } : {}),
    ...(env.PGWARDEN_TICK_SECONDS ? { tick: Number(env.PGWARDEN_TICK_SECONDS) } : {}),
    ...(env.PGWARDEN_DEADLINE_MARGIN_SECONDS
      ? { deadline_margin: Number(env.PGWARDEN_DEADLINE_MARGIN_SECONDS) }
      : {}),
  },
  'controller environment (PGWARDEN_*)',
);
const aws = { region: settings.region, ...(settings.endpoint ? { endpoint: settings.endpoint } : {}) };
const controller = new Controller({
  store: new DynamoDbStore(createSdkDocuments({ ...aws, requestTimeoutMs: 2000 }), settings.table),
  bus: new SsmCommandBus(new SSMClient(aws), {
    ...(env.PGWARDEN_DOCUMENT_NAME ? { documentName: env.PGWARDEN_DOCUMENT_NAME } : {}),
    ...(env.PGWARDEN_COMMAND_LOG_GROUP ? { outputLogGroup: env.PGWARDEN_COMMAND_LOG_GROUP } : {}),
  }),
  fencer: new Ec2InstanceFencer(new EC2Client(aws)),
  notifier: env.PGWARDEN_TOPIC_ARN
    ? new SnsNotifier(new SNSClient(aws), env.PGWARDEN_TOPIC_ARN)
    : new LogNotifier(logger),
  logger,
  metrics,
  clock: () => Date.now(),
  concurrency: settings.cluster_concurrency,
});

/** One scheduled invocation: tick every `tick` seconds until shortly before the deadline. */
async function controllerTicks(event: unknown, context: Context): Promise<{ ticks: number }> {
  parseOrThrow(eventSchema, event ?? {}, 'controller event');
  const marginMs = settings.deadline_margin * 1000;
  const ticks = await runControllerLoop(controller, {
    tickMs: settings.tick * 1000,
    remainingMs: () => context.getRemainingTimeInMillis() - marginMs,
  });
  logger.info('invocation done', { ticks });
  return { ticks };
}

export const handler = middy(controllerTicks).use(injectLambdaContext(logger)).use(logMetrics(metrics));
