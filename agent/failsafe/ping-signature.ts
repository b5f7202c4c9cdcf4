import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalPing, type FailsafePing } from '../../core/failsafe/failsafe-ping.ts';

/** The header that carries a ping's signature (hex HMAC-SHA256 of its canonical form). */
export const SIGNATURE_HEADER = 'x-pgwarden-signature';

export function signPing(ping: FailsafePing, secret: string): string {
  return createHmac('sha256', secret).update(canonicalPing(ping)).digest('hex');
}

/** Whether `signature` signs `ping` with one of `secrets` (the current one, or the previous). */
export function verifyPing(ping: FailsafePing, signature: string, secrets: readonly string[]): boolean {
  const given = Buffer.from(signature, 'hex');
  return secrets.some((secret) => {
    const expected = Buffer.from(signPing(ping, secret), 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
