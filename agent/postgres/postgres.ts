import { chmod, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import type { Credentials } from '../../core/config/agent-config.ts';
import { parseLsn } from '../../core/format.ts';
import { PgCommandError } from '../errors.ts';
import type { OsUser } from '../os-user.ts';
import type { AgentPaths } from '../paths.ts';
import { serverConninfo } from './conninfo.ts';
import { type ProgramResult, runProgram } from './run-program.ts';

/** Settings a hot standby needs at least as high as the primary's (PostgreSQL refuses to recover otherwise). */
const HOT_STANDBY_SETTINGS = [
  ['max_connections', 'max_connections'],
  ['max_worker_processes', 'max_worker_processes'],
  ['max_wal_senders', 'max_wal_senders'],
  ['max_prepared_transactions', 'max_prepared_xacts'],
  ['max_locks_per_transaction', 'max_locks_per_xact'],
] as const;

export interface ControlData {
  readonly state: string;
  /** The primary's values a standby must match or exceed (pg_controldata's "... setting" lines). */
  readonly hotStandbyFloor?: Readonly<Record<string, number>>;
  readonly checkpointLsn: number;
  readonly timeline: number;
  readonly systemIdentifier: string;
}

export interface Upstream {
  readonly host: string;
  readonly port: number;
}

/** PostgreSQL's own programs, run as the PostgreSQL user, each with a time bound. */
export class Postgres {
  constructor(
    readonly paths: AgentPaths,
    readonly user: OsUser | undefined,
  ) {}

  private run(
    program: string,
    args: readonly string[],
    timeoutMs: number,
    extra: { allowFailure?: boolean; env?: Record<string, string> } = {},
  ): Promise<ProgramResult> {
    return runProgram(this.paths.bin(program), args, this.user, {
      timeoutMs,
      env: { PGPASSFILE: this.paths.pgpass, ...extra.env },
      ...(extra.allowFailure ? { allowFailure: true } : {}),
    });
  }

  async isDataDirEmpty(): Promise<boolean> {
    try {
      return (await readdir(this.paths.dataDir)).length === 0;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
      throw error;
    }
  }

  /** The postmaster's PID when it is running (postmaster.pid names a live process). */
  async postmasterPid(): Promise<number | undefined> {
    try {
      const pid = Number((await readFile(`${this.paths.dataDir}/postmaster.pid`, 'utf8')).split('\n')[0]);
      if (!Number.isInteger(pid) || pid <= 0) return undefined;
      process.kill(pid, 0);
      return pid;
    } catch {
      return undefined;
    }
  }

  async initdb(superuser: string, extraArgs: readonly string[], timeoutMs = 120_000): Promise<void> {
    await this.run(
      'initdb',
      [
        '-D',
        this.paths.dataDir,
        '-U',
        superuser,
        '--data-checksums',
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        ...extraArgs,
      ],
      timeoutMs,
    );
  }

  /**
   * Starts the postmaster detached (it outlives the agent). With `wait`, returns when it accepts
   * connections; without, as soon as it runs (a standby accepts connections only once it has
   * replayed a running-transactions record, which an idle primary writes every 15 s).
   */
  async start(timeoutMs: number, options: { wait?: boolean } = {}): Promise<void> {
    if (await this.postmasterPid()) return;
    await rm(`${this.paths.dataDir}/postmaster.pid`, { force: true });
    const wait = options.wait ?? true;
    // Where this start's log lines begin: a postmaster that dies at once (a full disk, a bad
    // setting) is seen there, not waited for until the timeout.
    const logFrom = await stat(this.paths.pgLog).then(
      (st) => st.size,
      () => 0,
    );
    const seconds = String(Math.ceil(timeoutMs / 1000));
    try {
      await this.run(
        'pg_ctl',
        ['-D', this.paths.dataDir, '-l', this.paths.pgLog, wait ? '-w' : '-W', '-t', seconds, 'start'],
        timeoutMs + 5000,
      );
    } catch (error) {
      // pg_ctl says only "examine the log output": say what the log says.
      const log = await readFile(this.paths.pgLog, 'utf8').catch(() => '');
      const last = log.trim().split('\n').slice(-3).join(' | ');
      if (!(error instanceof PgCommandError) || !last) throw error;
      throw new PgCommandError(
        'pg_ctl',
        `start failed (${error.message}); ${this.paths.pgLog} ends with`,
        last,
      );
    }
    if (!wait) {
      const deadline = Date.now() + timeoutMs;
      while (!(await this.postmasterPid())) {
        // A postmaster that logged its end (or a FATAL before it wrote its PID file) and is still
        // not there a moment later has exited.
        const since = await this.logSince(logFrom);
        if (/database system is shut down|FATAL|PANIC/.test(since)) {
          await new Promise((r) => setTimeout(r, 200));
          if (await this.postmasterPid()) break;
          throw new PgCommandError(
            'postgres',
            `exited as it started; ${this.paths.pgLog} says`,
            since.trim().split('\n').slice(-4).join(' | '),
          );
        }
        if (Date.now() > deadline)
          throw new PgCommandError('postgres', `did not start within ${timeoutMs} ms`, '');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** The server log from byte `offset` on (empty when it cannot be read). */
  private async logSince(offset: number): Promise<string> {
    const handle = await open(this.paths.pgLog, 'r').catch(() => undefined);
    if (!handle) return '';
    try {
      const { size } = await handle.stat();
      if (size <= offset) return '';
      const buffer = Buffer.alloc(Math.min(size - offset, 64_000));
      await handle.read(buffer, 0, buffer.length, Math.max(offset, size - buffer.length));
      return buffer.toString('utf8');
    } finally {
      await handle.close();
    }
  }

  /**
   * Crash recovery in single-user mode, so that a data directory that was shut down in recovery
   * (a standby) knows its true end of WAL before pg_rewind compares it with the source.
   */
  async finishRecoveryAlone(timeoutMs: number): Promise<ProgramResult> {
    await rm(this.paths.standbySignal, { force: true });
    return this.run(
      'postgres',
      ['--single', '-D', this.paths.dataDir, '-c', 'hot_standby=off', 'postgres'],
      timeoutMs,
      { allowFailure: true },
    );
  }

  /**
   * Stops PostgreSQL: `fast` (refuses new connections and ends sessions at once, then a
   * checkpoint), escalating to `immediate` after `fastTimeoutMs`. True if it was running.
   */
  async stop(fastTimeoutMs: number): Promise<boolean> {
    if (!(await this.postmasterPid())) return false;
    const fast = await this.run(
      'pg_ctl',
      [
        '-D',
        this.paths.dataDir,
        '-m',
        'fast',
        '-w',
        '-t',
        String(Math.max(1, Math.ceil(fastTimeoutMs / 1000))),
        'stop',
      ],
      fastTimeoutMs + 5000,
      { allowFailure: true },
    ).catch(() => undefined);
    if (fast?.code === 0 && !(await this.postmasterPid())) return true;
    await this.run(
      'pg_ctl',
      ['-D', this.paths.dataDir, '-m', 'immediate', '-w', '-t', '30', 'stop'],
      35_000,
      { allowFailure: true },
    );
    return true;
  }

  /** Sends the postmaster SIGINT (fast shutdown) without waiting: the first, fastest fencing move. */
  async beginFastShutdown(): Promise<void> {
    const pid = await this.postmasterPid();
    if (pid) process.kill(pid, 'SIGINT');
  }

  /**
   * Asks a standby to promote itself and returns (no `-w`: pg_ctl would look every 100 ms); the
   * caller waits for the end of recovery itself, at its own pace.
   */
  async promote(timeoutMs: number): Promise<void> {
    await this.run('pg_ctl', ['-D', this.paths.dataDir, '-W', 'promote'], timeoutMs);
  }

  async reload(): Promise<void> {
    await this.run('pg_ctl', ['-D', this.paths.dataDir, 'reload'], 10_000);
  }

  async controlData(): Promise<ControlData> {
    const { stdout } = await this.run('pg_controldata', ['-D', this.paths.dataDir], 10_000, {
      env: { LC_ALL: 'C' },
    });
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(stdout)?.[1]?.trim() ?? '';
    const floor: Record<string, number> = {};
    for (const [name, label] of HOT_STANDBY_SETTINGS) {
      const value = Number(field(`${label} setting`));
      if (Number.isFinite(value) && value > 0) floor[name] = value;
    }
    return {
      state: field('Database cluster state'),
      checkpointLsn: parseLsn(field('Latest checkpoint location')),
      timeline: Number(field("Latest checkpoint's TimeLineID")),
      systemIdentifier: field('Database system identifier'),
      hotStandbyFloor: floor,
    };
  }

  /** Empties the data directory (keeping the directory itself, owned by the PostgreSQL user). */
  async wipeDataDir(): Promise<void> {
    const entries = await readdir(this.paths.dataDir).catch(() => [] as string[]);
    await Promise.all(entries.map((e) => rm(`${this.paths.dataDir}/${e}`, { recursive: true, force: true })));
  }

  async baseBackup(
    source: Upstream,
    replication: Credentials,
    timeoutMs: number,
    options: readonly (string | Readonly<Record<string, string | number>>)[] = [],
  ): Promise<void> {
    await this.wipeDataDir();
    await this.run(
      'pg_basebackup',
      [
        '-D',
        this.paths.dataDir,
        '-X',
        'stream',
        '-c',
        'fast',
        '-d',
        serverConninfo(source, replication, { passfile: this.paths.pgpass, connect_timeout: 10 }),
        '--no-password',
        ...options.flatMap((o) =>
          typeof o === 'string' ? [`--${o}`] : Object.entries(o).map(([k, v]) => `--${k}=${v}`),
        ),
      ],
      timeoutMs,
    );
    await chmod(this.paths.dataDir, 0o700);
  }

  /** Rewinds this (stopped) data directory onto the source's timeline. */
  async rewind(source: Upstream, credentials: Credentials, timeoutMs: number): Promise<ProgramResult> {
    const conn = serverConninfo(source, credentials, {
      dbname: 'postgres',
      passfile: this.paths.pgpass,
      connect_timeout: 3,
    });
    return this.run('pg_rewind', ['-D', this.paths.dataDir, `--source-server=${conn}`], timeoutMs, {
      allowFailure: true,
    });
  }

  async version(): Promise<string> {
    const { stdout } = await this.run('postgres', ['--version'], 10_000);
    return stdout.trim().replace(/^postgres \(PostgreSQL\) /, '');
  }
}
