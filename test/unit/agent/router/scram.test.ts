import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseScramVerifier, ScramClient, ScramServer } from '../../../../agent/router/scram.ts';
import { changesSession } from '../../../../agent/router/session-state.ts';

const salt = Buffer.from('0123456789abcdef');
function keys(password: string) {
  const salted = pbkdf2Sync(password, salt, 4096, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return { clientKey, storedKey, serverKey };
}
const { storedKey, serverKey } = keys('secret');
const verifierText = `SCRAM-SHA-256$4096:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
const verifier = parseScramVerifier(verifierText)!;

/** One exchange between the router's server side and a client holding `clientKey`. */
function exchange(clientKey: Buffer) {
  const server = new ScramServer(verifier);
  const client = new ScramClient(clientKey, verifier);
  const serverFirst = server.first(client.first());
  if (serverFirst instanceof Error) throw serverFirst;
  const clientFinal = client.final(serverFirst);
  if (clientFinal instanceof Error) throw clientFinal;
  const final = server.final(clientFinal);
  return { final, client };
}

describe('SCRAM-SHA-256 at the router', () => {
  it('reads a pg_authid verifier', () => {
    expect(verifier.iterations).toBe(4096);
    expect(parseScramVerifier('md5abc')).toBeUndefined();
  });

  it("accepts the right password's proof, learns the client key, and proves itself to the client", () => {
    const { clientKey } = keys('secret');
    const { final, client } = exchange(clientKey);
    if (final instanceof Error) throw final;
    expect(final.clientKey.equals(clientKey)).toBe(true);
    expect(client.verify(final.serverFinal)).toBe(true);
  });

  it("refuses a wrong password's proof", () => {
    const { final } = exchange(keys('wrong').clientKey);
    expect(final).toBeInstanceOf(Error);
    expect((final as Error).message).toBe('password authentication failed');
  });

  it('refuses channel binding it cannot offer and a tampered nonce', () => {
    const server = new ScramServer(verifier);
    expect(server.first('p=tls-server-end-point,,n=,r=abc')).toBeInstanceOf(Error);
    const s2 = new ScramServer(verifier);
    s2.first('n,,n=,r=abc');
    expect(s2.final('c=biws,r=abcX,p=AAAA')).toBeInstanceOf(Error);
  });
});

describe('changesSession: what a moved session would lose', () => {
  const q = (sql: string) => Buffer.from(`${sql}\0`);
  const parse = (name: string, sql: string) => Buffer.from(`${name}\0${sql}\0\0\0`);
  it.each([
    ['SET search_path = app'],
    ['  set application_name to x'],
    ['BEGIN; SET statement_timeout = 0; COMMIT'],
    ['PREPARE p AS SELECT 1'],
    ['LISTEN jobs'],
    ['CREATE TEMP TABLE t (x int)'],
    ['create temporary table t (x int)'],
    ['SELECT pg_advisory_lock(1)'],
    ["SELECT set_config('x.y', '1', false)"],
    ['DECLARE c CURSOR WITH HOLD FOR SELECT 1'],
    ['/* hint */ SET x = 1'],
  ])('%s keeps state in the session', (sql) => {
    expect(changesSession('Q', q(sql))).toBe(true);
  });
  it.each([
    ['INSERT INTO t VALUES (1)'],
    ['UPDATE t SET x = 1 WHERE id = 2'],
    ['BEGIN; SET LOCAL statement_timeout = 0; UPDATE t SET x = 1; COMMIT'],
    ['SET TRANSACTION ISOLATION LEVEL SERIALIZABLE'],
    ["SELECT 'SET x = 1'"],
  ])('%s does not', (sql) => {
    expect(changesSession('Q', q(sql))).toBe(false);
  });
  it('a named prepared statement keeps state; the unnamed one does not', () => {
    expect(changesSession('P', parse('s1', 'SELECT 1'))).toBe(true);
    expect(changesSession('P', parse('', 'SELECT $1'))).toBe(false);
  });
});
