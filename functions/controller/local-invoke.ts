// One Lambda invocation of the controller on a local machine (the local topology's scheduler
// starts one process per invocation, and SIGKILLs it at its timeout, as Lambda does): the real
// handler, with a context whose remaining time counts down from the invocation's start.
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { handler } from './handler.ts';

const timeoutMs = Number(process.env.PGWARDEN_INVOCATION_TIMEOUT_MS);
const startedAt = Number(process.env.PGWARDEN_INVOCATION_STARTED_AT);
if (!(timeoutMs > 0) || !(startedAt > 0)) {
  process.stderr.write(
    'PGWARDEN_INVOCATION_TIMEOUT_MS and PGWARDEN_INVOCATION_STARTED_AT (ms) are required\n',
  );
  process.exit(2);
}
const requestId = randomUUID();
const context = {
  functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'pgwarden-controller',
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:pgwarden-controller`,
  memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '256',
  awsRequestId: requestId,
  logGroupName: '/aws/lambda/pgwarden-controller',
  logStreamName: 'local',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => Math.max(0, startedAt + timeoutMs - Date.now()),
  done() {},
  fail() {},
  succeed() {},
} as unknown as Context;
const event = {
  id: requestId,
  source: 'aws.events',
  'detail-type': 'Scheduled Event',
  time: new Date(startedAt).toISOString(),
};
await handler(event, context);
process.exit(0);
