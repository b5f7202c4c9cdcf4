import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { AgentConfig } from '../../core/config/agent-config.ts';
import { splitHostPort } from '../../core/config/units.ts';
import type { AgentStatus } from '../daemon/agent-daemon.ts';
import type { FailsafeMember } from '../failsafe/failsafe-member.ts';
import { SIGNATURE_HEADER } from '../failsafe/ping-signature.ts';
import type { RouterSteering } from '../router/router-steering.ts';
import { answerHealth } from './health-checks.ts';
import { createAgentMetrics, patroniMetrics } from './metrics.ts';
import { restapiAuthorization, restapiServerOptions } from './restapi-tls.ts';

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

function sameSecret(given: string | undefined, expected: string): boolean {
  const a = Buffer.from(given ?? '');
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
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
  router?: RouterSteering,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const metrics = createAgentMetrics(config, status);
  const expectedAuth = restapiAuthorization(config.restapi);
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const head = req.method === 'HEAD';
    // The two mutating endpoints: Basic auth when configured, a JSON body, then its signature.
    const path = (req.url ?? '').replace(/\?.*$/, '');
    const receiver =
      req.method !== 'POST'
        ? undefined
        : path === '/failsafe'
          ? failsafe
          : path === '/router'
            ? router
            : undefined;
    if (receiver) {
      if (expectedAuth && !sameSecret(req.headers.authorization, expectedAuth)) {
        res.setHeader('www-authenticate', 'Basic realm="pgwarden"');
        send(res, 401, { accepted: false, reason: 'restapi.authentication: no or wrong credentials' }, false);
        return;
      }
      let body: unknown;
      try {
        body = await jsonBody(req);
      } catch (error) {
        send(res, 400, { accepted: false, reason: `not JSON: ${(error as Error).message}` }, false);
        return;
      }
      const signature = req.headers[SIGNATURE_HEADER];
      const answer = await receiver.receive(body, typeof signature === 'string' ? signature : undefined);
      send(res, answer.status, answer.body, false);
      return;
    }
    const method = req.method === 'HEAD' || req.method === 'OPTIONS' ? req.method : 'GET';
    if (req.method !== 'GET' && req.method !== method) {
      res.setHeader('allow', 'GET, HEAD, OPTIONS');
      send(
        res,
        405,
        {
          error: `method ${req.method} not allowed: pgwarden's REST API changes nothing (GET, HEAD, OPTIONS; POST only for /failsafe and /router); use the pgwarden CLI`,
        },
        false,
      );
      return;
    }
    const url = new URL(req.url ?? '/', 'http://agent');
    if (url.pathname.replace(/\/+$/, '') === '/router' && router) {
      // The endpoint's health check of this host's targets: the router listens and the agent cycles.
      const s = status();
      const cycling =
        s.lastCycleAt !== undefined && performance.now() - s.lastCycleAt <= s.clusterConfig.ttl * 1000;
      const r = router.status();
      send(res, r.listening && cycling ? 200 : 503, { ...r, agent_cycling: cycling }, head);
      return;
    }
    if (url.pathname === '/metrics' && method === 'GET') {
      send(res, 200, patroniMetrics(status(), config) + (await metrics.metrics()), head, metrics.contentType);
      return;
    }
    const answer = answerHealth(
      url.pathname.replace(/\/+$/, '') || '/',
      url.searchParams,
      status(),
      config,
      performance.now(),
      method,
    );
    if (answer.warning) res.setHeader('x-pgwarden-warning', answer.warning);
    if (answer.statusOnly) {
      res.writeHead(answer.status, { 'content-length': 0, 'cache-control': 'no-store' });
      res.end();
      return;
    }
    send(res, answer.status, answer.body, head);
  };
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((error) => send(res, 500, { error: String(error) }, false));
  };
  // Patroni's restapi.certfile: HTTPS, with client certificates when verify_client asks for them.
  const tls = restapiServerOptions(config.restapi);
  const server: Server = tls ? createHttpsServer(tls, listener) : createServer(listener);
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
