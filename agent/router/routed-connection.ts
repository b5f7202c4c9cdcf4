import { connect, type Socket } from 'node:net';
import type { LoginCredentials } from './client-login.ts';
import {
  ClientMessageScanner,
  errorResponse,
  firstPacketKind,
  firstPacketLength,
  ServerMessageScanner,
  type TransactionStatus,
} from './pg-wire.ts';
import type { RouteTarget } from './route-target.ts';
import { changesSession } from './session-state.ts';
import type { UpstreamSession } from './upstream-login.ts';

export type { RouteTarget } from './route-target.ts';

/** A session whose login the router ran itself: it can open the same session on another member. */
export interface SessionLogin {
  readonly params: Readonly<Record<string, string>>;
  readonly credentials: LoginCredentials;
}

/** Messages a server answers with one ReadyForQuery: a simple query, a Sync, a function call. */
const ANSWERED_BY_READY = new Set(['Q', 'S', 'F']);
/** Extended-protocol messages that open a batch only a Sync closes. */
const OPENS_BATCH = new Set(['P', 'B', 'E', 'D', 'C', 'H']);
/** Client messages whose first bytes tell whether they leave state in the session. */
const READ_HEAD = new Set(['Q', 'P']);

/**
 * One client connection through a router, and its server connection once it has one. It
 * follows both directions just enough to know when the session sits between transactions
 * (every query answered, ReadyForQuery said idle), which is when a pause may hold it; a session
 * the router logged in itself (`login`) that holds no session state can then be moved to
 * another member without the client noticing.
 */
export class RoutedConnection {
  private server: Socket | undefined;
  private target: RouteTarget | undefined;
  /** Client bytes not yet sent: before a target is chosen, or while held. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private holding = false;
  /** Server bytes kept back while held (a clean stop's FATAL must not reach a moved session). */
  private serverHeld: Buffer[] = [];
  private serverLost = false;
  private clientPhase: 'first' | 'awaiting-ssl-answer' | 'typed' | 'opaque';
  private firstPacket = Buffer.alloc(0);
  private serverPhase: 'ssl-answer' | 'typed' | 'opaque' = 'typed';
  private readyForQueryOwed = 0;
  private inBatch = false;
  private status: TransactionStatus | undefined;
  private closed = false;
  /** Something the session did that a new session would not have (SET, PREPARE, LISTEN...). */
  private stateful = false;
  private readonly clientScanner = new ClientMessageScanner(
    (type, head) => this.clientMessage(type, head),
    READ_HEAD,
  );
  private serverScanner = this.newServerScanner();
  private onQuiet: (() => void) | undefined;
  /** What the client's first packet is, once known (a cancel request is sent and forgotten). */
  kind: ReturnType<typeof firstPacketKind>;
  /** The server's backend key of the session now (cancel requests go there). */
  backendKey: { readonly pid: number; readonly key: number } | undefined;

  constructor(
    readonly client: Socket,
    private readonly onClose: (connection: RoutedConnection) => void,
    /** Set when the router ran the client's login itself (its session can move). */
    readonly login?: SessionLogin,
    /** Most bytes a waiting or held client may send before it is cut. */
    private readonly maxPendingBytes = 1 << 20,
  ) {
    this.clientPhase = login ? 'typed' : 'first';
    if (login) this.kind = 'startup';
    client.setNoDelay(true);
    client.on('data', (chunk: Buffer) => this.fromClient(chunk));
    client.on('error', () => this.close());
    client.on('close', () => this.close());
  }

  /** The server it forwards to, once chosen. */
  get routedTo(): RouteTarget | undefined {
    return this.target;
  }

  /** Between transactions: every query answered and ReadyForQuery said idle (plain sessions only). */
  get quiet(): boolean {
    return (
      this.clientPhase === 'typed' &&
      this.serverPhase === 'typed' &&
      this.status === 'I' &&
      this.readyForQueryOwed === 0 &&
      !this.inBatch
    );
  }

  /** Encrypted end to end (TLS or GSS): the router cannot see its transactions. */
  get opaque(): boolean {
    return this.clientPhase === 'opaque' || this.serverPhase === 'opaque';
  }

  get isHeld(): boolean {
    return this.holding;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Held between transactions, logged in by the router, no session state: it may move. */
  get movable(): boolean {
    return this.login !== undefined && this.holding && !this.stateful;
  }

  /** Pass-through: sends the client's bytes to `target` from now on (the waiting ones first). */
  forwardTo(target: RouteTarget): void {
    if (this.closed || this.server) return;
    this.target = target;
    const server = connect(target.port, target.host);
    server.setNoDelay(true);
    this.attachServer(server);
    this.flush();
  }

  /**
   * A session the router logged in on `target`: the first one (its greeting goes to the client,
   * after AuthenticationOk) or, held, a move (the greeting is the router's, and what the old
   * server still had to say is dropped).
   */
  useSession(target: RouteTarget, session: UpstreamSession, greetClient?: Buffer): void {
    if (this.closed) {
      session.socket.destroy();
      return;
    }
    const old = this.server;
    this.server = undefined;
    old?.removeAllListeners('data');
    old?.destroy();
    this.target = target;
    this.serverLost = false;
    this.serverHeld = [];
    this.backendKey = session.backendKey;
    this.serverScanner = this.newServerScanner();
    this.status = 'I';
    this.readyForQueryOwed = 0;
    if (greetClient) this.client.write(Buffer.concat([greetClient, ...session.greeting]));
    this.attachServer(session.socket);
    if (session.rest.length > 0) this.fromServer(session.rest);
    if (!this.holding) this.flush();
  }

  /**
   * Holds the client's next transaction: from its next quiet moment, nothing it sends reaches the
   * server until `release()`. `onQuiet` is called once it is held (at once when already quiet).
   */
  hold(onQuiet: () => void): void {
    if (this.closed) return;
    this.onQuiet = onQuiet;
    if (this.quiet) this.becomeHeld();
  }

  /** Lets held bytes through again, to the same server (or closes, if that server is gone). */
  release(): void {
    this.onQuiet = undefined;
    if (!this.holding) return;
    this.holding = false;
    if (this.serverLost) {
      this.close();
      return;
    }
    const kept = this.serverHeld;
    this.serverHeld = [];
    for (const chunk of kept) this.client.write(chunk);
    this.flush();
  }

  /** Answers a client that has no server yet with an error it shows as the server's, then closes. */
  refuse(message: string, hint?: string): void {
    if (this.closed) return;
    if (this.server || this.kind === 'cancel' || this.login) {
      if (this.login && !this.server) this.client.end(errorResponse('57P03', message, hint));
      this.close();
      return;
    }
    const answer = () => {
      this.client.end(errorResponse('57P03', message, hint));
      this.closed = true;
      this.onClose(this);
    };
    const asked = Buffer.concat(this.pending);
    if (firstPacketKind(asked) === 'ssl' || firstPacketKind(asked) === 'gss') {
      // Decline the encryption, read the startup packet that follows, then answer it.
      this.pending = [];
      this.pendingBytes = 0;
      this.client.write('N');
      this.client.removeAllListeners('data');
      this.client.once('data', answer);
      setTimeout(() => this.close(), 2000).unref();
      return;
    }
    answer();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
    this.server?.destroy();
    this.onClose(this);
  }

  private newServerScanner(): ServerMessageScanner {
    return new ServerMessageScanner(
      (s) => this.serverReady(s),
      (type) => {
        // A ParameterStatus after the greeting is a SET of a reported setting; 'A' a LISTEN.
        if (type === 'S' || type === 'A') this.stateful = true;
      },
    );
  }

  private attachServer(server: Socket): void {
    this.server = server;
    server.on('data', (chunk: Buffer) => {
      if (this.server === server) this.fromServer(chunk);
    });
    const lost = () => {
      if (this.server !== server) return;
      // A held session the router logged in waits for its move instead of failing.
      if (this.login && this.holding) this.serverLost = true;
      else this.close();
    };
    server.on('error', lost);
    server.on('close', lost);
  }

  private becomeHeld(): void {
    this.holding = true;
    const notify = this.onQuiet;
    this.onQuiet = undefined;
    notify?.();
  }

  private fromClient(chunk: Buffer): void {
    if (this.closed) return;
    if (!this.server || this.holding || this.serverLost) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.kind === undefined) this.kind = firstPacketKind(Buffer.concat(this.pending));
      if (this.pendingBytes > this.maxPendingBytes) this.close();
      return;
    }
    this.forward(chunk);
  }

  private flush(): void {
    const pending = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    for (const chunk of pending) this.forward(chunk);
  }

  private forward(chunk: Buffer): void {
    this.scanClient(chunk);
    this.server?.write(chunk);
  }

  /** Follows the client's untyped first packets, then its typed messages. */
  private scanClient(chunk: Buffer): void {
    if (this.clientPhase === 'typed') {
      this.clientScanner.scan(chunk);
      return;
    }
    if (this.clientPhase !== 'first') return;
    this.firstPacket = Buffer.concat([this.firstPacket, chunk]);
    const length = firstPacketLength(this.firstPacket);
    if (length === undefined || this.firstPacket.length < Math.max(length, 8)) return;
    const kind = firstPacketKind(this.firstPacket);
    this.kind ??= kind;
    const rest = this.firstPacket.subarray(length);
    this.firstPacket = Buffer.alloc(0);
    if (kind === 'ssl' || kind === 'gss') {
      this.clientPhase = 'awaiting-ssl-answer';
      this.serverPhase = 'ssl-answer';
      return;
    }
    if (kind !== 'startup') {
      this.clientPhase = 'opaque';
      return;
    }
    this.clientPhase = 'typed';
    if (rest.length > 0) this.clientScanner.scan(rest);
  }

  private clientMessage(type: string, head?: Buffer): void {
    if (ANSWERED_BY_READY.has(type)) {
      this.readyForQueryOwed += 1;
      if (type === 'S') this.inBatch = false;
    } else if (OPENS_BATCH.has(type)) this.inBatch = true;
    if (!this.stateful && changesSession(type, head)) this.stateful = true;
  }

  private fromServer(chunk: Buffer): void {
    if (this.serverPhase === 'ssl-answer') {
      const answer = String.fromCharCode(chunk[0]!);
      if (answer === 'S' || answer === 'G') {
        this.serverPhase = 'opaque';
        this.clientPhase = 'opaque';
      } else {
        this.serverPhase = 'typed';
        this.clientPhase = 'first';
        if (chunk.length > 1) this.serverScanner.scan(chunk.subarray(1));
      }
    } else if (this.serverPhase === 'typed') this.serverScanner.scan(chunk);
    if (this.holding && this.login) this.serverHeld.push(chunk);
    else this.client.write(chunk);
  }

  private serverReady(status: TransactionStatus): void {
    this.status = status;
    this.readyForQueryOwed = Math.max(0, this.readyForQueryOwed - 1);
    if (this.onQuiet && this.quiet) this.becomeHeld();
  }
}
