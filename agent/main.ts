import { Command, CommanderError } from 'commander';
import { parseActionArgs } from '../core/actions/action-parameters.ts';
import { ConfigValidationError, PgwardenError } from '../core/errors.ts';
import { runAction } from './actions/run-action.ts';
import { loadAgentConfig } from './config/load-agent-config.ts';
import { createRuntime } from './runtime.ts';
import { type IssueCertificateOptions, issueHostCertificate } from './tls/host-certificate.ts';
import { AGENT_VERSION } from './version.ts';

const DEFAULT_CONFIG = process.env.PGWARDEN_CONFIG ?? '/etc/pgwarden/pgwarden.yml';

/** Exit codes: 0 ok, 1 the action failed or was refused, 2 bad arguments or config. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

export function buildProgram(): Command {
  const program = new Command('pgwarden-agent')
    .description('pgwarden agent: heartbeats, the leader lease, self-fencing, health API and actions')
    .version(AGENT_VERSION)
    .exitOverride();
  program
    .command('run')
    .description('run the agent daemon beside PostgreSQL')
    .option('-c, --config <path>', 'agent YAML config', DEFAULT_CONFIG)
    .action(async (opts: { config: string }) => {
      const { runDaemon } = await import('./run-daemon.ts');
      await runDaemon(opts.config);
    });
  program
    .command('action')
    .description('run one action and print one JSON result line (invoked by SSM or the local command bus)')
    .argument(
      '<name>',
      'promote | demote | fence | rejoin | reinit | restart | reload | set-sync | upgrade-agent',
    )
    .requiredOption('--cluster <name>', 'cluster (scope) the action is for')
    .requiredOption('--term <n>', 'the term the controller acts at')
    .option('--leader <name>', 'member to follow (rejoin, reinit)')
    .option('--standbys <names>', 'synchronous standbys, comma separated (set-sync)')
    .option('--bundle <location>', 'agent bundle to install, s3://bucket/key or a path (upgrade-agent)')
    .option('-c, --config <path>', 'agent YAML config', DEFAULT_CONFIG)
    .action(
      async (
        name: string,
        opts: {
          cluster: string;
          term: string;
          leader?: string;
          standbys?: string;
          bundle?: string;
          config: string;
        },
      ) => {
        const args = parseActionArgs({ action: name, ...opts });
        const config = await loadAgentConfig(opts.config);
        const result = await runAction(createRuntime(config, { requestTimeoutMs: 3000 }), args);
        process.stdout.write(`${JSON.stringify(result)}\n`);
        process.exitCode = result.ok ? EXIT.ok : EXIT.failed;
      },
    );
  program
    .command('issue-certificate')
    .description("give this host a TLS certificate from the cluster's authority (run at boot, as root)")
    .requiredOption('--authority <file>', 'the authority as JSON {"cert": PEM, "key": PEM}')
    .requiredOption('--out <dir>', 'where ca.crt, server.crt and server.key are written')
    .requiredOption('--name <name>', "the certificate's common name (the member name)")
    .option('--ip <address>', 'an address clients reach this host at (repeatable)', collect, [])
    .option('--dns <name>', 'a DNS name clients reach this host at (repeatable)', collect, [])
    .option('--owner <user>', 'the OS user that owns the private key', 'postgres')
    .action(async (opts: IssueCertificateOptions) => {
      await issueHostCertificate(opts);
    });
  return program;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(',').filter(Boolean)];
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    if (error instanceof ConfigValidationError) {
      const [, action] = argv.slice(2);
      if (argv[2] === 'action') {
        process.stdout.write(
          `${JSON.stringify({ ok: false, action, code: error.code, message: error.message })}\n`,
        );
      }
      process.stderr.write(`${error.message}\n`);
      process.exitCode = EXIT.usage;
      return;
    }
    const known = error instanceof PgwardenError;
    process.stderr.write(`pgwarden-agent: ${known ? error.message : ((error as Error).stack ?? error)}\n`);
    process.exitCode = EXIT.failed;
  }
}
