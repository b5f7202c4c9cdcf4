import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_COMMAND } from '../../core/actions/ssm-document.ts';
import { AGENT_ENV, AGENT_NODE_FLAGS } from '../node-flags.ts';
import { tlsFiles } from '../tls/host-certificate.ts';

const SYSTEMD_DIR = new URL('../systemd/', import.meta.url).pathname;

/**
 * Where a pgwarden host keeps what (DESIGN §8): the EC2 user data writes these paths, and the
 * local topology writes the same files, rendered by the same functions, under a node's directory.
 */
export interface HostLayout {
  /** The agent config (Patroni YAML with a `dynamodb:` section). */
  readonly configFile: string;
  /** Secrets for the agent (root-only; systemd reads it for the unit, the launcher for actions). */
  readonly envFile: string;
  /** `pgwarden-agent`: the launcher that the unit's ExecStart and the SSM document both run. */
  readonly launcher: string;
  readonly bundle: string;
  /** Node's compile cache, owned by the daemon's user (an action then starts sooner). */
  readonly compileCache: string;
  readonly dataDir: string;
  readonly stateDir: string;
  readonly unitFile: string;
  /** The node binary the launcher execs. */
  readonly node: string;
  /** The host's TLS files (ca.crt, server.crt, server.key): `pgwarden-agent issue-certificate` writes them at boot. */
  readonly tlsDir: string;
  /** The `bootstrap.post_bootstrap` script that creates the application role. */
  readonly postBootstrap: string;
  /** PostgreSQL's programs (psql for the post_bootstrap script). */
  readonly pgBinDir: string;
}

/** The deployed host's layout (Amazon Linux 2023, PostgreSQL from dnf). */
export const EC2_HOST_LAYOUT: HostLayout = {
  configFile: '/etc/pgwarden/pgwarden.yml',
  envFile: '/etc/pgwarden/agent.env',
  launcher: AGENT_COMMAND,
  bundle: '/opt/pgwarden/pgwarden-agent.mjs',
  compileCache: '/var/cache/pgwarden',
  dataDir: '/var/lib/pgsql/data',
  stateDir: '/var/lib/pgsql/pgwarden',
  unitFile: '/etc/systemd/system/pgwarden-agent.service',
  node: '/usr/bin/node',
  tlsDir: '/etc/pgwarden/tls',
  postBootstrap: '/etc/pgwarden/post-bootstrap.sh',
  pgBinDir: '/usr/bin',
};

/** The same layout rooted at `root` (a local node's directory), with the given node binary. */
export function rootedLayout(
  root: string,
  node: string,
  pgBinDir = '/usr/lib/postgresql/15/bin',
): HostLayout {
  const under = (path: string) => join(root, path);
  return {
    configFile: under(EC2_HOST_LAYOUT.configFile),
    envFile: under(EC2_HOST_LAYOUT.envFile),
    launcher: under(EC2_HOST_LAYOUT.launcher),
    bundle: under(EC2_HOST_LAYOUT.bundle),
    compileCache: under(EC2_HOST_LAYOUT.compileCache),
    dataDir: under('data'),
    stateDir: under('state'),
    unitFile: under(EC2_HOST_LAYOUT.unitFile),
    node,
    tlsDir: under(EC2_HOST_LAYOUT.tlsDir),
    postBootstrap: under(EC2_HOST_LAYOUT.postBootstrap),
    pgBinDir,
  };
}

/** A directory the host must have before the agent starts, with its owner and mode. */
export interface HostDirectory {
  readonly path: string;
  /** `run_as`: the daemon's user (postgres); `root`: root. */
  readonly owner: 'root' | 'run_as';
  readonly mode: number;
}

export function hostDirectories(layout: HostLayout): HostDirectory[] {
  const parent = (path: string) => path.slice(0, path.lastIndexOf('/')) || '/';
  return [
    { path: parent(layout.configFile), owner: 'root', mode: 0o755 },
    { path: parent(layout.launcher), owner: 'root', mode: 0o755 },
    { path: parent(layout.unitFile), owner: 'root', mode: 0o755 },
    { path: parent(layout.bundle), owner: 'root', mode: 0o755 },
    { path: layout.compileCache, owner: 'run_as', mode: 0o755 },
    { path: layout.dataDir, owner: 'run_as', mode: 0o700 },
    { path: layout.stateDir, owner: 'run_as', mode: 0o700 },
  ];
}

/** The launcher: the bundle with the agent's V8 flags and environment, for the unit and for SSM. */
export function renderLauncher(layout: HostLayout): string {
  const env = Object.entries(AGENT_ENV)
    .map(([k, v]) => `export ${k}="\${${k}:-${v}}"`)
    .join('\n');
  return `#!/bin/sh
# ${layout.launcher}: the pgwarden agent bundle with its V8 flags (agent/node-flags.ts).
# SSM's pgwarden-action document runs this as root with \`action ...\` (it then reads the
# passwords from agent.env); the systemd unit runs it as postgres with \`run ...\` (systemd has
# read agent.env for it). Written by agent/host/host-layout.ts.
[ -r ${layout.envFile} ] && { set -a; . ${layout.envFile}; set +a; }
export PGWARDEN_CONFIG="\${PGWARDEN_CONFIG:-${layout.configFile}}"
${env}
# The bundle's compiled code is kept here: an action starts ~150 ms sooner (a failover waits on it).
export NODE_COMPILE_CACHE="\${NODE_COMPILE_CACHE:-${layout.compileCache}/node-compile-cache}"
exec ${layout.node} ${AGENT_NODE_FLAGS.join(' ')} ${layout.bundle} "$@"
`;
}

/** The systemd unit, with the layout's paths. */
export function renderUnit(layout: HostLayout): string {
  const template = readFileSync(join(SYSTEMD_DIR, 'pgwarden-agent.service'), 'utf8');
  return template
    .replaceAll(EC2_HOST_LAYOUT.envFile, layout.envFile)
    .replaceAll(EC2_HOST_LAYOUT.launcher, layout.launcher)
    .replaceAll(EC2_HOST_LAYOUT.configFile, layout.configFile);
}

/** The secrets a host is given (agent.env). */
export interface HostSecrets {
  readonly superuser: string;
  readonly replication: string;
  /** The rewind role's: pg_rewind and the checkpoint request reach other members as it. */
  readonly rewind: string;
  /** The application role's (Patroni's `admin`), for the post_bootstrap script. */
  readonly app: string;
  /** The cluster's shared secret that signs failsafe pings (DESIGN §3). */
  readonly failsafe: string;
}

/** agent.env: the secrets the agent reads through PGWARDEN_* overrides. */
export function renderAgentEnv(secrets: HostSecrets): string {
  return [
    `PGWARDEN_SUPERUSER_PASSWORD=${secrets.superuser}`,
    `PGWARDEN_REPLICATION_PASSWORD=${secrets.replication}`,
    `PGWARDEN_REWIND_PASSWORD=${secrets.rewind}`,
    `PGWARDEN_APP_PASSWORD=${secrets.app}`,
    `PGWARDEN_FAILSAFE_SECRET=${secrets.failsafe}`,
    '',
  ].join('\n');
}

/** The role applications log in as (Patroni's `admin`: CREATEDB, CREATEROLE). */
export const APP_ROLE = 'admin';
/** The role pg_rewind and the replicas' checkpoint request use: the superuser never leaves the socket. */
export const REWIND_ROLE = 'rewind';

/**
 * The post_bootstrap script: creates (or updates) the application role with the password from
 * agent.env, and lets it create tables in the `postgres` database's public schema. Idempotent:
 * a resumed initialization runs it again.
 */
export function renderPostBootstrap(layout: HostLayout): string {
  return `#!/bin/sh
# ${layout.postBootstrap}: pgwarden's bootstrap.post_bootstrap (Patroni's contract: the last
# argument is the superuser's connection URL over the local socket). Written by
# agent/host/host-layout.ts.
if [ -z "$PGWARDEN_APP_PASSWORD" ]; then echo "$0: agent.env sets no PGWARDEN_APP_PASSWORD" >&2; exit 1; fi
set -eu
exec ${layout.pgBinDir}/psql "$1" -X -q -v ON_ERROR_STOP=1 -v role=${APP_ROLE} -v password="$PGWARDEN_APP_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I', :'role') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \\gexec
SELECT format('ALTER ROLE %I WITH LOGIN CREATEDB CREATEROLE PASSWORD %L', :'role', :'password') \\gexec
SELECT format('GRANT CREATE ON SCHEMA public TO %I', :'role') \\gexec
SQL
`;
}

/**
 * The agent config a host gets for TLS and its roles (DESIGN §8: EC2 and the local topology
 * alike): PostgreSQL serves TLS with the host's certificate; replication and pg_rewind verify
 * the upstream's certificate and name (verify-full); the superuser stays on the local socket
 * (the rewind role exists); the post_bootstrap script creates the application role.
 */
export function hostSecurityConfig(layout: HostLayout) {
  const tls = tlsFiles(layout.tlsDir);
  const verify = { sslmode: 'verify-full' as const, sslrootcert: tls.ca };
  return {
    parameters: { ssl: 'on', ssl_cert_file: tls.cert, ssl_key_file: tls.key, ssl_ca_file: tls.ca },
    authentication: { replication: verify, rewind: { username: REWIND_ROLE, ...verify } },
    post_bootstrap: layout.postBootstrap,
  };
}

/** What systemd takes from the unit's [Service] section to start the daemon. */
export interface UnitService {
  readonly user: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly environmentFiles: readonly string[];
  readonly execStart: readonly string[];
  readonly watchdogSec: number | undefined;
}

/** Parses the [Service] keys the local topology acts on (it starts the daemon as systemd would). */
export function parseUnitService(unit: string): UnitService {
  const environment: Record<string, string> = {};
  const environmentFiles: string[] = [];
  let user = 'root';
  let execStart: string[] = [];
  let watchdogSec: number | undefined;
  for (const raw of unit.split('\n')) {
    const line = raw.trim();
    const eq = line.indexOf('=');
    if (line.startsWith('#') || eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'User') user = value;
    else if (key === 'Environment')
      for (const pair of value.split(/\s+/).filter(Boolean)) {
        const at = pair.indexOf('=');
        environment[pair.slice(0, at)] = pair.slice(at + 1);
      }
    else if (key === 'EnvironmentFile') environmentFiles.push(value);
    else if (key === 'ExecStart') execStart = value.split(/\s+/).filter(Boolean);
    else if (key === 'WatchdogSec') watchdogSec = Number(value);
  }
  return { user, environment, environmentFiles, execStart, watchdogSec };
}

/** Parses an EnvironmentFile (KEY=value lines, # comments), as systemd does for simple files. */
export function parseEnvironmentFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const eq = line.indexOf('=');
    if (!line || line.startsWith('#') || eq < 0) continue;
    env[line.slice(0, eq)] = line.slice(eq + 1).replace(/^"(.*)"$/, '$1');
  }
  return env;
}

/** One file a host is given at boot, with its owner and mode. */
export interface HostFile {
  readonly path: string;
  readonly content: string;
  readonly mode: number;
  readonly owner: 'root' | 'run_as';
  /** The content holds shell variables the user data expands (the secrets read at boot). */
  readonly expandsShell?: boolean;
}

/**
 * The files of a host, for the EC2 user data and the local topology alike: the agent config
 * (readable by the daemon's user), the secrets (root only: systemd and the launcher read them),
 * the launcher and the unit.
 */
export function hostFiles(
  layout: HostLayout,
  input: { config: string; secrets: HostSecrets; expandsShell?: boolean },
): HostFile[] {
  return [
    { path: layout.configFile, content: input.config, mode: 0o644, owner: 'root' },
    {
      path: layout.envFile,
      content: renderAgentEnv(input.secrets),
      mode: 0o600,
      owner: 'root',
      ...(input.expandsShell ? { expandsShell: true } : {}),
    },
    { path: layout.launcher, content: renderLauncher(layout), mode: 0o755, owner: 'root' },
    { path: layout.postBootstrap, content: renderPostBootstrap(layout), mode: 0o755, owner: 'root' },
    { path: layout.unitFile, content: renderUnit(layout), mode: 0o644, owner: 'root' },
  ];
}
