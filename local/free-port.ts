import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The lowest port the kernel hands out to outgoing connections (Linux; 32768 elsewhere). */
export function ephemeralPortFloor(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32768;
  } catch {
    return 32768;
  }
}

const FLOOR = 20000;
/** Ports this process handed out: two calls in a row must not return the same one. */
const given = new Set<number>();

function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * A loopback port that was free a moment ago and that this process has not handed out before,
 * chosen at random below the kernel's ephemeral range. bind(0) is no good: the kernel may give
 * the same port to the next bind(0) (a node's PostgreSQL and REST API were once given one port)
 * or to an outgoing connection as its source port.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const ceiling = ephemeralPortFloor();
  if (ceiling - FLOOR >= 1000) {
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const port = randomInt(FLOOR, ceiling);
      if (given.has(port)) continue;
      given.add(port); // before the check: concurrent calls must not pick it too
      if (await bindable(port, host)) return port;
    }
  }
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
