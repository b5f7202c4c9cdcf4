/**
 * The few pieces of PostgreSQL's wire protocol (v3) the router reads: what a client's first
 * packet asks for, where a server's messages end, and the transaction status each
 * ReadyForQuery carries. Everything else passes through as bytes.
 */

/** The codes of a client's first, untyped packet (length, then this 32-bit code). */
export const FIRST_PACKET = {
  sslRequest: 80877103,
  gssEncRequest: 80877104,
  cancelRequest: 80877102,
  /** Protocol 3.0 in a StartupMessage. */
  startup: 196608,
} as const;

export type FirstPacketKind = 'ssl' | 'gss' | 'cancel' | 'startup' | 'unknown';

/** What a client's first packet is, once its first 8 bytes are in; undefined before. */
export function firstPacketKind(bytes: Buffer): FirstPacketKind | undefined {
  if (bytes.length < 8) return undefined;
  const code = bytes.readUInt32BE(4);
  if (code === FIRST_PACKET.sslRequest) return 'ssl';
  if (code === FIRST_PACKET.gssEncRequest) return 'gss';
  if (code === FIRST_PACKET.cancelRequest) return 'cancel';
  if (code === FIRST_PACKET.startup) return 'startup';
  return 'unknown';
}

/** The length of the first packet (its 32-bit length field counts itself), once known. */
export function firstPacketLength(bytes: Buffer): number | undefined {
  return bytes.length < 4 ? undefined : bytes.readUInt32BE(0);
}

/** Transaction status of a ReadyForQuery: idle, in a transaction block, in a failed one. */
export type TransactionStatus = 'I' | 'T' | 'E';

/**
 * Follows a server's typed messages across chunks: every message type as it begins, and every
 * ReadyForQuery's status. It only counts lengths: a chunk is never copied.
 */
export class ServerMessageScanner {
  private header = Buffer.alloc(5);
  private headerFill = 0;
  /** Bytes of the current message's body still to come. */
  private remaining = 0;
  private inReadyForQuery = false;

  constructor(
    private readonly onReady: (status: TransactionStatus) => void,
    private readonly onType?: (type: string) => void,
  ) {}

  scan(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - at);
        if (this.inReadyForQuery && take > 0) {
          const status = String.fromCharCode(chunk[at]!);
          if (status === 'I' || status === 'T' || status === 'E') this.onReady(status);
          this.inReadyForQuery = false;
        }
        this.remaining -= take;
        at += take;
        continue;
      }
      const take = Math.min(5 - this.headerFill, chunk.length - at);
      chunk.copy(this.header, this.headerFill, at, at + take);
      this.headerFill += take;
      at += take;
      if (this.headerFill < 5) break;
      this.headerFill = 0;
      this.remaining = this.header.readUInt32BE(1) - 4;
      this.inReadyForQuery = this.header[0] === 0x5a && this.remaining === 1; // 'Z'
      this.onType?.(String.fromCharCode(this.header[0]!));
    }
  }
}

/**
 * Follows a client's typed messages (after its startup packet) and reports each one's type as
 * it begins; for the types in `capture`, once the first `headBytes` of its body are in (or the
 * whole body, if shorter), with those bytes: enough to read a query's first statements.
 */
export class ClientMessageScanner {
  private headerFill = 0;
  private readonly header = Buffer.alloc(5);
  private remaining = 0;
  private head: Buffer[] | undefined;
  private headFill = 0;
  private headWant = 0;
  private type = '';

  constructor(
    private readonly onMessage: (type: string, head?: Buffer) => void,
    private readonly capture: ReadonlySet<string> = new Set(),
    private readonly headBytes = 4096,
  ) {}

  scan(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - at);
        if (this.head) {
          const keep = Math.min(take, this.headWant - this.headFill);
          if (keep > 0) this.head.push(chunk.subarray(at, at + keep));
          this.headFill += Math.max(0, keep);
          if (this.headFill >= this.headWant) this.finishHead();
        }
        this.remaining -= take;
        at += take;
        continue;
      }
      const take = Math.min(5 - this.headerFill, chunk.length - at);
      chunk.copy(this.header, this.headerFill, at, at + take);
      this.headerFill += take;
      at += take;
      if (this.headerFill < 5) break;
      this.headerFill = 0;
      this.remaining = this.header.readUInt32BE(1) - 4;
      this.type = String.fromCharCode(this.header[0]!);
      if (this.capture.has(this.type)) {
        this.head = [];
        this.headFill = 0;
        this.headWant = Math.min(this.remaining, this.headBytes);
        if (this.headWant === 0) this.finishHead();
      } else this.onMessage(this.type);
    }
  }

  private finishHead(): void {
    const head = Buffer.concat(this.head ?? []);
    this.head = undefined;
    this.onMessage(this.type, head);
  }
}

/**
 * An ErrorResponse a client shows as the server's own: `FATAL` with a SQLSTATE (57P03
 * cannot_connect_now for a router that has no server to give), the message and a hint.
 */
export function errorResponse(sqlstate: string, message: string, hint?: string): Buffer {
  const fields: [string, string][] = [
    ['S', 'FATAL'],
    ['V', 'FATAL'],
    ['C', sqlstate],
    ['M', message],
    ...(hint ? ([['H', hint]] as [string, string][]) : []),
  ];
  const body = Buffer.concat([
    ...fields.map(([code, value]) => Buffer.from(`${code}${value}\0`, 'utf8')),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(5);
  head.write('E', 0, 'latin1');
  head.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** A typed message: its type byte, its length (counting itself), its body. */
export function wireMessage(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** An Authentication message (`R`) with its code and data. */
export function authenticationMessage(code: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const body = Buffer.alloc(4 + data.length);
  body.writeUInt32BE(code, 0);
  data.copy(body, 4);
  return wireMessage('R', body);
}

/** Authentication codes the router reads and writes. */
export const AUTH = { ok: 0, cleartext: 3, md5: 5, sasl: 10, saslContinue: 11, saslFinal: 12 } as const;

/** An untyped packet: a StartupMessage (its parameters), an SSLRequest, a CancelRequest. */
export function untypedPacket(code: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length + 8, 0);
  head.writeUInt32BE(code, 4);
  return Buffer.concat([head, body]);
}

/** The key=value pairs of a StartupMessage body (after its protocol code). */
export function parseStartupParameters(body: Buffer): Record<string, string> {
  const parts = body.toString('utf8').split('\0');
  const params: Record<string, string> = {};
  for (let i = 0; i + 1 < parts.length && parts[i] !== ''; i += 2) params[parts[i]!] = parts[i + 1]!;
  return params;
}

export function startupPacket(params: Readonly<Record<string, string>>): Buffer {
  const body = Buffer.from(
    `${Object.entries(params)
      .map(([k, v]) => `${k}\0${v}\0`)
      .join('')}\0`,
    'utf8',
  );
  return untypedPacket(FIRST_PACKET.startup, body);
}

/** The fields of an ErrorResponse body: `M` the message, `C` the SQLSTATE. */
export function errorFields(body: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const code = String.fromCharCode(body[at]!);
    const end = body.indexOf(0, at + 1);
    fields[code] = body.subarray(at + 1, end).toString('utf8');
    at = end + 1;
  }
  return fields;
}
