import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { AgentConfig } from '../../core/config/agent-config.ts';
import type { AgentStatus } from '../daemon/agent-daemon.ts';
import { isServingPrimary } from './health-checks.ts';

/** Prometheus metrics of one agent, computed from its status at scrape time. */
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
        const value = read(status());
        if (value !== undefined && value !== null) this.set(value);
      },
    });
  gauge('pgwarden_postgres_running', '1 when PostgreSQL answers queries', (s) =>
    Number(s.observation.reachable),
  );
  gauge('pgwarden_primary', '1 when this member serves as primary with a valid lease', (s) =>
    Number(isServingPrimary(s)),
  );
  gauge('pgwarden_replica', '1 when PostgreSQL runs in recovery', (s) =>
    Number(s.observation.inRecovery === true),
  );
  gauge('pgwarden_postgres_timeline', 'PostgreSQL timeline', (s) => s.observation.timeline);
  gauge(
    'pgwarden_xlog_location',
    'primary: current WAL write position (bytes)',
    (s) => s.observation.writeLsn,
  );
  gauge(
    'pgwarden_xlog_received_location',
    'replica: last received WAL position (bytes)',
    (s) => s.observation.receiveLsn,
  );
  gauge(
    'pgwarden_xlog_replayed_location',
    'replica: last replayed WAL position (bytes)',
    (s) => s.observation.replayLsn,
  );
  gauge(
    'pgwarden_lease_remaining_seconds',
    'local validity left on the leader lease',
    (s) => s.leaseRemainingMs / 1000,
  );
  gauge('pgwarden_lease_term', 'term of the lease this member last held or followed', (s) => s.local?.term);
  gauge('pgwarden_cluster_unlocked', '1 when no member holds the lease', (s) =>
    s.snapshot ? Number(!s.snapshot.leader || s.snapshot.leader.released) : undefined,
  );
  gauge('pgwarden_dynamodb_last_success_timestamp_seconds', 'last successful DynamoDB call', (s) =>
    s.lastStoreSuccessAt ? s.lastStoreSuccessAt / 1000 : undefined,
  );
  gauge('pgwarden_is_paused', '1 when the cluster is paused', (s) => Number(s.clusterConfig.pause));
  // Patroni's name and meaning: the primary keeps its lease by failsafe pings (DESIGN §3).
  gauge('patroni_failsafe_mode_is_active', '1 when failsafe mode is active', (s) => Number(s.failsafeActive));
  return registry;
}
