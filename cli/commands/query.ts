import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import pg from 'pg';
import type { CliContext } from '../cli-context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { parseFormat, renderRows } from '../format/render-rows.ts';
import { renderTable } from '../format/table.ts';

interface QueryOptions {
  readonly role?: string;
  readonly member?: string;
  readonly command?: string;
  readonly file?: string;
  readonly username: string;
  readonly dbname: string;
  readonly sslrootcert?: string;
  readonly format: string;
}

/**
 * `pgwarden query CLUSTER` (patronictl's): runs SQL on the member chosen by --member or --role
 * (default: the leader) and prints the rows. It logs in over the network as --username (the
 * application role by default: the superuser has no network login), with the password from
 * PGPASSWORD or ~/.pgpass, over TLS verified against --sslrootcert (or PGSSLROOTCERT) when given.
 */
export function registerQuery(program: Command, context: () => CliContext): void {
  program
    .command('query')
    .description('run SQL on a member (default: the leader) and print the rows')
    .argument('<cluster>', 'cluster name')
    .option('-r, --role <role>', 'leader | replica | any', 'leader')
    .option('-m, --member <name>', 'this member')
    .option('-c, --command <sql>', 'the SQL to run')
    .option('--file <path>', 'a file with the SQL to run')
    .option('-U, --username <name>', 'the role to log in as', 'admin')
    .option('-d, --dbname <name>', 'the database', 'postgres')
    .option('--sslrootcert <path>', "the servers' CA (default: PGSSLROOTCERT): TLS verified against it")
    .option('-f, --format <format>', 'pretty | tsv | json | yaml | yml', 'tsv')
    .action(async (clusterArg: string, opts: QueryOptions) => {
      if ((opts.command === undefined) === (opts.file === undefined))
        throw new CliError('query: give the SQL with -c/--command or --file (one of them)', EXIT.usage);
      if (!['leader', 'primary', 'replica', 'any'].includes(opts.role ?? 'leader'))
        throw new CliError(
          `--role: got ${JSON.stringify(opts.role)}, expected leader, replica or any`,
          EXIT.usage,
        );
      const ctx = context();
      const format = parseFormat(opts.format, ctx.json);
      const sql = opts.command ?? readSql(opts.file!);
      const cluster = ctx.cluster(clusterArg);
      const snapshot = await ctx.store.getSnapshot(cluster);
      const leader = snapshot.leader && !snapshot.leader.released ? snapshot.leader.holder : undefined;
      const member = snapshot.members.find((m) => {
        if (opts.member !== undefined) return m.name === opts.member;
        if (opts.role === 'leader' || opts.role === 'primary') return m.name === leader;
        if (opts.role === 'replica') return m.name !== leader && m.state === 'running';
        return m.state === 'running';
      });
      if (!member)
        throw new CliError(
          `no member ${opts.member ? `named ${opts.member}` : `with role ${opts.role}`} in ${cluster}`,
          EXIT.refused,
        );
      const url = new URL(member.conn_url);
      const caPath = opts.sslrootcert ?? process.env.PGSSLROOTCERT;
      const client = new pg.Client({
        host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: Number(url.port || 5432),
        user: opts.username,
        database: opts.dbname,
        // Verified when a CA is given; encrypted without it (the servers take TLS only).
        ssl:
          process.env.PGSSLMODE === 'disable'
            ? false
            : caPath
              ? { ca: readFileSync(caPath, 'utf8') }
              : { rejectUnauthorized: false },
        connectionTimeoutMillis: 5000,
      });
      client.on('error', () => {});
      try {
        await client.connect();
        const result = await client.query(sql);
        const columns = result.fields.map((f) => f.name);
        const rows = result.rows as Record<string, unknown>[];
        if (format === 'pretty')
          ctx.out(
            renderTable(
              `${member.name}`,
              columns,
              rows.map((r) => columns.map((c) => String(r[c] ?? ''))),
            ),
          );
        else ctx.out(renderRows(format, columns, rows));
      } catch (error) {
        throw new CliError(`${member.name}: ${(error as Error).message}`, EXIT.refused);
      } finally {
        await client.end().catch(() => {});
      }
    });
}

function readSql(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new CliError(
      `--file ${path}: cannot read it (${(error as NodeJS.ErrnoException).code})`,
      EXIT.usage,
    );
  }
}
