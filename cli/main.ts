import { Command, CommanderError } from 'commander';
import { ConfigValidationError, StoreUnavailableError } from '../core/errors.ts';
import { type CliContext, createCliContext, type GlobalOptions } from './cli-context.ts';
import { registerConfigCommands } from './commands/config.ts';
import { registerDsn } from './commands/dsn.ts';
import { registerFlush } from './commands/flush.ts';
import { registerHistory } from './commands/history.ts';
import { registerList } from './commands/list.ts';
import { registerMemberRequests } from './commands/member-requests.ts';
import { registerQuery } from './commands/query.ts';
import { registerRemove } from './commands/remove.ts';
import { registerSwitchover } from './commands/switchover.ts';
import { registerTopology } from './commands/topology.ts';
import { registerVersion } from './commands/version.ts';
import { CliError, EXIT } from './exit-codes.ts';

export const CLI_VERSION = '0.1.0';

/** What a running local topology lends the CLI, or why it cannot. */
export interface CliDefaults {
  table?: string;
  endpoint?: string;
  scope?: string;
  writer?: string;
  reader?: string;
  /** Why the defaults the person asked for (PGWARDEN_LOCAL_DIR) are not there. */
  unavailable?: string;
}

/** Extra commands and defaults that other parts (the local topology) plug in. */
export interface CliExtensions {
  register?(program: Command, context: () => CliContext): void;
  defaults?(): CliDefaults;
}

export function buildCli(extensions: CliExtensions = {}): Command {
  const program = new Command('pgwarden')
    .description('pgwarden: operate PostgreSQL clusters kept by pgwarden (the patronictl of pgwarden)')
    .version(CLI_VERSION)
    .option('--table <name>', 'DynamoDB table (default: PGWARDEN_TABLE, the config file, or pgwarden)')
    .option('--region <region>', 'AWS region (default: AWS_REGION)')
    .option(
      '--endpoint <url>',
      'DynamoDB endpoint: LocalStack, moto, dynalite (default: PGWARDEN_DYNAMODB_ENDPOINT)',
    )
    .option('-c, --config <file>', 'an agent (or Patroni) config file to read the table and scope from')
    .option('--config-file <file>', "patronictl's spelling of --config")
    .option('--json', 'machine-readable output')
    .exitOverride()
    .showHelpAfterError();
  const context = () => {
    const opts = program.opts<GlobalOptions & { configFile?: string }>();
    return createCliContext(
      { ...opts, ...(opts.config === undefined && opts.configFile ? { config: opts.configFile } : {}) },
      { defaults: extensions.defaults?.() ?? {} },
    );
  };
  registerList(program, context);
  registerTopology(program, context);
  registerHistory(program, context);
  registerSwitchover(program, context);
  registerMemberRequests(program, context);
  registerConfigCommands(program, context);
  registerDsn(program, context, () => extensions.defaults?.() ?? {});
  registerRemove(program, context);
  registerVersion(program, context);
  registerFlush(program, context);
  registerQuery(program, context);
  extensions.register?.(program, context);
  return program;
}

/** Runs the CLI; maps every error to one line on stderr and a documented exit code. */
/**
 * patronictl's `query -c SQL`: after `query`, `-c` is the SQL (patronictl keeps -c/--config-file
 * before the verb, as pgwarden's own -c/--config is everywhere else).
 */
export function patronictlArgv(argv: readonly string[]): string[] {
  const withValue = new Set(['--table', '--region', '--endpoint', '-c', '--config', '--config-file']);
  let verb = 2;
  while (verb < argv.length && argv[verb]!.startsWith('-')) verb += withValue.has(argv[verb]!) ? 2 : 1;
  if (argv[verb] !== 'query') return [...argv];
  return argv.map((arg, i) => (i > verb && arg === '-c' ? '--command' : arg));
}

export async function runCli(argv: string[], extensions: CliExtensions = {}): Promise<number> {
  try {
    await buildCli(extensions).parseAsync(patronictlArgv(argv));
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (error instanceof CliError) {
      if (error.message) process.stderr.write(`pgwarden: ${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof ConfigValidationError) {
      process.stderr.write(`pgwarden: ${error.message}\n`);
      return EXIT.usage;
    }
    if (error instanceof StoreUnavailableError) {
      process.stderr.write(`pgwarden: DynamoDB unreachable: ${error.message}\n`);
      return EXIT.unavailable;
    }
    process.stderr.write(`pgwarden: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT.refused;
  }
}
