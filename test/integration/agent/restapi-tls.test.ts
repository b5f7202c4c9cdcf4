import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentCluster } from '../../helpers/agent-cluster.ts';

/** One HTTPS request; resolves with the status (and the body when asked), or the error message. */
function https(
  url: string,
  options: {
    ca?: string;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    withBody?: boolean;
  } = {},
): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(
      url,
      { method: options.method ?? 'GET', ca: options.ca, headers: options.headers, timeout: 3000 },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => {
          text += d.toString();
        });
        res.on('end', () => resolve(options.withBody ? `${res.statusCode} ${text}` : (res.statusCode ?? 0)));
      },
    );
    req.on('error', (error) => resolve(error.message));
    req.end(options.body);
  });
}

describe("the REST API with Patroni's restapi.certfile, cafile, verify_client and authentication", () => {
  let c: AgentCluster;
  let ca: string;

  beforeAll(async () => {
    c = await AgentCluster.create({ nodes: 2, restapiTls: true });
    await c.startAll();
    ca = readFileSync(c.login.ca!, 'utf8');
  });
  afterAll(async () => {
    await c?.destroy();
  });

  it('serves HTTPS with the certificate the config names, and its members advertise https URLs', async () => {
    const port = c.node('node1').apiPort;
    expect(await https(`https://127.0.0.1:${port}/primary`, { ca })).toBe(200);
    // Not trusted without the CA; no plain HTTP on the same port.
    expect(String(await https(`https://127.0.0.1:${port}/primary`))).toMatch(
      /self[- ]signed|unable to verify/i,
    );
    const plain = await fetch(`http://127.0.0.1:${port}/primary`).then(
      (r) => r.status,
      (e: Error) => e.message,
    );
    expect(plain).not.toBe(200);
    const members = (await c.store.getSnapshot('test')).members;
    expect(members.map((m) => m.api_url.slice(0, 8))).toEqual(['https://', 'https://']);
  });

  it('POST /failsafe needs the Basic credentials before its signature is even looked at', async () => {
    const url = `https://127.0.0.1:${c.node('node2').apiPort}/failsafe`;
    const body = JSON.stringify({ cluster: 'test', term: 1, from: 'node1', sent_at: Date.now() });
    const headers = { 'content-type': 'application/json' };
    const ask = (authorization?: string) =>
      https(url, {
        ca,
        method: 'POST',
        headers: authorization ? { ...headers, authorization } : headers,
        body,
        withBody: true,
      });
    expect(await ask()).toMatch(/^401 .*restapi\.authentication/);
    expect(await ask(`Basic ${Buffer.from('patroni:wrong').toString('base64')}`)).toMatch(
      /^401 .*restapi\.authentication/,
    );
    // With the credentials, the unsigned ping is refused for its signature instead.
    expect(await ask(`Basic ${Buffer.from(`patroni:${c.password}`).toString('base64')}`)).toMatch(
      /^401 .*signature is missing or wrong/,
    );
  });

  it('failsafe pings travel over HTTPS with the credentials: the primary stays writable through a DynamoDB outage', async () => {
    const before = (await c.store.getLeader('test'))!;
    for (const name of c.nodes.keys()) c.isolate(name);
    try {
      // Three ttls (fast profile: 4 s) with no DynamoDB: only the pings can keep the lease.
      await new Promise((r) => setTimeout(r, 12_000));
      expect((await c.api('node1', '/primary')).status).toBe(200);
      const patroni = (await c.api('node1', '/patroni')).body as { failsafe_mode_is_active?: boolean };
      expect(patroni.failsafe_mode_is_active).toBe(true);
    } finally {
      for (const name of c.nodes.keys()) c.heal(name);
    }
    await c.waitForRole('node1', '/primary');
    expect((await c.store.getLeader('test'))!.term).toBe(before.term);
  }, 60_000);
});
