import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { AgentConfig } from '../../core/config/agent-config.ts';
import type { AgentStatus } from '../daemon/agent-status.ts';
import { AGENT_VERSION } from '../version.ts';
import { isServingPrimary, patroniStatus } from './health-checks.ts';

/** Patroni's PostgresqlState indexes (patroni_postgres_state), which never change. */
const STATE_INDEX: Record<string, number> = {
  'initializing new cluster': 0,
  'initdb failed': 1,
  'running custom bootstrap script': 2,
  'custom bootstrap failed': 3,
  'creating replica': 4,
  running: 5,
  starting: 6,
  'starting after custom bootstrap': 7,
  'start failed': 8,
  restarting: 9,
  'restart failed': 10,
  stopping: 11,
  stopped: 12,
  'stop failed': 13,
  crashed: 14,
};

/** "2026-12-01 15:01:34.123456+00:00" → epoch seconds; 0 when absent (as Patroni). */
function epochSeconds(text: unknown): number {
  if (typeof text !== 'string') return 0;
  const ms = Date.parse(text.replace(' ', 'T'));
  return Number.isFinite(ms) ? ms / 1000 : 0;
}

/**
 * Patroni's /metrics, name for name and meaning for meaning (patroni/api.py, 4.x), computed from
 * the same status /patroni shows: a value pgwarden does not know reads 0, as in Patroni, never
 * the last one seen. Labels `scope` and `name`.
 */
export function patroniMetrics(s: AgentStatus, config: AgentConfig): string {
  const p = patroniStatus(s, config);
  const xlog = (p.xlog ?? {}) as Record<string, unknown>;
  const labels = `{scope="${config.scope}",name="${config.name}"}`;
  const lines: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, value: number | boolean) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}${labels} ${Number(value)}`);
  };
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const semver = AGENT_VERSION.split(/[.-]/)
    .slice(0, 3)
    .map((x) => x.padStart(2, '0'))
    .join('');
  lines.push('# HELP patroni_version Patroni semver without periods.', '# TYPE patroni_version gauge');
  lines.push(`patroni_version${labels} ${semver}`);
  metric(
    'patroni_postgres_running',
    'gauge',
    'Value is 1 if Postgres is running, 0 otherwise.',
    p.state === 'running',
  );
  metric(
    'patroni_postmaster_start_time',
    'gauge',
    'Epoch seconds since Postgres started.',
    epochSeconds(p.postmaster_start_time),
  );
  metric(
    'patroni_primary',
    'gauge',
    'Value is 1 if this node is the leader, 0 otherwise.',
    isServingPrimary(s),
  );
  metric(
    'patroni_xlog_location',
    'counter',
    'Current location of the Postgres transaction log, 0 if this node is not the leader.',
    num(xlog.location),
  );
  metric('patroni_standby_leader', 'gauge', 'Value is 1 if this node is the standby_leader, 0 otherwise.', 0);
  metric(
    'patroni_replica',
    'gauge',
    'Value is 1 if this node is a replica, 0 otherwise.',
    p.role === 'replica',
  );
  metric(
    'patroni_sync_standby',
    'gauge',
    'Value is 1 if this node is a sync standby, 0 otherwise.',
    p.sync_standby === true,
  );
  metric('patroni_quorum_standby', 'gauge', 'Value is 1 if this node is a quorum standby, 0 otherwise.', 0);
  metric(
    'patroni_xlog_received_location',
    'counter',
    'Current location of the received Postgres transaction log, 0 if this node is not a replica.',
    num(xlog.received_location),
  );
  metric(
    'patroni_xlog_replayed_location',
    'counter',
    'Current location of the replayed Postgres transaction log, 0 if this node is not a replica.',
    num(xlog.replayed_location),
  );
  metric(
    'patroni_xlog_replayed_timestamp',
    'gauge',
    'Current timestamp of the replayed Postgres transaction log, 0 if null.',
    epochSeconds(xlog.replayed_timestamp),
  );
  metric(
    'patroni_xlog_paused',
    'gauge',
    'Value is 1 if the Postgres xlog is paused, 0 otherwise.',
    xlog.paused === true,
  );
  metric(
    'patroni_postgres_streaming',
    'gauge',
    'Value is 1 if Postgres is streaming, 0 otherwise.',
    p.replication_state === 'streaming',
  );
  metric(
    'patroni_postgres_in_archive_recovery',
    'gauge',
    'Value is 1 if Postgres is replicating from archive, 0 otherwise.',
    p.replication_state === 'in archive recovery',
  );
  metric(
    'patroni_postgres_server_version',
    'gauge',
    'Version of Postgres (if running), 0 otherwise.',
    num(p.server_version),
  );
  metric(
    'patroni_cluster_unlocked',
    'gauge',
    'Value is 1 if the cluster is unlocked, 0 if locked.',
    p.cluster_unlocked === true,
  );
  metric(
    'patroni_failsafe_mode_is_active',
    'gauge',
    'Value is 1 if failsafe mode is active, 0 if inactive.',
    p.failsafe_mode_is_active === true,
  );
  // pgwarden's failsafe is always on (DESIGN §3): a primary cut from DynamoDB keeps its members' promises.
  metric('patroni_failsafe_mode_enabled', 'gauge', 'Value is 1 if failsafe_mode is enabled, 0 otherwise.', 1);
  metric(
    'patroni_failsafe_member',
    'gauge',
    'Value is 1 if this node is a member of failsafe, 0 otherwise.',
    s.failsafeMembers.some((m) => m.name === config.name) || isServingPrimary(s),
  );
  metric(
    'patroni_postgres_timeline',
    'gauge',
    'Postgres timeline of this node (if running), 0 otherwise.',
    num(p.timeline),
  );
  metric(
    'patroni_dcs_last_seen',
    'gauge',
    'Epoch timestamp when DCS was last contacted successfully by Patroni.',
    num(p.dcs_last_seen),
  );
  metric(
    'patroni_pending_restart',
    'gauge',
    'Value is 1 if the node needs a restart, 0 otherwise.',
    p.pending_restart === true,
  );
  metric(
    'patroni_is_paused',
    'gauge',
    'Value is 1 if auto failover is disabled, 0 otherwise.',
    p.pause === true,
  );
  lines.push(
    '# HELP patroni_postgres_state Numeric representation of Postgres state.',
    `# Values: ${Object.entries(STATE_INDEX)
      .map(([name, index]) => `${index}=${name.replaceAll(' ', '_')}`)
      .join(', ')}`,
    '# TYPE patroni_postgres_state gauge',
    `patroni_postgres_state${labels} ${STATE_INDEX[String(p.state)] ?? -1}`,
  );
  metric(
    'patroni_failover_priority',
    'gauge',
    'Failover priority of this node.',
    config.tags.nofailover ? 0 : config.tags.failover_priority,
  );
  return `${lines.join('\n')}\n`;
}

/**
 * pgwarden's own metrics (`pgwarden_` prefix: what Patroni has no name for), computed from the
 * status at scrape time; a value unknown at scrape time is left out, never the last one.
 */
export function createAgentMetrics(config: AgentConfig, status: () => AgentStatus): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ scope: config.scope, name: config.name });
  // A coarse event-loop sampler: the default (10 ms) wakes the process 100 times a second.
  collectDefaultMetrics({ register: registry, prefix: 'pgwarden_agent_', eventLoopMonitoringPrecision: 500 });
  const gauge = (name: string, help: string, read: (s: AgentStatus) => number | undefined | null) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        const value = read(status());
        if (value !== undefined && value !== null) this.set(value);
      },
    });
  gauge(
    'pgwarden_lease_remaining_seconds',
    'local validity left on the leader lease',
    (s) => s.leaseRemainingMs / 1000,
  );
  gauge('pgwarden_lease_term', 'term of the lease this member last held or followed', (s) => s.local?.term);
  gauge('pgwarden_dynamodb_last_success_timestamp_seconds', 'last successful DynamoDB call', (s) =>
    s.lastStoreSuccessAt ? s.lastStoreSuccessAt / 1000 : undefined,
  );
  return registry;
}
