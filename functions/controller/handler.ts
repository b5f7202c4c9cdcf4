import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { createSdkDocuments } from '../../adapters/dynamodb/client.ts';
import { DynamoDbStore } from '../../adapters/dynamodb/dynamodb-store.ts';
import { parseControllerSettings } from '../../core/config/controller-settings.ts';
import { parseOrThrow } from '../../core/config/validation.ts';
import { Controller } from './controller.ts';
import { controllerServices } from './controller-services.ts';
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
    ...(env.PGWARDEN_CLUSTERS ? { clusters: env.PGWARDEN_CLUSTERS } : {}),
    ...(env.PGWARDEN_DEADLINE_MARGIN_SECONDS
      ? { deadline_margin: Number(env.PGWARDEN_DEADLINE_MARGIN_SECONDS) }
      : {}),
  },
  'controller environment (PGWARDEN_*)',
);
const aws = { region: settings.region, ...(settings.endpoint ? { endpoint: settings.endpoint } : {}) };
const controller = new Controller({
  store: new DynamoDbStore(createSdkDocuments({ ...aws, requestTimeoutMs: 2000 }), settings.table),
  ...controllerServices(env, aws, logger),
  logger,
  metrics,
  clock: () => Date.now(),
  concurrency: settings.cluster_concurrency,
  clusters: settings.clusters,
});

/** Time kept after the last wait of an invocation for its last writes (op item, metrics). */
const STEP_SLACK_MS = 1500;
/** ...at most this share of the whole invocation (short local schedules). */
const STEP_SLACK_SHARE = 0.2;

/** One scheduled invocation: tick every `tick` seconds until shortly before the deadline. */
async function controllerTicks(event: unknown, context: Context): Promise<{ ticks: number }> {
  parseOrThrow(eventSchema, event ?? {}, 'controller event');
  const marginMs = settings.deadline_margin * 1000;
  const slackMs = Math.min(STEP_SLACK_MS, context.getRemainingTimeInMillis() * STEP_SLACK_SHARE);
  const ticks = await runControllerLoop(controller, {
    tickMs: settings.tick * 1000,
    remainingMs: () => context.getRemainingTimeInMillis() - marginMs,
    // Every wait ends this long before Lambda would kill the invocation: the op item is written.
    stepDeadlineMs: () => Date.now() + context.getRemainingTimeInMillis() - slackMs,
  });
  logger.info('invocation done', { ticks });
  return { ticks };
}

export const handler = middy(controllerTicks).use(injectLambdaContext(logger)).use(logMetrics(metrics));
