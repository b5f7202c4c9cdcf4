import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ephemeralPortFloor, freePort } from '../../../local/free-port.ts';

describe('freePort', () => {
  it('gives distinct bindable loopback ports below the range the kernel uses for outgoing connections', async () => {
    const floor = ephemeralPortFloor();
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const port of ports) expect(port).toBeLessThan(floor);
    expect(new Set(ports).size).toBe(ports.length);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(ports[0], '127.0.0.1', () => resolve());
    });
    await new Promise((r) => server.close(r));
  });
});
