import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type Key = webcrypto.CryptoKey;
type KeyPair = webcrypto.CryptoKeyPair;

// node's WebCrypto is the DOM's `Crypto`, a type this project's Node-only lib set does not declare.
x509.cryptoProvider.set(webcrypto as never);

/** ECDSA P-256 with SHA-256: what PostgreSQL's OpenSSL and node both take, small and fast. */
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** A certificate and its private key, PEM (the key as PKCS#8). */
export interface PemPair {
  readonly cert: string;
  readonly key: string;
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f; // positive
  return bytes.toString('hex');
}

async function exportKey(key: Key): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

function importKey(pem: string): Promise<Key> {
  return webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(pem), ALGORITHM, false, ['sign']);
}

/** A new certificate authority for one cluster's PostgreSQL servers. */
export async function createAuthority(commonName: string, now = new Date(), days = 3650): Promise<PemPair> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as KeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: [{ CN: [commonName] }],
    notBefore: new Date(now.getTime() - DAY_MS),
    notAfter: new Date(now.getTime() + days * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await exportKey(keys.privateKey) };
}

export interface ServerIdentity {
  readonly commonName: string;
  /** IP addresses the server is reached at (libpq's verify-full matches them since PostgreSQL 14). */
  readonly ips: readonly string[];
  readonly dnsNames: readonly string[];
}

/** A server (and client) certificate for one host, signed by `authority`. */
export async function issueCertificate(
  authority: PemPair,
  identity: ServerIdentity,
  now = new Date(),
  days = 825,
): Promise<PemPair> {
  if (identity.ips.length + identity.dnsNames.length === 0) {
    throw new Error('a certificate needs at least one IP address or DNS name');
  }
  const caCert = new x509.X509Certificate(authority.cert);
  const caKey = await importKey(authority.key);
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as KeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: [{ CN: [identity.commonName] }],
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - DAY_MS),
    notAfter: new Date(Math.min(now.getTime() + days * DAY_MS, caCert.notAfter.getTime())),
    signingKey: caKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      new x509.SubjectAlternativeNameExtension([
        ...identity.ips.map((value) => ({ type: 'ip' as const, value })),
        ...identity.dnsNames.map((value) => ({ type: 'dns' as const, value })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await exportKey(keys.privateKey) };
}
