import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly target: string;
  readonly body: string;
}

export type Responder = (
  request: RecordedRequest,
) => { status: number; body: string; headers?: Record<string, string> } | undefined;

/**
 * An HTTP endpoint on loopback that records every AWS request (its X-Amz-Target or Action, and
 * body) and forwards it to `upstream` (moto) — or answers itself when `respond` returns an answer,
 * to inject the errors moto cannot produce (throttling, InvocationDoesNotExist, timeouts).
 */
export class RecordingProxy {
  readonly requests: RecordedRequest[] = [];
  private server: Server | undefined;
  respond: Responder = () => undefined;

  constructor(private readonly upstream?: string) {}

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<this> {
    this.server = createServer(async (req, res) => {
      const body = await read(req);
      const target = String(req.headers['x-amz-target'] ?? new URLSearchParams(body).get('Action') ?? '');
      const recorded = { target, body };
      this.requests.push(recorded);
      const answer = this.respond(recorded);
      if (answer || !this.upstream) {
        const out = answer ?? { status: 500, body: '{"__type":"InternalFailure"}' };
        res.writeHead(out.status, { 'content-type': 'application/x-amz-json-1.1', ...out.headers });
        res.end(out.body);
        return;
      }
      const forwarded = await fetch(`${this.upstream}${req.url}`, {
        method: req.method,
        headers: Object.fromEntries(
          Object.entries(req.headers)
            .filter(([k]) => k !== 'host' && k !== 'content-length')
            .map(([k, v]) => [k, String(v)]),
        ),
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
      });
      res.writeHead(forwarded.status, Object.fromEntries(forwarded.headers));
      res.end(Buffer.from(await forwarded.arrayBuffer()));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    return this;
  }

  find(target: string): RecordedRequest[] {
    return this.requests.filter((r) => r.target.endsWith(target));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (d) => (data += d));
    req.on('end', () => resolve(data));
  });
}
