import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SwitchableProxy } from '../../../adapters/local/switchable-proxy.ts';

describe('the switchable proxy in front of a service', () => {
  let server: Server;
  let proxy: SwitchableProxy;
  const post = async () => {
    const started = Date.now();
    const res = await fetch(`${proxy.endpoint}/`, { method: 'POST', body: '{"TableName":"t"}' });
    return { status: res.status, body: await res.text(), ms: Date.now() - started };
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('{"ok":true}'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    proxy = await new SwitchableProxy({
      host: '127.0.0.1',
      port: (server.address() as AddressInfo).port,
    }).start();
  });
  afterAll(async () => {
    await proxy.stop();
    await new Promise((r) => server.close(r));
  });

  it('forwards, then fails every request as DynamoDB does on a bad day, then forwards again', async () => {
    expect((await post()).status).toBe(200);
    proxy.degrade({ errorRate: 1 });
    const failed = await post();
    expect(failed.status).toBe(500);
    expect(JSON.parse(failed.body).__type).toContain('InternalServerError');
    proxy.heal();
    expect((await post()).body).toBe('{"ok":true}');
  });

  it('delays every request each way when slow', async () => {
    proxy.degrade({ latencyMs: 300 });
    const slow = await post();
    expect(slow.status).toBe(200);
    expect(slow.ms).toBeGreaterThanOrEqual(550);
    proxy.heal();
    expect((await post()).ms).toBeLessThan(300);
  });
});
