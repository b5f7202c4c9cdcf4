import type { VerifierSource } from './client-login.ts';

const VERIFIER_SQL = `SELECT rolpassword FROM pg_authid
  WHERE rolname = $1 AND rolcanlogin AND (rolvaliduntil IS NULL OR rolvaliduntil > now())`;

/**
 * Roles' stored verifiers (pg_authid, read as the superuser over the local socket), kept for
 * `freshMs`: a router still logs clients in while its own PostgreSQL restarts or stops for a
 * switchover, from what it read before (every member holds the same pg_authid).
 */
export function roleVerifiers(
  query: (sql: string, params: unknown[]) => Promise<{ rolpassword: string | null }[]>,
  clock: () => number,
  freshMs = 30_000,
): VerifierSource {
  const cache = new Map<string, { value: string | undefined; at: number }>();
  return async (role) => {
    const known = cache.get(role);
    if (known && clock() - known.at < freshMs) return known.value;
    try {
      const rows = await query(VERIFIER_SQL, [role]);
      const value = rows[0]?.rolpassword ?? undefined;
      cache.set(role, { value, at: clock() });
      return value;
    } catch (error) {
      if (known) return known.value;
      throw error;
    }
  };
}
