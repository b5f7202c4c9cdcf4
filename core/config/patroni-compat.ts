import type { ValidationIssue } from '../errors.ts';

/**
 * Reading an unmodified Patroni YAML (Patroni 4.x; 3.x spellings accepted). Every key Patroni
 * knows is either acted on (translated to pgwarden's shape where the spelling differs) or
 * accepted and reported as inactive with the reason; a key neither product knows is an error
 * naming it, with the nearest known key.
 */

/** A key tree: `true` = a leaf (any value), `'any'` = a mapping of free keys, or nested keys. */
type Known = true | 'any' | { readonly [key: string]: Known };

const CREDENTIALS: Known = {
  username: true,
  password: true,
  sslmode: true,
  sslkey: true,
  sslpassword: true,
  sslcert: true,
  sslrootcert: true,
  sslcrl: true,
  sslcrldir: true,
  sslnegotiation: true,
  gssencmode: true,
  channel_binding: true,
};

const DYNAMIC: Known = {
  ttl: true,
  loop_wait: true,
  retry_timeout: true,
  safety_margin: true,
  maximum_lag_on_failover: true,
  maximum_lag_on_syncnode: true,
  member_slots_ttl: true,
  primary_start_timeout: true,
  primary_stop_timeout: true,
  master_start_timeout: true,
  master_stop_timeout: true,
  synchronous_mode: true,
  synchronous_mode_strict: true,
  synchronous_node_count: true,
  failsafe_mode: true,
  check_timeline: true,
  pause: true,
  standby_cluster: 'any',
  slots: 'any',
  ignore_slots: true,
  // pgwarden's own dynamic keys
  fencing: true,
  fence_timeout: true,
  switchover_timeout: true,
  command_timeout: true,
  step_retries: true,
  postgresql: {
    use_pg_rewind: true,
    use_slots: true,
    parameters: 'any',
    pg_hba: true,
    pg_ident: true,
    pg_ctl_timeout: true,
    recovery_conf: 'any',
    basebackup: true,
    rewind: true,
    remove_data_directory_on_rewind_failure: true,
    remove_data_directory_on_diverged_timelines: true,
  },
};

const DCS_SECTIONS = ['etcd', 'etcd3', 'consul', 'zookeeper', 'kubernetes', 'raft', 'exhibitor'] as const;

const KNOWN: { readonly [key: string]: Known } = {
  scope: true,
  name: true,
  namespace: true,
  thread_pool_size: true,
  thread_stack_size: true,
  log: {
    type: true,
    level: true,
    traceback_level: true,
    format: true,
    dateformat: true,
    static_fields: 'any',
    max_queue_size: true,
    dir: true,
    file_num: true,
    file_size: true,
    mode: true,
    loggers: 'any',
    deduplicate_heartbeat_logs: true,
  },
  ctl: {
    insecure: true,
    cacert: true,
    certfile: true,
    keyfile: true,
    keyfile_password: true,
    authentication: 'any',
  },
  restapi: {
    listen: true,
    connect_address: true,
    proxy_address: true,
    authentication: { username: true, password: true },
    certfile: true,
    keyfile: true,
    keyfile_password: true,
    cafile: true,
    ciphers: true,
    verify_client: true,
    allowlist: true,
    allowlist_include_members: true,
    http_extra_headers: 'any',
    https_extra_headers: 'any',
    request_queue_size: true,
    server_tokens: true,
    thread_pool_size: true,
    request_timeout: true,
  },
  bootstrap: {
    dcs: DYNAMIC,
    initdb: true,
    method: true,
    post_bootstrap: true,
    post_init: true,
    users: 'any',
    pg_hba: true,
  },
  ...Object.fromEntries(DCS_SECTIONS.map((s) => [s, 'any' as const])),
  citus: 'any',
  postgresql: {
    listen: true,
    connect_address: true,
    proxy_address: true,
    data_dir: true,
    config_dir: true,
    bin_dir: true,
    bin_name: 'any',
    pgpass: true,
    authentication: { superuser: CREDENTIALS, replication: CREDENTIALS, rewind: CREDENTIALS },
    callbacks: { on_start: true, on_stop: true, on_restart: true, on_reload: true, on_role_change: true },
    parameters: 'any',
    parameters_primary: 'any',
    parameters_replica: 'any',
    parameters_standby_leader: 'any',
    pg_hba: true,
    pg_ident: true,
    pg_ctl_timeout: true,
    use_pg_rewind: true,
    rewind: true,
    basebackup: true,
    create_replica_methods: true,
    create_replica_method: true,
    recovery_conf: 'any',
    custom_conf: true,
    use_unix_socket: true,
    use_unix_socket_repl: true,
    remove_data_directory_on_rewind_failure: true,
    remove_data_directory_on_diverged_timelines: true,
    // pgwarden's own
    run_as: true,
    start_timeout: true,
  },
  watchdog: { mode: true, device: true, safety_margin: true },
  tags: 'any',
  // pgwarden's own sections
  dynamodb: { table: true, region: true, endpoint: true },
  failsafe: { secret: true, previous_secret: true },
  state_dir: true,
  instance_id: true,
};

const DCS_REASON =
  'pgwarden keeps the cluster state in DynamoDB, not a DCS (the `dynamodb:` section, PGWARDEN_TABLE, or the EC2 instance tag pgwarden:table)';

/** Known Patroni keys pgwarden accepts and does not act on, with why. Prefix match on dotted paths. */
const INACTIVE: ReadonlyArray<readonly [string, string]> = [
  ...DCS_SECTIONS.map((s) => [s, DCS_REASON] as const),
  ['namespace', 'DynamoDB items are keyed by scope; one table holds many clusters'],
  ['thread_pool_size', 'the agent is one Node.js process with an event loop'],
  ['thread_stack_size', 'the agent is one Node.js process with an event loop'],
  ['citus', 'pgwarden does not manage Citus clusters'],
  ['ctl', "pgwarden's CLI reads the DynamoDB table, not the members' REST APIs"],
  ['log.type', 'the agent writes JSON lines to stdout (journald on a host)'],
  ['log.format', 'the agent writes JSON lines to stdout (journald on a host)'],
  ['log.dateformat', 'the agent writes JSON lines to stdout (journald on a host)'],
  ['log.static_fields', 'the agent writes JSON lines to stdout (journald on a host)'],
  ['log.traceback_level', 'the agent writes JSON lines to stdout (journald on a host)'],
  ['log.max_queue_size', 'the agent writes JSON lines to stdout (journald on a host)'],
  ['log.dir', 'the agent writes to stdout; journald (or the local topology) keeps the file'],
  ['log.file_num', 'the agent writes to stdout; journald (or the local topology) keeps the file'],
  ['log.file_size', 'the agent writes to stdout; journald (or the local topology) keeps the file'],
  ['log.mode', 'the agent writes to stdout; journald (or the local topology) keeps the file'],
  ['log.loggers', 'the agent writes JSON lines to stdout (journald on a host)'],
  ['log.deduplicate_heartbeat_logs', 'the agent logs a decision once when it changes'],
  ['restapi.proxy_address', 'pgwarden has no Citus proxy address'],
  ['restapi.allowlist', 'the API changes nothing but a signed failsafe ping; health checks are open'],
  [
    'restapi.allowlist_include_members',
    'the API changes nothing but a signed failsafe ping; health checks are open',
  ],
  ['restapi.http_extra_headers', 'not sent on this release'],
  ['restapi.https_extra_headers', 'not sent on this release'],
  ['restapi.request_queue_size', "Node's HTTP server queues connections itself"],
  ['restapi.server_tokens', 'the Server header is not sent'],
  ['restapi.thread_pool_size', 'the agent is one Node.js process with an event loop'],
  ['bootstrap.method', 'custom bootstrap methods are not supported on this release (initdb only)'],
  ['bootstrap.users', 'Patroni 4 dropped it: create roles in bootstrap.post_bootstrap'],
  ['bootstrap.pg_hba', 'Patroni 4 dropped it: use postgresql.pg_hba'],
  [
    'bootstrap.dcs.maximum_lag_on_syncnode',
    'the controller picks synchronous standbys from their heartbeats',
  ],
  [
    'bootstrap.dcs.member_slots_ttl',
    "pgwarden keeps a slot per member the table knows and drops a removed member's slot",
  ],
  ['bootstrap.dcs.standby_cluster', 'standby clusters are not supported on this release'],
  ['bootstrap.dcs.slots', 'permanent slots are not managed on this release'],
  ['bootstrap.dcs.ignore_slots', 'permanent slots are not managed on this release'],
  ['bootstrap.dcs.postgresql.pg_ident', 'pg_ident.conf is left as PostgreSQL has it'],
  ['bootstrap.dcs.postgresql.pg_ctl_timeout', 'pgwarden bounds starts with postgresql.start_timeout'],
  ['bootstrap.dcs.postgresql.recovery_conf', 'put recovery settings in the local postgresql.recovery_conf'],
  ['bootstrap.dcs.postgresql.basebackup', 'pg_basebackup options are local: postgresql.basebackup'],
  ['bootstrap.dcs.postgresql.rewind', 'pg_rewind runs with its default options'],
  [
    'bootstrap.dcs.postgresql.remove_data_directory_on_rewind_failure',
    'a failed pg_rewind always rebuilds with pg_basebackup',
  ],
  [
    'bootstrap.dcs.postgresql.remove_data_directory_on_diverged_timelines',
    'a diverged replica is always rewound, or rebuilt',
  ],
  ['postgresql.proxy_address', 'pgwarden has no Citus proxy address'],
  ['postgresql.config_dir', 'postgresql.conf is read from the data directory'],
  ['postgresql.bin_name', 'programs are found by their standard names under bin_dir'],
  ['postgresql.parameters_primary', 'per-role parameters are not supported on this release'],
  ['postgresql.parameters_replica', 'per-role parameters are not supported on this release'],
  ['postgresql.parameters_standby_leader', 'standby clusters are not supported on this release'],
  ['postgresql.pg_ident', 'pg_ident.conf is left as PostgreSQL has it'],
  ['postgresql.rewind', 'pg_rewind runs with its default options'],
  ['postgresql.create_replica_methods', 'replicas are created with pg_basebackup on this release'],
  ['postgresql.create_replica_method', 'replicas are created with pg_basebackup on this release'],
  ['postgresql.custom_conf', 'postgresql.conf in the data directory is the base configuration'],
  [
    'postgresql.use_unix_socket',
    'the agent always uses the local socket (the superuser has no network login)',
  ],
  ['postgresql.use_unix_socket_repl', 'replication always connects over TCP with TLS settings of its own'],
  [
    'postgresql.remove_data_directory_on_rewind_failure',
    'a failed pg_rewind always rebuilds with pg_basebackup',
  ],
  [
    'postgresql.remove_data_directory_on_diverged_timelines',
    'a diverged replica is always rewound, or rebuilt',
  ],
  [
    'postgresql.authentication.superuser.sslnegotiation',
    'PostgreSQL 17 libpq only; pgwarden runs PostgreSQL 15',
  ],
  [
    'postgresql.authentication.replication.sslnegotiation',
    'PostgreSQL 17 libpq only; pgwarden runs PostgreSQL 15',
  ],
  [
    'postgresql.authentication.rewind.sslnegotiation',
    'PostgreSQL 17 libpq only; pgwarden runs PostgreSQL 15',
  ],
  [
    'watchdog',
    "the agent runs under systemd's WatchdogSec and fences by its lease and the controller's EC2 stop, not /dev/watchdog",
  ],
];

const LOG_LEVELS: Record<string, 'debug' | 'info' | 'warn' | 'error'> = {
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  WARNING: 'warn',
  ERROR: 'error',
  FATAL: 'error',
  CRITICAL: 'error',
};

export interface PatroniCompatResult {
  /** The document in pgwarden's shape (inactive keys removed, spellings translated). */
  readonly doc: Record<string, unknown>;
  /** Each inactive key with why; the agent says them in one warning at start. */
  readonly inactive: Readonly<Record<string, string>>;
  /** Keys neither product knows, each with the nearest known key (reported with the other errors). */
  readonly unknown: readonly ValidationIssue[];
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

function nearest(key: string, candidates: readonly string[]): string | undefined {
  let best: { key: string; d: number } | undefined;
  for (const c of candidates) {
    const d = distance(key, c);
    if (!best || d < best.d) best = { key: c, d };
  }
  return best && best.d <= Math.max(2, Math.floor(key.length / 3)) ? best.key : undefined;
}

/** Keys neither Patroni nor pgwarden knows, named with the nearest known one. */
function unknownKeys(
  doc: Record<string, unknown>,
  known: { readonly [key: string]: Known },
  path: string[],
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const [key, value] of Object.entries(doc)) {
    const spec = known[key];
    const here = [...path, key];
    if (spec === undefined) {
      const guess = nearest(key, Object.keys(known));
      issues.push({
        key: here.join('.'),
        received: value,
        expected: `a key Patroni or pgwarden knows${guess ? ` (did you mean ${[...path, guess].join('.')}?)` : ''}`,
      });
    } else if (typeof spec === 'object' && isMapping(value)) {
      issues.push(...unknownKeys(value, spec, here));
    }
  }
  return issues;
}

function inactiveReason(path: string): string | undefined {
  return INACTIVE.find(([prefix]) => path === prefix || path.startsWith(`${prefix}.`))?.[1];
}

/** Removes the inactive keys (recording them), depth first. */
function dropInactive(
  doc: Record<string, unknown>,
  path: string[],
  inactive: Record<string, string>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc)) {
    // YAML's empty value (`parameters:` with nothing under it) means "not set", as in Patroni.
    if (value === null) continue;
    const dotted = [...path, key].join('.');
    const reason = inactiveReason(dotted);
    if (reason) {
      inactive[dotted] = reason;
      continue;
    }
    out[key] =
      isMapping(value) && key !== 'parameters' && key !== 'tags'
        ? dropInactive(value, [...path, key], inactive)
        : value;
  }
  return out;
}

const ON = new Set([true, 'on', 'true', 'yes', 'ON', 'On', 'True', 'TRUE']);
const OFF = new Set([false, 'off', 'false', 'no', 'OFF', 'Off', 'False', 'FALSE']);

/** The dynamic config in pgwarden's spelling (synchronous_mode on/off, master_* timeouts). */
function translateDynamic(
  dcs: Record<string, unknown>,
  inactive: Record<string, string>,
  path: string,
): Record<string, unknown> {
  const out = { ...dcs };
  const mode = out.synchronous_mode;
  if (mode === 'quorum') {
    out.synchronous_mode = true;
    inactive[`${path}.synchronous_mode`] =
      'quorum commit is not supported: synchronous_mode on (every listed standby acknowledges, FIRST k) is used instead';
  } else if (ON.has(mode as string)) out.synchronous_mode = true;
  else if (OFF.has(mode as string)) out.synchronous_mode = false;
  for (const key of ['synchronous_mode_strict', 'failsafe_mode', 'check_timeline', 'pause']) {
    if (ON.has(out[key] as string)) out[key] = true;
    else if (OFF.has(out[key] as string)) out[key] = false;
  }
  for (const [old, now] of [
    ['master_start_timeout', 'primary_start_timeout'],
    ['master_stop_timeout', 'primary_stop_timeout'],
  ] as const) {
    if (old in out) {
      out[now] ??= out[old];
      delete out[old];
    }
  }
  return out;
}

/** PostgreSQL 12+'s spelling of Patroni's recovery_conf: the recovery settings are parameters. */
function recoveryParameters(recovery: unknown): Record<string, unknown> {
  if (!isMapping(recovery)) return {};
  const {
    recovery_target_timeline: _tli,
    standby_mode: _standby,
    primary_conninfo: _conninfo,
    primary_slot_name: _slot,
    ...rest
  } = recovery;
  return rest;
}

/**
 * Translates a Patroni YAML document (already with the environment applied) into pgwarden's
 * shape; the keys neither product knows are returned (and dropped) for the caller to report with
 * the schema's own errors, in one message.
 */
export function fromPatroniConfig(input: Record<string, unknown>): PatroniCompatResult {
  const unknown = unknownKeys(input, KNOWN, []);
  const inactive: Record<string, string> = {};
  const doc = dropInactive(withoutKeys(input, unknown), [], inactive);
  const log = doc.log;
  if (isMapping(log) && typeof log.level === 'string' && LOG_LEVELS[log.level]) {
    doc.log = { ...log, level: LOG_LEVELS[log.level] };
  }
  const bootstrap = doc.bootstrap;
  if (isMapping(bootstrap) && isMapping(bootstrap.dcs)) {
    doc.bootstrap = { ...bootstrap, dcs: translateDynamic(bootstrap.dcs, inactive, 'bootstrap.dcs') };
  }
  const pg = doc.postgresql;
  if (isMapping(pg)) {
    const next: Record<string, unknown> = { ...pg };
    if ('recovery_conf' in next) {
      // PostgreSQL 12+: recovery.conf's settings are ordinary parameters (restore_command, ...).
      next.parameters = {
        ...recoveryParameters(next.recovery_conf),
        ...(isMapping(next.parameters) ? next.parameters : {}),
      };
      delete next.recovery_conf;
    }
    if (typeof next.pg_ctl_timeout === 'number' && next.start_timeout === undefined) {
      next.start_timeout = next.pg_ctl_timeout;
    }
    delete next.pg_ctl_timeout;
    doc.postgresql = next;
  }
  return { doc, inactive, unknown };
}

/** A copy without the unknown keys (the schema would report each a second time). */
function withoutKeys(
  input: Record<string, unknown>,
  unknown: readonly ValidationIssue[],
): Record<string, unknown> {
  const copy = structuredClone(input);
  for (const issue of unknown) {
    const path = issue.key.split('.');
    let node: unknown = copy;
    for (const key of path.slice(0, -1)) node = isMapping(node) ? node[key] : undefined;
    if (isMapping(node)) delete node[path.at(-1)!];
  }
  return copy;
}

/** Whether a document looks like Patroni's (a DCS section or a Patroni-only key), for messages. */
export function isPatroniDocument(input: Record<string, unknown>): boolean {
  return DCS_SECTIONS.some((s) => s in input) || 'watchdog' in input || 'ctl' in input;
}
