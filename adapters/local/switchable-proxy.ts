import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP proxy that can cut one host off from a service (DynamoDB, say) without
 * touching the service: `isolate()` drops every open connection and swallows new ones
 * unanswered (a network partition, not a refusal); `degrade()` makes it slow or failing (a bad
 * day of the service, not an outage); `heal()` forwards again.
 */
export class SwitchableProxy {
  private server: Server | undefined;
  private isolated = false;
  private degraded: { latencyMs: number; errorRate: number; random: () => number } | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly target: { host: string; port: number },
    private readonly listenPort = 0,
    /** Where it listens: loopback, or a host network's gateway (local/host-network.ts). */
    private readonly listenHost = '127.0.0.1',
  ) {}

  get port(): number {
    if (!this.server) throw new Error('the proxy is not started');
    return (this.server.address() as AddressInfo).port;
  }

  get endpoint(): string {
    return `http://${this.listenHost}:${this.port}`;
  }

  get isIsolated(): boolean {
    return this.isolated;
  }

  async start(): Promise<this> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.listenPort, this.listenHost, () => resolve());
    });
    return this;
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  private accept(client: Socket): void {
    this.track(client);
    if (this.isolated) return; // accepted, never answered: the caller times out
    const degraded = this.degraded;
    if (degraded && degraded.random() < degraded.errorRate) {
      this.failRequest(client);
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    if (degraded) {
      // Every chunk each way waits latencyMs, in order; the connection is dropped after a second
      // so that the next request draws again.
      this.track(upstream);
      const delayed = (from: Socket, to: Socket) => {
        let last = 0;
        from.on('data', (chunk) => {
          const at = Math.max(Date.now() + degraded.latencyMs, last);
          last = at;
          setTimeout(() => to.writable && to.write(chunk), at - Date.now());
        });
      };
      delayed(client, upstream);
      delayed(upstream, client);
      setTimeout(() => client.destroy(), 1000 + degraded.latencyMs).unref();
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
      return;
    }
    this.track(upstream);
    client.pipe(upstream).pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  }

  /** Reads one HTTP request and answers it as DynamoDB does when it fails (HTTP 500), then closes. */
  private failRequest(client: Socket): void {
    let seen = '';
    client.on('data', (chunk) => {
      seen += chunk.toString('latin1');
      const end = seen.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length:\s*(\d+)/i.exec(seen.slice(0, end))?.[1] ?? 0);
      if (seen.length < end + 4 + length) return;
      const body = JSON.stringify({
        __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError',
        message: 'injected by the local proxy',
      });
      client.end(
        `HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    });
  }

  /**
   * The service has a bad day: every request waits `latencyMs` each way, and `errorRate` of them
   * fail with HTTP 500. Open connections are dropped so that every request feels it.
   */
  degrade(options: { latencyMs?: number; errorRate?: number; random?: () => number }): void {
    this.degraded = {
      latencyMs: options.latencyMs ?? 0,
      errorRate: options.errorRate ?? 0,
      random: options.random ?? Math.random,
    };
    for (const socket of this.sockets) socket.destroy();
  }

  isolate(): void {
    this.isolated = true;
    for (const socket of this.sockets) socket.destroy();
  }

  heal(): void {
    this.isolated = false;
    this.degraded = undefined;
    for (const socket of this.sockets) socket.destroy();
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
