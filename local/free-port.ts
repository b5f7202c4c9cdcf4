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

function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * A loopback port that was free a moment ago, chosen below the kernel's ephemeral range: a port
 * from bind(0) is one the kernel may give next to an outgoing connection as its source port, and
 * PostgreSQL or HAProxy then cannot bind it for as long as that connection lives.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const ceiling = ephemeralPortFloor();
  if (ceiling - FLOOR >= 1000) {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const port = randomInt(FLOOR, ceiling);
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
