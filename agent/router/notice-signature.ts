import { canonicalNotice, type RouteNotice } from '../../core/router/route-notice.ts';
import { signCanonical, verifyCanonical } from '../failsafe/ping-signature.ts';

export function signNotice(notice: RouteNotice, secret: string): string {
  return signCanonical(canonicalNotice(notice), secret);
}

export function verifyNotice(notice: RouteNotice, signature: string, secrets: readonly string[]): boolean {
  return verifyCanonical(canonicalNotice(notice), signature, secrets);
}
