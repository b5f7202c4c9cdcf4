import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { parseLsn } from '../../core/format.ts';
import type { ReplicationRow } from '../../core/model/items.ts';
import { parseSyncStandbyNames } from './pg-conf.ts';

/** What one look at PostgreSQL found. `reachable: false` is a state, never an exception. */
export interface PgObservation {
  readonly at: number;
  readonly reachable: boolean;
  readonly error?: string;
  readonly inRecovery?: boolean;
  readonly timeline?: number;
  /** Primary: where its timeline branched off the one before (its history file), when past 1. */
  readonly timelineSwitchLsn?: number | null;
  readonly writeLsn?: number | null;
  readonly receiveLsn?: number | null;
  readonly replayLsn?: number | null;
  readonly receiverState?: string | null;
  readonly syncStandbys?: string[];
  readonly replication?: ReplicationRow[];
  readonly pendingRestart?: boolean;
  readonly serverVersion?: string;
  /** server_version_num, e.g. 150004 (Patroni's integer `server_version`). */
  readonly serverVersionNum?: number;
  readonly systemIdentifier?: string;
  /** pg_postmaster_start_time(), as Patroni prints it ("2026-12-01 15:01:34.123456+00:00"). */
  readonly postmasterStartTime?: string;
  /** Replica: pg_last_xact_replay_timestamp(), as above (null before any replayed commit). */
  readonly replayTimestamp?: string | null;
  /** Replica: pg_is_wal_replay_paused(). */
  readonly replayPaused?: boolean;
  /** Replica: WAL written by the receiver (Patroni's received_location: written, else latest end). */
  readonly writtenLsn?: number | null;
  /** Settings waiting for a restart: name → the running and the configured value. */
  readonly pendingRestartReason?: Readonly<Record<string, { old_value: string; new_value: string }>>;
}

const OBSERVE_SQL = `
SELECT pg_is_in_recovery() AS in_recovery,
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS write_lsn,
       CASE WHEN pg_is_in_recovery() THEN NULL
            ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS primary_tli,
       CASE WHEN pg_is_in_recovery() THEN NULL
            ELSE (regexp_match(pg_read_file('pg_wal/' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) || '.history', 0, 1000000, true),
                               '([0-9A-F]+/[0-9A-F]+)[^\\n]*\\n?$'))[1] END AS timeline_switch_lsn,
       pg_last_wal_receive_lsn()::text AS receive_lsn,
       pg_last_wal_replay_lsn()::text AS replay_lsn,
       (SELECT status FROM pg_stat_wal_receiver) AS receiver_state,
       (SELECT received_tli FROM pg_stat_wal_receiver) AS received_tli,
       (SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_tli,
       CASE WHEN pg_is_in_recovery() AND NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE received_tli IS NOT NULL) THEN
         (SELECT ('x' || substr(max(name), 1, 8))::bit(32)::int FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$')
       END AS wal_tli,
       current_setting('synchronous_standby_names') AS sync_names,
       current_setting('server_version') AS server_version,
       (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier,
       (SELECT count(*) > 0 FROM pg_settings WHERE pending_restart) AS pending_restart,
       (SELECT json_object_agg(s.name, json_build_object('old_value', s.setting, 'new_value',
                 coalesce((SELECT f.setting FROM pg_file_settings f WHERE f.name = s.name ORDER BY f.seqno DESC LIMIT 1), '')))
          FROM pg_settings s WHERE s.pending_restart) AS pending_restart_reason,
       current_setting('server_version_num')::int AS server_version_num,
       to_char(pg_postmaster_start_time() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00:00' AS postmaster_start_time,
       to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00:00' AS replay_timestamp,
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END AS replay_paused,
       (SELECT coalesce(written_lsn, latest_end_lsn)::text FROM pg_stat_wal_receiver) AS written_lsn,
       (SELECT coalesce(json_agg(json_build_object('name', application_name, 'state', state,
                'sync_state', sync_state, 'flush_lsn', flush_lsn::text, 'replay_lsn', replay_lsn::text,
                'usename', usename, 'client_addr', host(client_addr), 'sync_priority', sync_priority)), '[]')
          FROM pg_stat_replication) AS replication`;

const lsnOrNull = (v: unknown) => (typeof v === 'string' ? parseLsn(v) : null);

export interface PgConnectionOptions {
  /**
   * Where the server's socket may be: the agent's own directory first, then the others the
   * config names (a server started by Patroni, or by hand, listens only there until a restart).
   */
  readonly socketDirs: readonly string[];
  /** The data directory: a running server's postmaster.pid names the socket directory it listens in. */
  readonly dataDir?: string;
  readonly port: number;
  readonly user: string;
  /** Bound on one observation, connection included. */
  readonly timeoutMs: number;
}

/**
 * Observes PostgreSQL over one kept-open connection on the local socket. A hung or stopped
 * server yields `reachable: false` within the time bound; the next call reconnects.
 */
export class PgObserver {
  private client: pg.Client | undefined;

  constructor(private readonly options: PgConnectionOptions) {}

  private async connected(): Promise<pg.Client> {
    if (this.client) return this.client;
    const { socketDirs, port } = this.options;
    const candidates = [...socketDirs, ...this.pidFileSocketDir()];
    const dir = candidates.find((d) => existsSync(join(d, `.s.PGSQL.${port}`))) ?? socketDirs[0];
    const client = new pg.Client({
      host: dir,
      port: this.options.port,
      user: this.options.user,
      database: 'postgres',
      connectionTimeoutMillis: this.options.timeoutMs,
      query_timeout: this.options.timeoutMs,
      statement_timeout: this.options.timeoutMs,
      application_name: 'pgwarden-agent',
    });
    client.on('error', () => this.drop(client));
    await client.connect();
    this.client = client;
    return client;
  }

  /**
   * Line 5 of postmaster.pid: the first socket directory of the running server, wherever whoever
   * started it put it (Patroni, pg_ctl -k, Debian's /var/run/postgresql).
   */
  private pidFileSocketDir(): string[] {
    if (!this.options.dataDir) return [];
    try {
      const line = readFileSync(join(this.options.dataDir, 'postmaster.pid'), 'utf8').split('\n')[4]?.trim();
      return line ? [line] : [];
    } catch {
      return [];
    }
  }

  private drop(client: pg.Client | undefined): void {
    if (!client) return;
    if (this.client === client) this.client = undefined;
    client.end().catch(() => {});
    // A hung server may never answer the goodbye: do not wait for it.
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  }

  /** Runs one statement with the observer's time bound (used by actions too). */
  async query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
    const client = await this.connected();
    try {
      return (await client.query<T>(sql, params)).rows;
    } catch (error) {
      this.drop(client);
      throw error;
    }
  }

  async observe(now: number): Promise<PgObservation> {
    let row: Record<string, unknown> | undefined;
    try {
      row = (await this.query<Record<string, unknown>>(OBSERVE_SQL))[0];
    } catch (error) {
      return { at: now, reachable: false, error: (error as Error).message };
    }
    if (!row) return { at: now, reachable: false, error: 'no row' };
    const inRecovery = row.in_recovery === true;
    const replication = (row.replication as Array<Record<string, unknown>>).map((r) => ({
      name: String(r.name),
      state: String(r.state),
      sync_state: String(r.sync_state),
      flush_lsn: lsnOrNull(r.flush_lsn),
      replay_lsn: lsnOrNull(r.replay_lsn),
      usename: r.usename === null || r.usename === undefined ? undefined : String(r.usename),
      client_addr: r.client_addr === null || r.client_addr === undefined ? undefined : String(r.client_addr),
      sync_priority: typeof r.sync_priority === 'number' ? r.sync_priority : undefined,
    }));
    return {
      at: now,
      reachable: true,
      inRecovery,
      // A standby's timeline: its receiver's; else the newest timeline it holds WAL of (its last
      // restartpoint's can be several timelines old).
      timeline: Number(
        inRecovery ? (row.received_tli ?? row.wal_tli ?? row.checkpoint_tli) : row.primary_tli,
      ),
      timelineSwitchLsn: lsnOrNull(row.timeline_switch_lsn),
      writeLsn: lsnOrNull(row.write_lsn),
      receiveLsn: lsnOrNull(row.receive_lsn),
      replayLsn: lsnOrNull(row.replay_lsn),
      receiverState: (row.receiver_state as string | null) ?? null,
      syncStandbys: parseSyncStandbyNames(String(row.sync_names ?? '')),
      replication,
      pendingRestart: row.pending_restart === true,
      serverVersion: String(row.server_version),
      serverVersionNum: Number(row.server_version_num),
      systemIdentifier: String(row.system_identifier),
      postmasterStartTime: String(row.postmaster_start_time),
      replayTimestamp: (row.replay_timestamp as string | null) ?? null,
      ...(inRecovery
        ? { replayPaused: row.replay_paused === true, writtenLsn: lsnOrNull(row.written_lsn) }
        : {}),
      pendingRestartReason: (row.pending_restart_reason as PgObservation['pendingRestartReason']) ?? {},
    };
  }

  close(): void {
    this.drop(this.client);
  }
}
