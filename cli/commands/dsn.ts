import type { Command } from 'commander';
import type { CliContext } from '../cli-context.ts';
import { hostOf } from './member-rows.ts';

export interface Endpoints {
  readonly writer?: string;
  readonly reader?: string;
}

/**
 * `pgwarden dsn`: the writer and reader endpoints (the NLB, or HAProxy locally) and a libpq
 * multi-host DSN over the members with target_session_attrs, which needs no endpoint at all.
 */
export function registerDsn(
  program: Command,
  context: () => CliContext,
  defaults: () => Endpoints = () => ({}),
): void {
  program
    .command('dsn')
    .description('connection strings: writer and reader endpoints, and a libpq multi-host DSN')
    .argument('[cluster]', 'cluster name')
    .option(
      '--writer <host:port>',
      'writer endpoint (default: PGWARDEN_WRITER_ENDPOINT, or the local topology)',
    )
    .option(
      '--reader <host:port>',
      'reader endpoint (default: PGWARDEN_READER_ENDPOINT, or the local topology)',
    )
    .option('--dbname <name>', 'database', 'postgres')
    .option('--user <name>', 'user', 'postgres')
    .action(
      async (
        clusterArg: string | undefined,
        opts: { writer?: string; reader?: string; dbname: string; user: string },
      ) => {
        const ctx = context();
        const snapshot = await ctx.store.getSnapshot(ctx.cluster(clusterArg));
        const writer = opts.writer ?? process.env.PGWARDEN_WRITER_ENDPOINT ?? defaults().writer;
        const reader = opts.reader ?? process.env.PGWARDEN_READER_ENDPOINT ?? defaults().reader;
        const hosts = snapshot.members.map(hostOf).join(',');
        const base = `postgresql://${opts.user}@${hosts}/${opts.dbname}`;
        const result = {
          ...(writer ? { writer: `postgresql://${opts.user}@${writer}/${opts.dbname}` } : {}),
          ...(reader ? { reader: `postgresql://${opts.user}@${reader}/${opts.dbname}` } : {}),
          multihost_writer: `${base}?target_session_attrs=read-write`,
          multihost_reader: `${base}?target_session_attrs=prefer-standby&load_balance_hosts=random`,
        };
        if (ctx.json) {
          ctx.out(JSON.stringify(result));
          return;
        }
        ctx.out(
          [
            ...(result.writer
              ? [`writer endpoint:  ${result.writer}`]
              : ['writer endpoint:  (unknown: give --writer or set PGWARDEN_WRITER_ENDPOINT)']),
            ...(result.reader ? [`reader endpoint:  ${result.reader}`] : []),
            `libpq writer:     ${result.multihost_writer}`,
            `libpq reader:     ${result.multihost_reader}`,
          ].join('\n'),
        );
      },
    );
}
