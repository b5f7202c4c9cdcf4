import { connect, createServer, type Server, type Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import { ClientLoginRefused, loginClient, type VerifierSource } from './client-login.ts';
import { AUTH, authenticationMessage, errorResponse, FIRST_PACKET, untypedPacket } from './pg-wire.ts';
import { RoutedConnection, type RouteTarget, type SessionLogin } from './routed-connection.ts';
import { loginUpstream, UpstreamRefused } from './upstream-login.ts';

export type { RouteTarget } from './routed-connection.ts';

/** The writer's destination: the lease holder at a term. */
export interface WriterRoute extends RouteTarget {
  readonly term: number;
}

/** Where the writer listener sends connections now. */
export type WriterState =
  | { readonly kind: 'routed'; readonly route: WriterRoute }
  /** New connections wait (a switchover, a promotion under way) until a route or `until`. */
  | {
      readonly kind: 'held';
      readonly term: number;
      readonly reason: string;
      readonly until: number;
      /** A switchover's pause (ends with the promotion's notice or the timeout, not a snapshot). */
      readonly switchover: boolean;
      /** The route before the hold, kept while the connections to it are held. */
      readonly previous?: WriterRoute;
    }
  /** Nothing known, or a hold ran out: connections are answered with `reason`. */
  | { readonly kind: 'refusing'; readonly reason: string };

export interface RouterListen {
  readonly host: string;
  readonly writerPort: number;
  readonly readerPort: number;
}

export interface RouterEvents {
  /** A change of the writer's state, with why (logged by the agent). */
  onWriterChange?(state: WriterState, why: string): void;
  /** Sessions moved to a new writer, and the ones that could not be (logged by the agent). */
  onMoved?(moved: number, cut: number, to: WriterRoute): void;
}

/**
 * The router runs every login itself (TLS ends at the router, the password proof is checked
 * against the role's verifier) so that a session between transactions can move to a new
 * primary. Without it, bytes pass through untouched and a change of primary cuts every session.
 */
export interface SessionOptions {
  readonly verifiers: VerifierSource;
  /** The host's certificate, for clients that ask for TLS. @default - TLS declined */
  readonly tls?: SecureContext;
  /** The cluster's CA: sessions to the members go over TLS, verified (verify-full). */
  readonly upstreamCa?: string;
  /** @default 10000 */
  readonly loginTimeoutMs?: number;
}

/** What a pause achieved: connections held between transactions, and the ones still busy. */
export interface PauseOutcome {
  readonly held: number;
  readonly busy: number;
  /** Encrypted end to end: the router cannot see their transactions. */
  readonly opaque: number;
}

/**
 * The router on every host (issue #17, DESIGN §1 "Routing behind the NLB"): a writer listener
 * that forwards to the lease holder and a reader listener that forwards to fresh replicas. It
 * never forwards to a writer of a term older than the newest it has seen, and it cuts every
 * connection to a writer the moment a newer term replaces it. During a hand-over new
 * connections wait, and existing ones are held between transactions, instead of failing.
 */
export class ConnectionRouter {
  private writerServer: Server | undefined;
  private readerServer: Server | undefined;
  private writer: WriterState = { kind: 'refusing', reason: 'the router has not learned the primary yet' };
  /** The newest term the router has seen: nothing older is ever routed again. */
  private newestTerm = 0;
  private readers: readonly RouteTarget[] = [];
  private nextReader = 0;
  private readonly writerConnections = new Set<RoutedConnection>();
  private readonly readerConnections = new Set<RoutedConnection>();
  private holdTimer: NodeJS.Timeout | undefined;
  /** Logins waiting for a writer (a hold), settled by the next route or the hold's end. */
  private writerWaiters: { resolve: (r: WriterRoute) => void; reject: (e: Error) => void }[] = [];
  /** Sessions by the backend key their client knows (its first server's), for cancel requests. */
  private readonly sessionsByKey = new Map<string, RoutedConnection>();

  constructor(
    private readonly listen: RouterListen,
    private readonly clock: () => number = Date.now,
    private readonly events: RouterEvents = {},
    private readonly sessions?: SessionOptions,
  ) {}

  get writerState(): WriterState {
    return this.writer;
  }

  get term(): number {
    return this.newestTerm;
  }

  get readerTargets(): readonly RouteTarget[] {
    return this.readers;
  }

  /** Open connections per listener. */
  get connections(): { writer: number; reader: number } {
    return { writer: this.writerConnections.size, reader: this.readerConnections.size };
  }

  get listening(): boolean {
    return this.writerServer?.listening === true && this.readerServer?.listening === true;
  }

  async start(): Promise<void> {
    this.writerServer = await this.listenOn(this.listen.writerPort, (s) => this.acceptWriter(s));
    this.readerServer = await this.listenOn(this.listen.readerPort, (s) => this.acceptReader(s));
  }

  async stop(): Promise<void> {
    clearTimeout(this.holdTimer);
    for (const c of [...this.writerConnections, ...this.readerConnections]) c.close();
    await Promise.all(
      [this.writerServer, this.readerServer].map(
        (server) => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
      ),
    );
  }

  /**
   * Sends writer connections to `route` from now on. A route of an older term than the newest seen
   * is refused (returns false). A new holder cuts every connection to the previous one at once.
   */
  routeWriter(route: WriterRoute, why: string): boolean {
    if (route.term < this.newestTerm) return false;
    const current = this.writer;
    const same =
      (current.kind === 'routed' && sameTarget(current.route, route)) ||
      (current.kind === 'held' && current.previous !== undefined && sameTarget(current.previous, route));
    if (current.kind === 'routed' && same && current.route.term === route.term) return true;
    this.newestTerm = route.term;
    clearTimeout(this.holdTimer);
    const moving: RoutedConnection[] = [];
    for (const c of this.writerConnections) {
      const to = c.routedTo;
      if (to && !sameTarget(to, route)) {
        // A new writer: a session between transactions is held (nothing more reaches the old
        // writer) and moved; one in a transaction is cut.
        if (c.login && c.quiet) c.hold(() => {});
        if (c.movable) moving.push(c);
        else c.close();
      } else if (to) c.release();
      else if (!c.login) c.forwardTo(route);
    }
    this.setWriter({ kind: 'routed', route }, why);
    for (const w of this.writerWaiters.splice(0)) w.resolve(route);
    if (moving.length > 0) void this.move(moving, route);
    return true;
  }

  /** Opens each held session again on `route` and lets it go on there; a failed one is cut. */
  private async move(connections: readonly RoutedConnection[], route: WriterRoute): Promise<void> {
    const outcomes = await Promise.all(
      connections.map(async (c) => {
        try {
          const session = await loginUpstream(route, c.login!, this.upstreamOptions());
          const now = this.writer;
          if (now.kind !== 'routed' || !sameTarget(now.route, route) || c.isClosed) {
            session.socket.destroy();
            c.close();
            return false;
          }
          c.useSession(route, session);
          c.release();
          return true;
        } catch {
          c.close();
          return false;
        }
      }),
    );
    const moved = outcomes.filter(Boolean).length;
    this.events.onMoved?.(moved, outcomes.length - moved, route);
  }

  private upstreamOptions() {
    return { ca: this.sessions?.upstreamCa, timeoutMs: this.sessions?.loginTimeoutMs ?? 10_000 };
  }

  /**
   * Holds the writer: new connections wait (at most until `timeoutMs` from now), and existing ones
   * are held at their next moment between transactions. At a newer term than the route's, every
   * connection to the old writer is cut at once instead (its lease was taken over). Resolves when
   * every connection is held, or after `drainMs`, with what was held and what was still busy.
   */
  holdWriter(
    hold: { term: number; reason: string; timeoutMs: number; drainMs?: number; switchover?: boolean },
    why: string,
  ): Promise<PauseOutcome> {
    if (hold.term < this.newestTerm) return Promise.resolve(this.pauseOutcome());
    const current = this.writer;
    const previous =
      current.kind === 'routed' ? current.route : current.kind === 'held' ? current.previous : undefined;
    const superseded = previous !== undefined && hold.term > previous.term;
    this.newestTerm = hold.term;
    const until = this.clock() + hold.timeoutMs;
    this.setWriter(
      {
        kind: 'held',
        term: hold.term,
        reason: hold.reason,
        until,
        switchover: hold.switchover === true,
        ...(previous && !superseded ? { previous } : {}),
      },
      why,
    );
    clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => this.holdExpired(), hold.timeoutMs);
    this.holdTimer.unref();
    if (superseded) {
      // Its lease was taken over: nothing more reaches the old writer. A session between
      // transactions that can move is held for the new one; every other is cut at once.
      for (const c of this.writerConnections) {
        if (!c.routedTo) continue;
        if (c.login && c.quiet) c.hold(() => {});
        if (!c.movable) c.close();
      }
      return Promise.resolve(this.pauseOutcome());
    }
    return this.drain(hold.drainMs ?? 0);
  }

  /** No primary known (nothing to wait for): connections are refused with `reason`. */
  refuseWriter(reason: string, why: string): void {
    clearTimeout(this.holdTimer);
    for (const c of this.writerConnections) c.refuse(`pgwarden router: ${reason}`);
    for (const w of this.writerWaiters.splice(0)) w.reject(new Error(`pgwarden router: ${reason}`));
    this.setWriter({ kind: 'refusing', reason }, why);
  }

  /** The replicas reader connections go to; connections to a replica no longer listed are cut. */
  routeReaders(targets: readonly RouteTarget[]): void {
    const keep = (t: RouteTarget) => targets.some((r) => sameTarget(r, t));
    for (const c of this.readerConnections) if (c.routedTo && !keep(c.routedTo)) c.close();
    this.readers = targets;
  }

  private setWriter(state: WriterState, why: string): void {
    this.writer = state;
    this.events.onWriterChange?.(state, why);
  }

  private pauseOutcome(): PauseOutcome {
    let held = 0;
    let busy = 0;
    let opaque = 0;
    for (const c of this.writerConnections) {
      if (!c.routedTo) continue;
      if (c.opaque) opaque += 1;
      else if (c.isHeld) held += 1;
      else busy += 1;
    }
    return { held, busy, opaque };
  }

  private drain(drainMs: number): Promise<PauseOutcome> {
    const routed = [...this.writerConnections].filter((c) => c.routedTo && !c.opaque);
    return new Promise((resolve) => {
      let left = routed.length;
      const done = () => {
        clearTimeout(timer);
        resolve(this.pauseOutcome());
      };
      const timer = setTimeout(done, drainMs);
      if (left === 0) return done();
      for (const c of routed)
        c.hold(() => {
          left -= 1;
          if (left === 0) done();
        });
    });
  }

  private holdExpired(): void {
    const state = this.writer;
    if (state.kind !== 'held') return;
    const reason = `no primary was announced within the hold (${state.reason})`;
    const previous = state.previous;
    if (previous) {
      // The writer before the hold still holds the lease at the newest term (a switchover that
      // did not happen): everything goes on there.
      for (const c of this.writerConnections) {
        if (c.routedTo) c.release();
        else if (!c.login) c.forwardTo(previous);
      }
      this.setWriter({ kind: 'routed', route: previous }, `the hold ran out (${state.reason})`);
      for (const w of this.writerWaiters.splice(0)) w.resolve(previous);
      return;
    }
    for (const c of this.writerConnections) {
      if (!c.routedTo) c.refuse(`pgwarden router: ${reason}`, 'retry: a new primary is on its way');
      else c.close();
    }
    for (const w of this.writerWaiters.splice(0)) w.reject(new Error(`pgwarden router: ${reason}`));
    this.setWriter({ kind: 'refusing', reason }, 'the hold ran out');
  }

  /** The writer to open a session on: now, after the hold, or why there is none. */
  private writerTarget(): Promise<WriterRoute> {
    const state = this.writer;
    if (state.kind === 'routed') return Promise.resolve(state.route);
    if (state.kind === 'refusing') return Promise.reject(new Error(`pgwarden router: ${state.reason}`));
    return new Promise((resolve, reject) => this.writerWaiters.push({ resolve, reject }));
  }

  /** A client whose login the router runs (SessionOptions): TLS, password proof, then a session. */
  private acceptSession(socket: Socket, role: 'writer' | 'reader'): void {
    const sessions = this.sessions!;
    const timeoutMs = sessions.loginTimeoutMs ?? 10_000;
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('error', () => socket.destroy());
    const registry = role === 'writer' ? this.writerConnections : this.readerConnections;
    let connection: RoutedConnection | undefined;
    (async () => {
      const login = await loginClient(socket, { tls: sessions.tls, verifiers: sessions.verifiers });
      if (login.kind === 'cancel') {
        clearTimeout(timer);
        this.cancel(login.pid, login.key);
        socket.destroy();
        return;
      }
      const sessionLogin: SessionLogin = { params: login.params, credentials: login.credentials };
      const early = login.reader.detach();
      const c = new RoutedConnection(
        login.socket,
        (x) => {
          registry.delete(x);
          for (const [k, v] of this.sessionsByKey) if (v === x) this.sessionsByKey.delete(k);
        },
        sessionLogin,
      );
      connection = c;
      registry.add(c);
      if (early.length > 0) c.client.emit('data', early);
      for (let attempt = 0; ; attempt++) {
        const target = role === 'writer' ? await this.writerTarget() : this.pickReader();
        const session = await loginUpstream(target, sessionLogin, this.upstreamOptions());
        const now = this.writer;
        const stale =
          role === 'writer' && (now.kind !== 'routed' || !sameTarget(now.route, target)) && attempt < 3;
        if (stale || c.isClosed) {
          session.socket.destroy();
          if (c.isClosed) return;
          continue;
        }
        clearTimeout(timer);
        c.useSession(target, session, authenticationMessage(AUTH.ok));
        if (session.backendKey)
          this.sessionsByKey.set(`${session.backendKey.pid}:${session.backendKey.key}`, c);
        return;
      }
    })().catch((error: Error) => {
      clearTimeout(timer);
      if (error instanceof ClientLoginRefused) return;
      const client = connection?.client ?? socket;
      if (error instanceof UpstreamRefused) client.end(error.response);
      else client.end(errorResponse('57P03', error.message));
      connection?.close();
    });
  }

  private pickReader(): RouteTarget {
    if (this.readers.length === 0)
      throw new Error('pgwarden router: no replica is streaming within the lag bound');
    return this.readers[this.nextReader++ % this.readers.length]!;
  }

  /** A cancel request for a session the router logged in: to the server it is on now. */
  private cancel(pid: number, key: number): void {
    const c = this.sessionsByKey.get(`${pid}:${key}`);
    const target = c?.routedTo ?? (this.writer.kind === 'routed' ? this.writer.route : undefined);
    const backend = c?.backendKey ?? { pid, key };
    if (!target) return;
    const body = Buffer.alloc(8);
    body.writeUInt32BE(backend.pid, 0);
    body.writeUInt32BE(backend.key, 4);
    const s = connect(target.port, target.host, () => s.end(untypedPacket(FIRST_PACKET.cancelRequest, body)));
    s.on('error', () => s.destroy());
  }

  private acceptWriter(socket: Socket): void {
    if (this.sessions) {
      this.acceptSession(socket, 'writer');
      return;
    }
    const connection = new RoutedConnection(socket, (c) => this.writerConnections.delete(c));
    this.writerConnections.add(connection);
    const state = this.writer;
    if (state.kind === 'routed') connection.forwardTo(state.route);
    else if (state.kind === 'refusing') connection.refuse(`pgwarden router: ${state.reason}`);
    // held: it waits for routeWriter() or the hold's end.
  }

  private acceptReader(socket: Socket): void {
    if (this.sessions) {
      this.acceptSession(socket, 'reader');
      return;
    }
    const connection = new RoutedConnection(socket, (c) => this.readerConnections.delete(c));
    this.readerConnections.add(connection);
    if (this.readers.length === 0) {
      connection.refuse('pgwarden router: no replica is streaming within the lag bound');
      return;
    }
    const target = this.readers[this.nextReader++ % this.readers.length]!;
    connection.forwardTo(target);
  }

  private listenOn(port: number, accept: (socket: Socket) => void): Promise<Server> {
    const server = createServer({ noDelay: true }, accept);
    return new Promise((resolve, reject) => {
      server.once('error', (error) =>
        reject(new Error(`the router cannot listen on ${this.listen.host}:${port}: ${error.message}`)),
      );
      server.listen(port, this.listen.host, () => resolve(server));
    });
  }
}

function sameTarget(a: RouteTarget, b: RouteTarget): boolean {
  return a.name === b.name && a.host === b.host && a.port === b.port;
}
