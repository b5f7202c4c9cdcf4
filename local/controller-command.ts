import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { type Command, InvalidArgumentError } from 'commander';
import { createSdkDocuments } from '../adapters/dynamodb/client.ts';
import { DynamoDbStore } from '../adapters/dynamodb/dynamodb-store.ts';
import type { CliContext } from '../cli/cli-context.ts';
import { CliError, EXIT } from '../cli/exit-codes.ts';
import { controllerEnvironment } from '../core/controller/controller-environment.ts';
import { CONTROLLER_SCHEDULE, type InvocationSchedule } from '../core/controller/invocation-schedule.ts';
import { Controller } from '../functions/controller/controller.ts';
import { controllerServices } from '../functions/controller/controller-services.ts';
import { runControllerLoop } from '../functions/controller/run-loop.ts';
import { ensureBundles } from './ensure-bundles.ts';
import { LocalLambda } from './local-lambda.ts';
import { LOCAL_CLOUD_SOCKET } from './local-topology.ts';
import { runningState } from './state-file.ts';

interface RunOptions {
  localDir?: string;
  loop?: boolean;
  tick: number;
  every: number;
  timeout: number;
  margin: number;
}

function seconds(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!(n > 0) || n > 900)
      throw new InvalidArgumentError(
        `${name}: got ${JSON.stringify(value)}, expected a number of seconds above 0 and at most 900`,
      );
    return n;
  };
}

/** Where the controller runs: its environment (what CDK would set) and the AWS settings it uses. */
function environmentFor(opts: RunOptions, context: CliContext, schedule: InvocationSchedule) {
  if (opts.localDir) {
    const dir = resolve(opts.localDir);
    const state = runningState(dir);
    const socket = join(dir, LOCAL_CLOUD_SOCKET);
    if (!state || !existsSync(socket))
      throw new CliError(
        `--local-dir ${dir}: no local topology runs there (start one with: pgwarden local up --dir ${dir})`,
        EXIT.usage,
      );
    return {
      table: state.settings.table,
      aws: { region: 'us-east-1', endpoint: state.dynamodb.endpoint },
      env: {
        ...controllerEnvironment({ table: state.settings.table, tickSeconds: opts.tick, schedule }),
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        PGWARDEN_AWS_ENDPOINT: state.dynamodb.endpoint,
        PGWARDEN_LOCAL_CLOUD: socket,
      },
    };
  }
  const { table, region, endpoint } = context;
  const passthrough = Object.fromEntries(
    Object.entries(process.env).filter(([k, v]) => k.startsWith('AWS_') && v !== undefined),
  ) as Record<string, string>;
  return {
    table,
    aws: { region, ...(endpoint ? { endpoint } : {}) },
    env: {
      ...passthrough,
      ...controllerEnvironment({ table, tickSeconds: opts.tick, schedule }),
      AWS_REGION: region,
      ...(endpoint ? { PGWARDEN_AWS_ENDPOINT: endpoint } : {}),
    },
  };
}

/**
 * `pgwarden controller run`: the controller outside Lambda, against any table, with the
 * services of an environment (a running local topology's with `--local-dir`; SSM, EC2 and SNS
 * otherwise). By default as Lambda runs it, invocation after invocation on the deployed
 * schedule; with `--loop` as one long-running process (a systemd unit, a container).
 */
export function registerController(program: Command, context: () => CliContext): void {
  const controller = program.command('controller').description('run the controller outside Lambda');
  controller
    .command('run')
    .description('run the controller: Lambda-style invocations (default) or one process (--loop)')
    .option('--local-dir <dir>', "a running local topology's directory: its DynamoDB, commands and fencing")
    .option('--loop', 'one long-running process instead of invocations')
    .option('--tick <seconds>', 'seconds between two evaluations', seconds('--tick'), 1)
    .option(
      '--every <seconds>',
      'seconds between two invocations',
      seconds('--every'),
      CONTROLLER_SCHEDULE.everySeconds,
    )
    .option(
      '--timeout <seconds>',
      'invocation timeout',
      seconds('--timeout'),
      CONTROLLER_SCHEDULE.timeoutSeconds,
    )
    .option(
      '--margin <seconds>',
      'seconds before the timeout at which an invocation starts no more ticks',
      seconds('--margin'),
      CONTROLLER_SCHEDULE.deadlineMarginSeconds,
    )
    .action(async (opts: RunOptions) => {
      const schedule = {
        everySeconds: opts.every,
        timeoutSeconds: opts.timeout,
        deadlineMarginSeconds: opts.margin,
      };
      const { table, aws, env } = environmentFor(opts, context(), schedule);
      const out = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
      let stop: () => Promise<void> = async () => {};
      const stopped = new Promise<void>((done) => {
        const onSignal = (signal: string) => {
          out(`${signal}: stopping the controller`);
          void stop().then(done);
        };
        process.once('SIGINT', () => onSignal('SIGINT'));
        process.once('SIGTERM', () => onSignal('SIGTERM'));
      });
      if (opts.loop) {
        const logger = new Logger({ serviceName: 'pgwarden-controller' });
        const ctl = new Controller({
          store: new DynamoDbStore(createSdkDocuments({ ...aws, requestTimeoutMs: 2000 }), table),
          ...controllerServices(env, aws, logger),
          logger,
          clock: () => Date.now(),
        });
        let running = true;
        out(`controller: one process, table ${table}, ticking every ${opts.tick} s (Ctrl-C stops it)`);
        const loop = runControllerLoop(ctl, {
          tickMs: opts.tick * 1000,
          remainingMs: () => (running ? Number.MAX_SAFE_INTEGER : 0),
        });
        stop = async () => {
          running = false;
          await loop;
        };
      } else {
        await ensureBundles(out);
        const lambda = new LocalLambda({ schedule, environment: env, log: process.stdout.fd });
        out(
          `controller: an invocation every ${schedule.everySeconds} s, each killed after ${schedule.timeoutSeconds} s, table ${table} (Ctrl-C stops it)`,
        );
        lambda.start();
        stop = () => lambda.stop();
      }
      await stopped;
      out('controller stopped');
      // SDK keep-alive sockets may hold the event loop: exit once everything of ours has stopped.
      setTimeout(() => process.exit(process.exitCode ?? 0), 1000).unref();
    });
}
