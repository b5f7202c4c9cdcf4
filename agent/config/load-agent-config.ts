import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { type AgentConfig, parseAgentConfig } from '../../core/config/agent-config.ts';
import { fromPatroniConfig } from '../../core/config/patroni-compat.ts';
import { ConfigValidationError, type ValidationIssue } from '../../core/errors.ts';

const SSL_KEYS = [
  'sslmode',
  'sslkey',
  'sslcert',
  'sslrootcert',
  'sslcrl',
  'sslcrldir',
  'sslpassword',
  'gssencmode',
  'channel_binding',
];

/**
 * Environment variables that override config keys. Each PGWARDEN_X has the alias PATRONI_X
 * (Patroni's docs/ENVIRONMENT names; the PGWARDEN_ one wins when both are set).
 */
export const ENV_OVERRIDES: Readonly<Record<string, readonly string[]>> = {
  PGWARDEN_SCOPE: ['scope'],
  PGWARDEN_NAME: ['name'],
  PGWARDEN_RESTAPI_LISTEN: ['restapi', 'listen'],
  PGWARDEN_RESTAPI_CONNECT_ADDRESS: ['restapi', 'connect_address'],
  PGWARDEN_POSTGRESQL_LISTEN: ['postgresql', 'listen'],
  PGWARDEN_POSTGRESQL_CONNECT_ADDRESS: ['postgresql', 'connect_address'],
  PGWARDEN_POSTGRESQL_DATA_DIR: ['postgresql', 'data_dir'],
  PGWARDEN_POSTGRESQL_BIN_DIR: ['postgresql', 'bin_dir'],
  PGWARDEN_SUPERUSER_USERNAME: ['postgresql', 'authentication', 'superuser', 'username'],
  PGWARDEN_SUPERUSER_PASSWORD: ['postgresql', 'authentication', 'superuser', 'password'],
  PGWARDEN_REPLICATION_USERNAME: ['postgresql', 'authentication', 'replication', 'username'],
  PGWARDEN_REPLICATION_PASSWORD: ['postgresql', 'authentication', 'replication', 'password'],
  PGWARDEN_REWIND_USERNAME: ['postgresql', 'authentication', 'rewind', 'username'],
  PGWARDEN_REWIND_PASSWORD: ['postgresql', 'authentication', 'rewind', 'password'],
  PGWARDEN_DYNAMODB_TABLE: ['dynamodb', 'table'],
  PGWARDEN_DYNAMODB_REGION: ['dynamodb', 'region'],
  PGWARDEN_DYNAMODB_ENDPOINT: ['dynamodb', 'endpoint'],
  PGWARDEN_INSTANCE_ID: ['instance_id'],
  PGWARDEN_STATE_DIR: ['state_dir'],
  PGWARDEN_FAILSAFE_SECRET: ['failsafe', 'secret'],
  PGWARDEN_FAILSAFE_PREVIOUS_SECRET: ['failsafe', 'previous_secret'],
  PGWARDEN_LOG_LEVEL: ['log', 'level'],
  PGWARDEN_NAMESPACE: ['namespace'],
  PGWARDEN_POSTGRESQL_PGPASS: ['postgresql', 'pgpass'],
  PGWARDEN_RESTAPI_USERNAME: ['restapi', 'authentication', 'username'],
  PGWARDEN_RESTAPI_PASSWORD: ['restapi', 'authentication', 'password'],
  PGWARDEN_RESTAPI_CERTFILE: ['restapi', 'certfile'],
  PGWARDEN_RESTAPI_KEYFILE: ['restapi', 'keyfile'],
  PGWARDEN_RESTAPI_CAFILE: ['restapi', 'cafile'],
  PGWARDEN_RESTAPI_VERIFY_CLIENT: ['restapi', 'verify_client'],
  ...Object.fromEntries(
    ['superuser', 'replication', 'rewind'].flatMap((role) =>
      SSL_KEYS.map((key) => [
        `PGWARDEN_${role.toUpperCase()}_${key.toUpperCase()}`,
        ['postgresql', 'authentication', role, key],
      ]),
    ),
  ),
};

/** Short spellings: the table alone (the rest of a Patroni file can stay as it is). */
const ENV_ALIASES: Readonly<Record<string, string>> = {
  PGWARDEN_TABLE: 'PGWARDEN_DYNAMODB_TABLE',
};

function setPath(target: Record<string, unknown>, path: readonly string[], value: string): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path.at(-1)!] = value;
}

/** Applies PGWARDEN_* overrides to a parsed YAML document (a copy). */
export function applyEnvOverrides(
  doc: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): Record<string, unknown> {
  const copy = structuredClone(doc);
  const read = (name: string): string | undefined => {
    const alias = Object.entries(ENV_ALIASES).find(([, full]) => full === name)?.[0];
    for (const candidate of [name, alias, name.replace(/^PGWARDEN_/, 'PATRONI_')]) {
      const value = candidate ? env[candidate] : undefined;
      if (value !== undefined && value !== '') return value;
    }
    return undefined;
  };
  for (const [name, path] of Object.entries(ENV_OVERRIDES)) {
    const value = read(name);
    if (value !== undefined) setPath(copy, path, value);
  }
  // Region as the AWS SDK would find it, unless the file names one.
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  const dynamodb = copy.dynamodb as Record<string, unknown> | undefined;
  if (region && dynamodb && typeof dynamodb === 'object' && dynamodb.region === undefined)
    dynamodb.region = region;
  return copy;
}

/** Reads the agent's YAML config, applies the environment and validates it (all errors at once). */
export async function loadAgentConfig(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AgentConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigValidationError(`agent config ${path}`, [
      {
        key: '(file)',
        received: path,
        expected: `a readable YAML file (${(error as NodeJS.ErrnoException).code})`,
      },
    ]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text) ?? {};
  } catch (error) {
    throw new ConfigValidationError(`agent config ${path}`, [
      { key: '(yaml)', received: (error as Error).message.split('\n')[0], expected: 'valid YAML' },
    ]);
  }
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigValidationError(`agent config ${path}`, [
      { key: '(root)', received: doc, expected: 'a YAML mapping' },
    ]);
  }
  const source = `agent config ${path}`;
  const {
    doc: translated,
    inactive,
    unknown,
  } = fromPatroniConfig(applyEnvOverrides(doc as Record<string, unknown>, env));
  const issues: ValidationIssue[] = [...unknown];
  const noTable = translated.dynamodb === undefined;
  if (noTable) {
    issues.push({
      key: 'dynamodb',
      received: undefined,
      expected:
        'a `dynamodb:` section with `table` (or PGWARDEN_TABLE in the environment): pgwarden keeps the cluster state in a DynamoDB table instead of a DCS',
    });
  }
  resolveRelativeDataDir(translated, dirname(resolve(path)));
  // One error for the whole file: the unknown keys, then what the schema finds (the missing
  // table said once, not again as dynamodb.table).
  let config: AgentConfig | undefined;
  try {
    config = parseAgentConfig(translated, source);
  } catch (error) {
    if (!(error instanceof ConfigValidationError)) throw error;
    issues.push(...error.issues.filter((i) => !(noTable && i.key.startsWith('dynamodb'))));
  }
  if (issues.length > 0 || !config) throw new ConfigValidationError(source, issues);
  return { ...config, inactive_keys: inactive };
}

/**
 * Patroni takes a relative `postgresql.data_dir` (its sample files do) relative to the working
 * directory; pgwarden takes it relative to the config file, which systemd's working directory
 * (/) would otherwise make surprising.
 */
function resolveRelativeDataDir(doc: Record<string, unknown>, base: string): void {
  const pg = doc.postgresql as Record<string, unknown> | undefined;
  if (
    pg &&
    typeof pg === 'object' &&
    typeof pg.data_dir === 'string' &&
    pg.data_dir !== '' &&
    !isAbsolute(pg.data_dir)
  ) {
    pg.data_dir = resolve(base, pg.data_dir);
  }
}
