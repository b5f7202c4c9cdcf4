import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { processAlive } from './wait-for.ts';

/** An existing data directory `pgwarden local up --adopt` makes a node of. */
export interface AdoptedDir {
  readonly dataDir: string;
  /** The port its running server listens on (from postmaster.pid), kept as the node's. */
  readonly runningPort?: number;
}

const PG_BIN = process.env.PGWARDEN_PG_BIN ?? '/usr/lib/postgresql/15/bin';

function systemIdentifier(dir: string): string {
  const run = spawnSync(join(PG_BIN, 'pg_controldata'), [dir], {
    encoding: 'utf8',
    env: { ...process.env, LC_ALL: 'C' },
  });
  const id = /Database system identifier:\s*(\d+)/.exec(run.stdout ?? '')?.[1];
  if (run.status !== 0 || !id)
    throw new Error(`--adopt ${dir}: pg_controldata cannot read it: ${(run.stderr || run.stdout).trim()}`);
  return id;
}

function runningPort(dir: string): number | undefined {
  try {
    const lines = readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n');
    return processAlive(Number(lines[0])) ? Number(lines[3]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks the directories given to `--adopt` before anything starts: each one a PostgreSQL 15
 * data directory, all of one database system, the first the primary's (no standby.signal), none
 * inside the topology's own directory (which `down` removes). The message names the one at fault.
 */
export function checkAdoptDirs(dirs: readonly string[], topologyDir: string): AdoptedDir[] {
  const seen = new Set<string>();
  let system: string | undefined;
  return dirs.map((given, i) => {
    const dir = resolve(given);
    if (seen.has(dir)) throw new Error(`--adopt ${given}: given twice`);
    seen.add(dir);
    if (!existsSync(dir) || !statSync(dir).isDirectory())
      throw new Error(`--adopt ${given}: not a directory (expected a PostgreSQL data directory)`);
    const rel = relative(resolve(topologyDir), dir);
    if (rel === '' || (!rel.startsWith('..') && !rel.startsWith('/')))
      throw new Error(
        `--adopt ${given}: inside the topology's directory ${topologyDir}, which local down removes; choose another --dir`,
      );
    const version = existsSync(join(dir, 'PG_VERSION'))
      ? readFileSync(join(dir, 'PG_VERSION'), 'utf8').trim()
      : '';
    if (!version || !existsSync(join(dir, 'global', 'pg_control')))
      throw new Error(
        `--adopt ${given}: no PG_VERSION or global/pg_control: not a PostgreSQL data directory`,
      );
    if (version !== '15')
      throw new Error(
        `--adopt ${given}: a PostgreSQL ${version} data directory; this topology runs PostgreSQL 15`,
      );
    const id = systemIdentifier(dir);
    if (system && id !== system)
      throw new Error(
        `--adopt ${given}: database system ${id}, but ${dirs[0]} is system ${system}: one cluster's directories only`,
      );
    system ??= id;
    if (i === 0 && existsSync(join(dir, 'standby.signal')))
      throw new Error(`--adopt ${given}: has standby.signal; give the primary's data directory first`);
    const port = runningPort(dir);
    return { dataDir: dir, ...(port ? { runningPort: port } : {}) };
  });
}
