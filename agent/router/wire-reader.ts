import type { Socket } from 'node:net';

/**
 * Reads PostgreSQL packets from a socket, one at a time, for the router's login phases (which
 * are a conversation, so linear code reads best); `detach()` hands the bytes it read ahead back.
 */
export class WireReader {
  private buffer = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  private failure: Error | undefined;
  private readonly onData = (chunk: Buffer) => {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    this.wake();
  };
  private readonly onEnd = () => {
    this.failure ??= new Error('the connection closed');
    this.wake();
  };
  private readonly onError = (error: Error) => {
    this.failure ??= error;
    this.wake();
  };

  constructor(private readonly socket: Socket) {
    socket.on('data', this.onData);
    socket.on('close', this.onEnd);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  /** Exactly `n` bytes; rejects when the connection ends first. */
  async bytes(n: number): Promise<Buffer> {
    while (this.buffer.length < n) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
    const out = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    return out;
  }

  /** An untyped packet (startup, SSL or cancel request): its code and body. */
  async untyped(maxLength = 10_000): Promise<{ code: number; body: Buffer; raw: Buffer }> {
    const head = await this.bytes(8);
    const length = head.readUInt32BE(0);
    if (length < 8 || length > maxLength) throw new Error(`a first packet of ${length} bytes`);
    const body = await this.bytes(length - 8);
    return { code: head.readUInt32BE(4), body, raw: Buffer.concat([head, body]) };
  }

  /** A typed message: its type and body. */
  async message(maxLength = 1 << 20): Promise<{ type: string; body: Buffer; raw: Buffer }> {
    const head = await this.bytes(5);
    const length = head.readUInt32BE(1);
    if (length < 4 || length > maxLength) throw new Error(`a message of ${length} bytes`);
    const body = await this.bytes(length - 4);
    return { type: String.fromCharCode(head[0]!), body, raw: Buffer.concat([head, body]) };
  }

  /** Stops reading; returns what was read ahead. */
  detach(): Buffer {
    this.socket.off('data', this.onData);
    this.socket.off('close', this.onEnd);
    this.socket.off('end', this.onEnd);
    this.socket.off('error', this.onError);
    const rest = this.buffer;
    this.buffer = Buffer.alloc(0);
    return rest;
  }
}
