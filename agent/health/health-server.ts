import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { AgentConfig } from '../../core/config/agent-config.ts';
import { splitHostPort } from '../../core/config/units.ts';
import type { AgentStatus } from '../daemon/agent-daemon.ts';
import type { FailsafeMember } from '../failsafe/failsafe-member.ts';
import { SIGNATURE_HEADER } from '../failsafe/ping-signature.ts';
import { answerHealth, BadHealthQueryError } from './health-checks.ts';
import { createAgentMetrics } from './metrics.ts';

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  head: boolean,
  type = 'application/json',
): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(head ? undefined : text);
}

/** A request body, at most `limit` bytes, as JSON. */
async function jsonBody(req: IncomingMessage, limit = 4096): Promise<unknown> {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > limit) throw new Error(`a body of more than ${limit} bytes`);
  }
  return JSON.parse(text);
}

/**
 * The Patroni-compatible health API (GET and HEAD), plus the one mutating endpoint, the signed
 * failsafe ping (`POST /failsafe`, DESIGN §5), which can only make this member refuse a
 * promotion for a while. Answers come from the daemon's last status, so they stay fast when
 * PostgreSQL or DynamoDB hang.
 */
export async function startHealthServer(
  config: AgentConfig,
  status: () => AgentStatus,
  failsafe?: FailsafeMember,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const metrics = createAgentMetrics(config, status);
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const head = req.method === 'HEAD';
    if (req.method === 'POST' && (req.url ?? '').replace(/\?.*$/, '') === '/failsafe' && failsafe) {
      let body: unknown;
      try {
        body = await jsonBody(req);
      } catch (error) {
        send(res, 400, { accepted: false, reason: `not JSON: ${(error as Error).message}` }, false);
        return;
      }
      const signature = req.headers[SIGNATURE_HEADER];
      const answer = await failsafe.receive(body, typeof signature === 'string' ? signature : undefined);
      send(res, answer.status, answer.body, false);
      return;
    }
    if (req.method !== 'GET' && !head) {
      res.setHeader('allow', 'GET, HEAD');
      send(
        res,
        405,
        {
          error: `method ${req.method} not allowed: the health API is read-only (GET, HEAD; POST only for /failsafe)`,
        },
        false,
      );
      return;
    }
    const url = new URL(req.url ?? '/', 'http://agent');
    if (url.pathname === '/metrics') {
      send(res, 200, await metrics.metrics(), head, metrics.contentType);
      return;
    }
    try {
      const answer = answerHealth(
        url.pathname.replace(/\/+$/, '') || '/',
        url.searchParams,
        status(),
        config,
        performance.now(),
      );
      send(res, answer.status, answer.body, head);
    } catch (error) {
      if (error instanceof BadHealthQueryError) send(res, 400, { error: error.message }, head);
      else send(res, 500, { error: (error as Error).message }, head);
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error) => send(res, 500, { error: String(error) }, false));
  });
  server.requestTimeout = config.restapi.request_timeout * 1000;
  server.headersTimeout = config.restapi.request_timeout * 1000;
  const { host, port } = splitHostPort(config.restapi.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
