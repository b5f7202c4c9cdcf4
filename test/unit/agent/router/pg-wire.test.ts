import { describe, expect, it } from 'vitest';
import {
  ClientMessageScanner,
  errorResponse,
  firstPacketKind,
  ServerMessageScanner,
  type TransactionStatus,
} from '../../../../agent/router/pg-wire.ts';

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
const ready = (status: string) => message('Z', Buffer.from(status, 'latin1'));

describe('the wire protocol the router reads', () => {
  it('tells a startup packet, an SSL request and a cancel request apart', () => {
    const packet = (code: number) => {
      const b = Buffer.alloc(8);
      b.writeUInt32BE(8, 0);
      b.writeUInt32BE(code, 4);
      return b;
    };
    expect(firstPacketKind(packet(80877103))).toBe('ssl');
    expect(firstPacketKind(packet(80877102))).toBe('cancel');
    expect(firstPacketKind(packet(196608))).toBe('startup');
    expect(firstPacketKind(packet(1))).toBe('unknown');
    expect(firstPacketKind(Buffer.alloc(3))).toBeUndefined();
  });

  it('finds every ReadyForQuery status across chunk boundaries, whatever the other messages hold', () => {
    const seen: TransactionStatus[] = [];
    const scanner = new ServerMessageScanner((s) => seen.push(s));
    // A DataRow whose body contains the bytes of a ReadyForQuery must not count.
    const stream = Buffer.concat([
      message('D', Buffer.concat([Buffer.from([0, 1]), ready('T')])),
      ready('T'),
      message('C', Buffer.from('INSERT 0 1\0')),
      ready('I'),
      ready('E'),
    ]);
    for (let cut = 1; cut < stream.length; cut += 1) {
      seen.length = 0;
      const s = new ServerMessageScanner((x) => seen.push(x));
      s.scan(stream.subarray(0, cut));
      s.scan(stream.subarray(cut));
      expect(seen).toEqual(['T', 'I', 'E']);
    }
    seen.length = 0;
    for (const byte of stream) scanner.scan(Buffer.from([byte]));
    expect(seen).toEqual(['T', 'I', 'E']);
  });

  it('reports each client message as it begins', () => {
    const types: string[] = [];
    const scanner = new ClientMessageScanner((t) => types.push(t));
    const stream = Buffer.concat([
      message('P', Buffer.from('\0SELECT 1\0\0\0')),
      message('B', Buffer.alloc(10)),
      message('E', Buffer.alloc(5)),
      message('S', Buffer.alloc(0)),
      message('Q', Buffer.from('COMMIT\0')),
    ]);
    for (const byte of stream) scanner.scan(Buffer.from([byte]));
    expect(types).toEqual(['P', 'B', 'E', 'S', 'Q']);
  });

  it('builds an ErrorResponse a client reads as FATAL with the SQLSTATE and message', () => {
    const e = errorResponse('57P03', 'no primary', 'retry');
    expect(e.subarray(0, 1).toString()).toBe('E');
    expect(e.readUInt32BE(1)).toBe(e.length - 1);
    const text = e.subarray(5).toString();
    expect(text).toContain('SFATAL\0');
    expect(text).toContain('C57P03\0');
    expect(text).toContain('Mno primary\0');
    expect(text).toContain('Hretry\0');
  });
});
