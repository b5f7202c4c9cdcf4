import { z } from 'zod';
import type { ValidationIssue } from '../errors.ts';
import { toValidationIssues } from './validation.ts';

/**
 * Patroni's contract for making data without initdb or pg_basebackup (a restore from a backup):
 * `postgresql.create_replica_methods` with a section per method under `postgresql:`, and
 * `bootstrap.method` with its section under `bootstrap:`. The sections sit beside the known keys
 * in the file; the loader takes them out (validated here, with errors naming the file's keys) into
 * `postgresql.replica_method_sections` and `bootstrap.method_section`.
 */

const scalar = z.union([z.string(), z.number(), z.boolean()], {
  error: 'a string, number or boolean (passed to the command as --key=value)',
});
/** Optional without a default: Patroni passes only the keys the file has. */
const flag = z.boolean({ error: 'true or false' }).optional();

export const methodName = z
  .string({ error: 'a method name' })
  .regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, { error: 'a method name (letters, digits, "_" or "-")' });

/**
 * A replica creation method other than the built-in `basebackup`. Every key the section has but
 * `command` is passed as `--key=value` (Patroni passes `no_leader` and `keep_data` too), then
 * `--scope`, `--role=replica`, `--datadir`, `--connstring`; with `no_params`, only the section's
 * own keys but those three.
 */
export const replicaMethodSchema = z
  .object({
    /** Default: the method's name. */
    command: z.string({ error: 'a command line' }).min(1, { error: 'a command line' }).optional(),
    no_params: flag,
    /** May run with no running primary to connect to (a restore from a backup repository). */
    no_leader: flag,
    /** The data directory is not emptied before the method runs (nor after it fails). */
    keep_data: flag,
  })
  .catchall(scalar);
export type ReplicaMethod = z.output<typeof replicaMethodSchema>;

/** `bootstrap.<method>`: a new cluster from a command (a restore) instead of initdb. */
export const bootstrapMethodSchema = z
  .object({
    command: z.string({ error: 'a command line' }).min(1, { error: 'a command line' }),
    no_params: flag,
    /** Leave the recovery settings and signal files the command wrote (pgBackRest, Barman). */
    keep_existing_recovery_conf: flag,
    /** Recovery settings for the first start (restore_command, recovery_target_*, ...). */
    recovery_conf: z.record(z.string(), scalar, { error: 'a mapping of recovery settings' }).optional(),
  })
  // The other keys are scalars (checked below); typed wider so that recovery_conf fits.
  .catchall(z.union([scalar, z.record(z.string(), scalar)]))
  .superRefine((section, ctx) => {
    for (const [key, value] of Object.entries(section)) {
      if (key !== 'recovery_conf' && typeof value === 'object' && value !== null)
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'a string, number or boolean (passed to the command as --key=value)',
          input: value,
        });
    }
  });
export type BootstrapMethod = z.output<typeof bootstrapMethodSchema>;

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function check(schema: z.ZodType, value: unknown, key: string): ValidationIssue[] {
  const result = schema.safeParse(value);
  if (result.success) return [];
  return toValidationIssues(result.error, value).map((issue) => ({
    ...issue,
    key: issue.key === '(root)' ? key : `${key}.${issue.key}`,
  }));
}

/**
 * Takes the method sections out of `doc` (a copy of the file, changed in place): returns them
 * and the issues found in them. Run before the key check, which would call them unknown.
 */
export function extractMethodSections(doc: Record<string, unknown>): {
  readonly replica: Record<string, unknown> | undefined;
  readonly bootstrap: Record<string, unknown> | undefined;
  readonly issues: ValidationIssue[];
} {
  const issues: ValidationIssue[] = [];
  let replica: Record<string, unknown> | undefined;
  let bootstrap: Record<string, unknown> | undefined;
  const pg = doc.postgresql;
  if (isMapping(pg)) {
    // Patroni's older spelling.
    if (pg.create_replica_methods === undefined && pg.create_replica_method !== undefined) {
      pg.create_replica_methods = pg.create_replica_method;
    }
    delete pg.create_replica_method;
    const methods = pg.create_replica_methods;
    if (Array.isArray(methods)) {
      replica = {};
      for (const name of methods) {
        if (typeof name !== 'string' || name === 'basebackup') continue;
        const section = pg[name] ?? {};
        const found = check(replicaMethodSchema, section, `postgresql.${name}`);
        issues.push(...found);
        if (found.length === 0) replica[name] = section;
        delete pg[name];
      }
    }
  }
  const boot = doc.bootstrap;
  if (isMapping(boot) && typeof boot.method === 'string' && boot.method !== 'initdb') {
    const name = boot.method;
    const section = boot[name];
    if (!isMapping(section)) {
      issues.push({
        key: `bootstrap.${name}`,
        received: section,
        expected: `a section with a command (bootstrap.method names ${name})`,
      });
    } else {
      const found = check(bootstrapMethodSchema, section, `bootstrap.${name}`);
      issues.push(...found);
      if (found.length === 0) bootstrap = section;
    }
    delete boot[name];
  }
  return { replica, bootstrap, issues };
}

/** Patroni's `--key=value` spelling of a value (Python's True/False for booleans). */
function argValue(value: string | number | boolean): string {
  return typeof value === 'boolean' ? (value ? 'True' : 'False') : String(value);
}

/** The arguments Patroni adds to a replica method's command line. */
export function replicaMethodArgs(
  method: ReplicaMethod,
  context: { scope: string; dataDir: string; connstring: string },
): string[] {
  const { command: _command, ...options } = method;
  const all: Record<string, string | number | boolean | undefined> = method.no_params
    ? { ...options, no_params: undefined, no_leader: undefined, keep_data: undefined }
    : {
        ...options,
        scope: context.scope,
        role: 'replica',
        datadir: context.dataDir,
        connstring: context.connstring,
      };
  return Object.entries(all).flatMap(([k, v]) => (v === undefined ? [] : [`--${k}=${argValue(v)}`]));
}

const BOOTSTRAP_RESERVED = new Set([
  'command',
  'no_params',
  'keep_existing_recovery_conf',
  'recovery_conf',
  'scope',
  'datadir',
]);

/** The arguments Patroni gives a custom bootstrap command. */
export function bootstrapMethodArgs(
  method: BootstrapMethod,
  context: { scope: string; dataDir: string },
): string[] {
  const params = method.no_params ? [] : [`--scope=${context.scope}`, `--datadir=${context.dataDir}`];
  for (const [k, v] of Object.entries(method)) {
    if (!BOOTSTRAP_RESERVED.has(k) && v !== undefined)
      params.push(`--${k}=${argValue(v as string | number)}`);
  }
  return params;
}

/**
 * The methods to try, in order: the configured list (default basebackup), only basebackup when
 * the caller insists on the leader, and only methods that need no server when there is none.
 */
export function replicaMethodsToTry(
  methods: readonly string[] | undefined,
  sections: Readonly<Record<string, ReplicaMethod>>,
  options: { hasSource: boolean; fromLeader?: boolean },
): string[] {
  const list = options.fromLeader ? ['basebackup'] : methods?.length ? [...methods] : ['basebackup'];
  return options.hasSource ? list : list.filter((m) => m !== 'basebackup' && sections[m]?.no_leader);
}
