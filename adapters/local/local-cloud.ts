import { existsSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import { z } from 'zod';
import type { ActionResult } from '../../core/actions/action-parameters.ts';
import { AGENT_ACTIONS, NOTIFY_EVENT_TYPES, type NotifyEvent } from '../../core/decide/steps.ts';
import { CommandDeliveryError, FencingError } from '../../core/errors.ts';
import type { CommandBus, CommandRequest, CommandTarget } from '../../core/ports/command-bus.ts';
import type { InstanceFencer, InstanceState } from '../../core/ports/instance-fencer.ts';
import type { Notifier } from '../../core/ports/notifier.ts';

/** The services a controller invocation reaches on a local topology, as on AWS: SSM, EC2, SNS. */
export interface LocalServices {
  readonly bus: CommandBus;
  readonly fencer: InstanceFencer;
  readonly notifier: Notifier;
  /** Each local host's systemd: what its `systemctl` asks for (local/local-systemctl.ts). */
  readonly units?: { restart(host: string, unit: string): Promise<void> };
}

const targetSchema = z.object({
  cluster: z.string().min(1),
  member: z.string().min(1),
  instanceId: z.string().optional(),
});
const sendSchema = z.object({
  target: targetSchema,
  request: z.object({
    action: z.enum(AGENT_ACTIONS),
    term: z.number().int().nonnegative(),
    leader: z.string().optional(),
    standbys: z.array(z.string()).optional(),
    bundle: z.string().optional(),
  }),
  timeoutMs: z.number().int().positive(),
});
const eventSchema = z.object({
  type: z.enum(NOTIFY_EVENT_TYPES),
  cluster: z.string(),
  message: z.string(),
  term: z.number().optional(),
});

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function body(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : {};
}

/**
 * The local topology's stand-in for the AWS APIs a controller calls (DESIGN §8): one HTTP
 * server on a Unix socket in the topology's directory, in front of the local command bus
 * (SSM: commands run on and outlive their sender), the local fencer (EC2) and a notifier (SNS).
 * The controller's invocations are other processes, as Lambda's are; they reach it through
 * `LocalCloudClient`.
 */
export class LocalCloudServer {
  private server: Server | undefined;

  constructor(private readonly services: LocalServices) {}

  async listen(socketPath: string): Promise<void> {
    if (existsSync(socketPath)) rmSync(socketPath);
    const server = createServer((req, res) => {
      this.handle(req, res).catch((error: Error) => reply(res, 400, { error: error.message }));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local-cloud');
    const { bus, fencer, notifier } = this.services;
    const failed = (error: unknown) =>
      reply(res, 502, {
        error: (error as Error).message,
        kind: error instanceof CommandDeliveryError ? 'delivery' : 'fencing',
      });
    if (req.method === 'POST' && url.pathname === '/commands') {
      const input = sendSchema.parse(await body(req));
      return bus
        .send(input.target, input.request, input.timeoutMs)
        .then((commandId) => reply(res, 200, { commandId }), failed);
    }
    const command = /^\/commands\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && command) {
      const target = targetSchema.parse(Object.fromEntries(url.searchParams));
      return bus
        .result(target, command[1]!)
        .then((result) => reply(res, 200, { result: result ?? null }), failed);
    }
    const instance = /^\/instances\/([^/]+)(\/stop)?$/.exec(url.pathname);
    if (instance) {
      const target = { member: decodeURIComponent(instance[1]!) };
      if (req.method === 'GET' && !instance[2])
        return fencer.state(target).then((state) => reply(res, 200, { state }), failed);
      if (req.method === 'POST' && instance[2])
        return fencer.forceStop(target).then(() => reply(res, 200, {}), failed);
    }
    const unit = /^\/hosts\/([^/]+)\/units\/([^/]+)\/restart$/.exec(url.pathname);
    if (req.method === 'POST' && unit && this.services.units) {
      await this.services.units.restart(decodeURIComponent(unit[1]!), decodeURIComponent(unit[2]!));
      return reply(res, 200, {});
    }
    if (req.method === 'POST' && url.pathname === '/notifications') {
      await notifier.notify(eventSchema.parse(await body(req)) as NotifyEvent);
      return reply(res, 200, {});
    }
    reply(res, 404, { error: `no such API: ${req.method} ${url.pathname}` });
  }
}

/** The controller side: SSM, EC2 and SNS of a local topology, over its Unix socket. */
export class LocalCloudClient implements CommandBus, InstanceFencer, Notifier {
  constructor(
    private readonly socketPath: string,
    private readonly timeoutMs = 5000,
  ) {}

  private call(method: 'GET' | 'POST', path: string, payload?: unknown): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, method, path, timeout: this.timeoutMs }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => {
          text += d.toString();
        });
        res.on('end', () => {
          try {
            const parsed = JSON.parse(text) as Record<string, unknown>;
            if (res.statusCode === 200) return resolve(parsed);
            reject(
              Object.assign(new Error(String(parsed.error)), { kind: parsed.kind, status: res.statusCode }),
            );
          } catch {
            reject(new Error(`the local cloud answered ${res.statusCode}: ${text.slice(0, 200)}`));
          }
        });
      });
      req.on('timeout', () =>
        req.destroy(new Error(`no answer from ${this.socketPath} in ${this.timeoutMs} ms`)),
      );
      req.on('error', reject);
      req.end(payload === undefined ? undefined : JSON.stringify(payload));
    });
  }

  async send(target: CommandTarget, request: CommandRequest, timeoutMs: number): Promise<string> {
    try {
      const { commandId } = await this.call('POST', '/commands', { target, request, timeoutMs });
      return String(commandId);
    } catch (error) {
      throw new CommandDeliveryError(target.member, (error as Error).message, { cause: error });
    }
  }

  async result(target: CommandTarget, commandId: string): Promise<ActionResult | undefined> {
    const query = new URLSearchParams({ cluster: target.cluster, member: target.member });
    try {
      const { result } = await this.call('GET', `/commands/${commandId}?${query}`);
      return (result as ActionResult | null) ?? undefined;
    } catch (error) {
      throw new CommandDeliveryError(target.member, (error as Error).message, { cause: error });
    }
  }

  async state(target: { member: string }): Promise<InstanceState> {
    try {
      const { state } = await this.call('GET', `/instances/${encodeURIComponent(target.member)}`);
      return state as InstanceState;
    } catch (error) {
      throw new FencingError(target.member, (error as Error).message);
    }
  }

  async forceStop(target: { member: string }): Promise<void> {
    try {
      await this.call('POST', `/instances/${encodeURIComponent(target.member)}/stop`);
    } catch (error) {
      throw new FencingError(target.member, (error as Error).message);
    }
  }

  async notify(event: NotifyEvent): Promise<void> {
    await this.call('POST', '/notifications', event);
  }
}
