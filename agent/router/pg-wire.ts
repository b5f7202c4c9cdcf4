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
 * Follows a server's typed messages across chunks and reports every ReadyForQuery's status.
 * It only counts lengths: a chunk is never copied.
 */
export class ServerMessageScanner {
  private header = Buffer.alloc(5);
  private headerFill = 0;
  /** Bytes of the current message's body still to come. */
  private remaining = 0;
  private inReadyForQuery = false;

  constructor(private readonly onReady: (status: TransactionStatus) => void) {}

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
    }
  }
}

/**
 * Follows a client's typed messages (after its startup packet) and reports each message's type
 * as it begins, so that the router knows a query is in flight.
 */
export class ClientMessageScanner {
  private headerFill = 0;
  private readonly header = Buffer.alloc(5);
  private remaining = 0;

  constructor(private readonly onMessage: (type: string) => void) {}

  scan(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - at);
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
      this.onMessage(String.fromCharCode(this.header[0]!));
    }
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
