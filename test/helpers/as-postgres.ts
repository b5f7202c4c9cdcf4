import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const PG_BIN = '/usr/lib/postgresql/15/bin';

/**
 * A program as the postgres user (PostgreSQL's refuse root), from /tmp, failing on error with
 * what it printed. A bare name is one of PostgreSQL's programs; a path (or `pgbackrest`) as is.
 */
export function asPostgres(program: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): string {
  const path = program.includes('/') || program === 'pgbackrest' ? program : join(PG_BIN, program);
  const run = spawnSync('setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', path, ...args], {
    encoding: 'utf8',
    cwd: '/tmp',
    env: { ...process.env, ...env },
  });
  if (run.status !== 0) throw new Error(`${program} ${args.join(' ')}: ${run.stdout}${run.stderr}`);
  return run.stdout;
}

/** The database system identifier of a data directory (pg_controldata). */
export function systemIdentifier(dataDir: string): string {
  return /Database system identifier:\s*(\d+)/.exec(
    asPostgres('pg_controldata', [dataDir], { LC_ALL: 'C' }),
  )![1]!;
}

/** Stops the server of `dataDir` at once, if one runs (a test's own hand-started one). */
export function stopImmediately(dataDir: string): void {
  spawnSync(
    'setpriv',
    [
      '--reuid=postgres',
      '--regid=postgres',
      '--init-groups',
      join(PG_BIN, 'pg_ctl'),
      '-D',
      dataDir,
      '-m',
      'immediate',
      'stop',
    ],
    {
      cwd: '/tmp',
    },
  );
}
