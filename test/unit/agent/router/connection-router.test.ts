import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectionRouter } from '../../../../agent/router/connection-router.ts';
import { freePort } from '../../../../local/free-port.ts';

/** A stand-in PostgreSQL: counts the connections it gets and keeps them open. */
async function fakeServer(name: string) {
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    target: { name, host: '127.0.0.1', port },
    sockets,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

function client(port: number) {
  const socket = connect(port, '127.0.0.1');
  const received: Buffer[] = [];
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('data', (d) => received.push(d));
  socket.on('error', () => {});
  return { socket, received, closed };
}

const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

describe('ConnectionRouter (pass-through)', () => {
  let router: ConnectionRouter;
  let a: Awaited<ReturnType<typeof fakeServer>>;
  let b: Awaited<ReturnType<typeof fakeServer>>;
  let writerPort: number;
  let readerPort: number;
  beforeEach(async () => {
    a = await fakeServer('a');
    b = await fakeServer('b');
    writerPort = await freePort();
    readerPort = await freePort();
    router = new ConnectionRouter({ host: '127.0.0.1', writerPort, readerPort });
    await router.start();
  });
  afterEach(async () => {
    await router.stop();
    await a.close();
    await b.close();
  });

  it('forwards writer connections to the routed writer', async () => {
    router.routeWriter({ ...a.target, term: 3 }, 'test');
    const c = client(writerPort);
    c.socket.write('hello');
    await settle();
    expect(a.sockets).toHaveLength(1);
    expect(b.sockets).toHaveLength(0);
    c.socket.destroy();
  });

  it('cuts every connection to a writer at once when a newer term holds, and never routes to it again', async () => {
    router.routeWriter({ ...a.target, term: 3 }, 'test');
    const c = client(writerPort);
    await settle();
    expect(a.sockets).toHaveLength(1);
    await router.holdWriter({ term: 4, reason: 'b holds the lease at term 4', timeoutMs: 5000 }, 'test');
    await c.closed; // at once: not at the next cycle
    // A route to the old writer at its old term is refused; new connections wait for term 4.
    expect(router.routeWriter({ ...a.target, term: 3 }, 'stale snapshot')).toBe(false);
    const waiting = client(writerPort);
    waiting.socket.write('startup');
    await settle();
    expect(a.sockets).toHaveLength(1);
    router.routeWriter({ ...b.target, term: 4 }, 'b promoted');
    await settle();
    expect(b.sockets).toHaveLength(1);
    expect(a.sockets).toHaveLength(1);
    waiting.socket.destroy();
  });

  it('a pause at the same term holds new connections and gives them to the next writer', async () => {
    router.routeWriter({ ...a.target, term: 3 }, 'test');
    await router.holdWriter(
      { term: 3, reason: 'switchover', timeoutMs: 5000, drainMs: 100, switchover: true },
      'test',
    );
    const c = client(writerPort);
    c.socket.write('startup');
    await settle();
    expect(a.sockets).toHaveLength(0);
    expect(b.sockets).toHaveLength(0);
    router.routeWriter({ ...b.target, term: 4 }, 'promoted');
    await settle();
    expect(b.sockets).toHaveLength(1);
    c.socket.destroy();
  });

  it('a pause that runs out lets everything go on with the writer before it', async () => {
    router.routeWriter({ ...a.target, term: 3 }, 'test');
    await router.holdWriter({ term: 3, reason: 'switchover', timeoutMs: 200, switchover: true }, 'test');
    const c = client(writerPort);
    c.socket.write('startup');
    await settle(400);
    expect(router.writerState).toMatchObject({ kind: 'routed', route: { name: 'a', term: 3 } });
    expect(a.sockets).toHaveLength(1);
    c.socket.destroy();
  });

  it('a hold for a new term that runs out answers waiting clients with a FATAL error', async () => {
    await router.holdWriter({ term: 5, reason: 'promotion under way', timeoutMs: 200 }, 'test');
    const c = client(writerPort);
    const startup = Buffer.alloc(8);
    startup.writeUInt32BE(8, 0);
    startup.writeUInt32BE(196608, 4);
    c.socket.write(startup);
    await c.closed;
    const answer = Buffer.concat(c.received).toString();
    expect(answer.startsWith('E')).toBe(true);
    expect(answer).toContain('C57P03');
    expect(answer).toContain('no primary was announced within the hold');
  });

  it('refuses reader connections when no replica qualifies, and cuts those to a replica that leaves', async () => {
    const none = client(readerPort);
    none.socket.write(Buffer.from([0, 0, 0, 8, 0, 3, 0, 0]));
    await none.closed;
    expect(Buffer.concat(none.received).toString()).toContain('no replica is streaming');
    router.routeReaders([a.target]);
    const r = client(readerPort);
    await settle();
    expect(a.sockets).toHaveLength(1);
    router.routeReaders([b.target]);
    await r.closed;
  });
});
