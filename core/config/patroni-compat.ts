import type { ValidationIssue } from '../errors.ts';
import { extractMethodSections } from './create-methods.ts';
import { INACTIVE, KNOWN, type Known } from './patroni-keys.ts';

/**
 * Reading an unmodified Patroni YAML (Patroni 4.x; 3.x spellings accepted). Every key Patroni
 * knows is either acted on (translated to pgwarden's shape where the spelling differs) or
 * accepted and reported as inactive with the reason; a key neither product knows is an error
 * naming it, with the nearest known key.
 */

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
  /**
   * Keys neither product knows, each with the nearest known key, and what is wrong in a method
   * section (reported with the schema's errors).
   */
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
  const copy = structuredClone(input);
  const methods = extractMethodSections(copy);
  const unknown = unknownKeys(copy, KNOWN, []);
  const inactive: Record<string, string> = {};
  const doc = dropInactive(withoutKeys(copy, unknown), [], inactive);
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
    // Patroni also takes basebackup options as a mapping (`max-rate: 100M`, `checkpoint: fast`).
    if (isMapping(next.basebackup)) {
      next.basebackup = Object.entries(next.basebackup).map(([k, v]) => (v === true ? k : { [k]: v }));
    }
    if (methods.replica) next.replica_method_sections = methods.replica;
    doc.postgresql = next;
  }
  if (methods.bootstrap && isMapping(doc.bootstrap)) {
    doc.bootstrap = { ...doc.bootstrap, method_section: methods.bootstrap };
  }
  return { doc, inactive, unknown: [...methods.issues, ...unknown] };
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
