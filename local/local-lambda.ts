import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { InvocationSchedule } from '../core/controller/invocation-schedule.ts';
import { processAlive, waitFor } from './wait-for.ts';

/** The controller bundle (`npm run build:controller`): the handler inside a local invocation. */
export const CONTROLLER_BUNDLE = new URL('../dist/pgwarden-controller.mjs', import.meta.url).pathname;

/** One invocation: when it started and how it ended. */
export interface Invocation {
  readonly pid: number;
  readonly startedAt: number;
  endedAt?: number;
  /** `exited`: the handler returned; `killed`: the timeout struck (Lambda's "Task timed out"). */
  how?: 'exited' | 'killed';
  exitCode?: number | null;
}

export interface LocalLambdaOptions {
  readonly schedule: InvocationSchedule;
  /** The function's environment (what CDK sets, plus where the local services are). */
  readonly environment: Readonly<Record<string, string>>;
  /** Where the invocations' output goes: a file (appended), or a descriptor of this process. */
  readonly log: string | number;
  /** @default CONTROLLER_BUNDLE */
  readonly bundle?: string;
}

/**
 * The controller run as Lambda runs it (DESIGN §6, §8): a new process per invocation, started
 * on the schedule (EventBridge), with a context whose remaining time counts down, SIGKILLed
 * at its timeout whatever it is doing. Consecutive invocations overlap as the schedule says.
 */
export class LocalLambda {
  readonly invocations: Invocation[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly running = new Map<number, { kill: NodeJS.Timeout; invocation: Invocation }>();
  private stopped = false;

  constructor(private readonly options: LocalLambdaOptions) {}

  /** Invokes now, then every `everySeconds`. */
  start(): this {
    this.invoke();
    this.timer = setInterval(() => this.invoke(), this.options.schedule.everySeconds * 1000);
    return this;
  }

  /** One invocation now (what the schedule does at each rate tick). */
  invoke(): Invocation | undefined {
    if (this.stopped) return undefined;
    const timeoutMs = this.options.schedule.timeoutSeconds * 1000;
    const startedAt = Date.now();
    const given = this.options.log;
    const log = typeof given === 'number' ? given : openSync(given, 'a');
    const child = spawn(process.execPath, [this.options.bundle ?? CONTROLLER_BUNDLE], {
      detached: true,
      cwd: '/',
      stdio: ['ignore', log, log],
      env: {
        PATH: '/usr/local/bin:/usr/bin:/bin',
        LANG: 'en_US.UTF-8',
        TZ: ':UTC',
        AWS_LAMBDA_FUNCTION_NAME: 'pgwarden-controller',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
        AWS_LAMBDA_FUNCTION_TIMEOUT: String(this.options.schedule.timeoutSeconds),
        ...this.options.environment,
        PGWARDEN_INVOCATION_TIMEOUT_MS: String(timeoutMs),
        PGWARDEN_INVOCATION_STARTED_AT: String(startedAt),
      },
    });
    if (log !== given) closeSync(log);
    const pid = child.pid!;
    const invocation: Invocation = { pid, startedAt };
    this.invocations.push(invocation);
    if (this.invocations.length > 200) this.invocations.splice(0, this.invocations.length - 200);
    const kill = setTimeout(() => this.kill(pid), timeoutMs);
    this.running.set(pid, { kill, invocation });
    child.once('exit', (code) => {
      clearTimeout(kill);
      this.running.delete(pid);
      invocation.endedAt = Date.now();
      invocation.how ??= 'exited';
      invocation.exitCode = code;
    });
    child.unref();
    return invocation;
  }

  /** Invocations now running. */
  get live(): number[] {
    return [...this.running.keys()];
  }

  /** SIGKILLs every running invocation now (a Lambda runtime crash); the schedule goes on. */
  crash(): number[] {
    const pids = this.live;
    for (const pid of pids) this.kill(pid);
    return pids;
  }

  /** No more invocations; the running ones are killed (the function is being torn down). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    const pids = [...this.running.keys()];
    for (const pid of pids) this.kill(pid);
    await waitFor('controller invocations to exit', 5000, async () => !pids.some(processAlive), 20).catch(
      () => undefined,
    );
  }

  private kill(pid: number): void {
    const entry = this.running.get(pid);
    if (entry) {
      clearTimeout(entry.kill);
      entry.invocation.how ??= 'killed';
    }
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {}
  }
}
