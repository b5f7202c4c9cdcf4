import { chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import type { PemPair } from '../../adapters/tls/certificates.ts';
import { ConfigValidationError } from '../../core/errors.ts';
import { type OsUser, resolvePgUser } from '../os-user.ts';

/** The cluster's certificate authority as the stack keeps it (a Secrets Manager JSON value). */
const authoritySchema = z.strictObject({
  cert: z.string().includes('BEGIN CERTIFICATE', { error: 'a PEM certificate' }),
  key: z.string().includes('BEGIN PRIVATE KEY', { error: 'a PEM PKCS#8 private key' }),
});

/** The files a host's PostgreSQL serves TLS with, under one directory. */
export function tlsFiles(dir: string): { ca: string; cert: string; key: string } {
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
}

export async function readAuthority(path: string): Promise<PemPair> {
  const source = `certificate authority ${path}`;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigValidationError(source, [
      {
        key: '(file)',
        received: path,
        expected: `a readable file (${(error as NodeJS.ErrnoException).code})`,
      },
    ]);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ConfigValidationError(source, [
      { key: '(json)', received: text.slice(0, 40), expected: 'JSON {"cert": PEM, "key": PEM}' },
    ]);
  }
  const parsed = authoritySchema.safeParse(doc);
  if (!parsed.success) {
    throw new ConfigValidationError(
      source,
      parsed.error.issues.map((i) => ({
        key: i.path.join('.') || '(root)',
        received: undefined,
        expected: i.message,
      })),
    );
  }
  return parsed.data;
}

export interface HostCertificateRequest {
  readonly authority: PemPair;
  readonly dir: string;
  readonly name: string;
  readonly ips: readonly string[];
  readonly dnsNames: readonly string[];
  /** Who owns the private key (PostgreSQL refuses a key others can read). */
  readonly owner: OsUser | undefined;
}

/**
 * Issues this host's certificate from the cluster's authority and writes ca.crt, server.crt and
 * server.key (0600, the PostgreSQL user's) into `dir`. The authority's key is not written.
 */
export async function writeHostCertificate(request: HostCertificateRequest): Promise<void> {
  const bad = request.ips.filter((ip) => isIP(ip) === 0);
  if (bad.length > 0) {
    throw new ConfigValidationError('issue-certificate', [
      { key: '--ip', received: bad.join(','), expected: 'IPv4 or IPv6 addresses' },
    ]);
  }
  // Loaded here, not at the start: the X.509 library's set-up costs every start of the agent —
  // each SSM action among them — ~75 ms of CPU, and only this command issues certificates.
  const { issueCertificate } = await import('../../adapters/tls/certificates.ts');
  const leaf = await issueCertificate(request.authority, {
    commonName: request.name,
    ips: request.ips,
    dnsNames: request.dnsNames,
  });
  const files = tlsFiles(request.dir);
  await mkdir(request.dir, { recursive: true, mode: 0o755 });
  await writeFile(files.ca, request.authority.cert, { mode: 0o644 });
  await writeFile(files.cert, leaf.cert, { mode: 0o644 });
  await writeFile(files.key, leaf.key, { mode: 0o600 });
  if (request.owner) await chown(files.key, request.owner.uid, request.owner.gid);
}

/** The options of `pgwarden-agent issue-certificate`. */
export interface IssueCertificateOptions {
  readonly authority: string;
  readonly out: string;
  readonly name: string;
  readonly ip: string[];
  readonly dns: string[];
  readonly owner: string;
}

/** `pgwarden-agent issue-certificate`: the boot step that gives a host its certificate. */
export async function issueHostCertificate(options: IssueCertificateOptions): Promise<void> {
  await writeHostCertificate({
    authority: await readAuthority(options.authority),
    dir: options.out,
    name: options.name,
    ips: options.ip,
    dnsNames: options.dns,
    owner: resolvePgUser(options.owner),
  });
}
