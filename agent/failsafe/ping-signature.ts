import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalPing, type FailsafePing } from '../../core/failsafe/failsafe-ping.ts';

/** The header that carries a signature (hex HMAC-SHA256 of the canonical form): pings and route notices. */
export const SIGNATURE_HEADER = 'x-pgwarden-signature';

/** The hex HMAC-SHA256 of a canonical form with the cluster's shared secret. */
export function signCanonical(canonical: string, secret: string): string {
  return createHmac('sha256', secret).update(canonical).digest('hex');
}

/** Whether `signature` signs `canonical` with one of `secrets` (the current one, or the previous). */
export function verifyCanonical(canonical: string, signature: string, secrets: readonly string[]): boolean {
  const given = Buffer.from(signature, 'hex');
  return secrets.some((secret) => {
    const expected = Buffer.from(signCanonical(canonical, secret), 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

export function signPing(ping: FailsafePing, secret: string): string {
  return signCanonical(canonicalPing(ping), secret);
}

export function verifyPing(ping: FailsafePing, signature: string, secrets: readonly string[]): boolean {
  return verifyCanonical(canonicalPing(ping), signature, secrets);
}
