import type { Command } from 'commander';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';
import type { CliContext } from '../cli-context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { hostOf } from './member-rows.ts';

export interface Endpoints {
  readonly writer?: string;
  readonly reader?: string;
}

const ROLES = ['leader', 'primary', 'master', 'replica', 'standby-leader', 'any'] as const;

/** patronictl dsn: `host=H port=P` of the member chosen by role or name. */
function memberDsn(snapshot: ClusterSnapshot, role: string | undefined, name: string | undefined): string {
  if (role !== undefined && !(ROLES as readonly string[]).includes(role))
    throw new CliError(
      `--role: got ${JSON.stringify(role)}, expected one of ${ROLES.join(', ')}`,
      EXIT.usage,
    );
  const leader = snapshot.leader && !snapshot.leader.released ? snapshot.leader.holder : undefined;
  const candidates = snapshot.members.filter((m) => {
    if (name !== undefined && m.name !== name) return false;
    if (role === 'leader' || role === 'primary' || role === 'master') return m.name === leader;
    if (role === 'replica') return m.name !== leader && m.state === 'running';
    if (role === 'standby-leader') return false;
    return true;
  });
  const member = candidates[0];
  if (!member)
    throw new CliError(
      `no member${name ? ` named ${name}` : ''}${role ? ` with role ${role}` : ''} in ${snapshot.cluster}`,
      EXIT.refused,
    );
  const url = new URL(member.conn_url);
  return `host=${url.hostname.replace(/^\[(.*)\]$/, '$1')} port=${url.port || 5432}`;
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
    .option('--user <name>', 'user (the application role; the superuser has no network login)', 'admin')
    .option('-r, --role <role>', "patronictl's: one member's DSN, by role: leader | primary | replica | any")
    .option('-m, --member <name>', "patronictl's: one member's DSN, by name")
    .action(
      async (
        clusterArg: string | undefined,
        opts: {
          writer?: string;
          reader?: string;
          dbname: string;
          user: string;
          role?: string;
          member?: string;
        },
      ) => {
        const ctx = context();
        const snapshot = await ctx.store.getSnapshot(ctx.cluster(clusterArg));
        if (opts.role !== undefined || opts.member !== undefined) {
          ctx.out(memberDsn(snapshot, opts.role, opts.member));
          return;
        }
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
