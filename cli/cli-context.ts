import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { parse as parseYaml } from 'yaml';
import { createSdkDocuments } from '../adapters/dynamodb/client.ts';
import { DynamoDbStore } from '../adapters/dynamodb/dynamodb-store.ts';
import { NAME_PATTERN } from '../core/config/units.ts';
import type { CoordinationStore } from '../core/store/coordination-store.ts';
import { TABLE_DEFINITION } from '../core/store/table-definition.ts';
import { CliError, EXIT } from './exit-codes.ts';

export interface GlobalOptions {
  readonly table?: string;
  readonly region?: string;
  readonly endpoint?: string;
  readonly config?: string;
  readonly json?: boolean;
}

/** What every command works with: the store, the cluster, and how to talk to the person. */
export interface CliContext {
  readonly store: CoordinationStore;
  readonly table: string;
  readonly region: string;
  /** The DynamoDB endpoint, when not AWS's. */
  readonly endpoint: string | undefined;
  readonly defaultCluster: string | undefined;
  readonly json: boolean;
  readonly interactive: boolean;
  readonly color: boolean;
  readonly user: string;
  out(text: string): void;
  cluster(arg: string | undefined): string;
  confirm(question: string): Promise<boolean>;
  ask(question: string): Promise<string>;
}

/** Where the CLI finds its defaults: flags, then PGWARDEN_* variables, then an agent config file. */
function fromConfigFile(path: string | undefined): {
  table?: string;
  region?: string;
  endpoint?: string;
  scope?: string;
} {
  // patronictl's PATRONICTL_CONFIG_FILE is read too: a Patroni member file names the scope.
  const candidates = [
    path,
    process.env.PGWARDEN_CONFIG,
    process.env.PATRONICTL_CONFIG_FILE,
    '/etc/pgwarden/pgwarden.yml',
  ].filter(Boolean) as string[];
  const file = candidates.find((p) => existsSync(p));
  if (path && !file) throw new CliError(`--config ${path}: no such file`, EXIT.usage);
  if (!file) return {};
  let doc: { scope?: string; dynamodb?: { table?: string; region?: string; endpoint?: string } };
  try {
    doc = (parseYaml(readFileSync(file, 'utf8')) ?? {}) as typeof doc;
  } catch (error) {
    throw new CliError(`${file}: not valid YAML (${(error as Error).message.split('\n')[0]})`, EXIT.usage);
  }
  return {
    table: doc.dynamodb?.table,
    region: doc.dynamodb?.region,
    endpoint: doc.dynamodb?.endpoint,
    scope: doc.scope,
  };
}

export function createCliContext(
  options: GlobalOptions,
  extra: { defaults?: { table?: string; endpoint?: string; scope?: string; unavailable?: string } } = {},
): CliContext {
  const file = fromConfigFile(options.config);
  const env = process.env;
  const table =
    options.table ??
    env.PGWARDEN_TABLE ??
    extra.defaults?.table ??
    file.table ??
    TABLE_DEFINITION.defaultTableName;
  const endpoint =
    options.endpoint ?? env.PGWARDEN_DYNAMODB_ENDPOINT ?? extra.defaults?.endpoint ?? file.endpoint;
  const region = options.region ?? env.AWS_REGION ?? file.region ?? 'us-east-1';
  const store = new DynamoDbStore(
    createSdkDocuments({ region, ...(endpoint ? { endpoint } : {}), requestTimeoutMs: 5000 }),
    table,
  );
  const defaultCluster = env.PGWARDEN_SCOPE ?? extra.defaults?.scope ?? file.scope;
  const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
  return {
    store,
    table,
    region,
    endpoint,
    defaultCluster,
    json: options.json === true,
    interactive,
    color: process.stdout.isTTY === true && !env.NO_COLOR,
    user: env.USER ?? env.LOGNAME ?? 'pgwarden-cli',
    out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    cluster(arg) {
      const name = arg ?? defaultCluster;
      if (!name && extra.defaults?.unavailable) throw new CliError(extra.defaults.unavailable, EXIT.usage);
      if (!name)
        throw new CliError(
          'which cluster? give it as an argument, or set PGWARDEN_SCOPE, or --config with a scope',
          EXIT.usage,
        );
      if (!NAME_PATTERN.test(name))
        throw new CliError(`cluster: got ${JSON.stringify(name)}, expected a cluster name`, EXIT.usage);
      return name;
    },
    async confirm(question) {
      const answer = await this.ask(`${question} [y/N] `);
      return /^y(es)?$/i.test(answer.trim());
    },
    async ask(question) {
      if (!interactive)
        throw new CliError(
          'this needs an answer, but the terminal is not interactive (use --force)',
          EXIT.usage,
        );
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      try {
        return await rl.question(question);
      } finally {
        rl.close();
      }
    },
  };
}
