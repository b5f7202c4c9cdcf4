import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { type AgentConfig, parseAgentConfig } from '../../core/config/agent-config.ts';
import { ConfigValidationError } from '../../core/errors.ts';

/** Environment variables that override config keys, Patroni style (PATRONI_* → PGWARDEN_*). */
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
  for (const [name, path] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(copy, path, value);
  }
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
  return parseAgentConfig(applyEnvOverrides(doc as Record<string, unknown>, env), `agent config ${path}`);
}
