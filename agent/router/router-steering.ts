import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { AgentConfig } from '../../core/config/agent-config.ts';
import type { ClusterConfig } from '../../core/config/cluster-config.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';
import { type RouteNotice, routeNoticeSchema } from '../../core/router/route-notice.ts';
import { planRoutes, targetOf } from '../../core/router/route-plan.ts';
import type { CoordinationStore } from '../../core/store/coordination-store.ts';
import { ConnectionRouter, type SessionOptions, type WriterState } from './connection-router.ts';
import { verifyNotice } from './notice-signature.ts';
import { roleVerifiers } from './role-verifiers.ts';

export interface NoticeAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** What `GET /router` shows, and what the endpoint's health check reads. */
export interface RouterStatus {
  readonly listening: boolean;
  readonly term: number;
  readonly writer: WriterState;
  readonly readers: readonly string[];
  readonly connections: { readonly writer: number; readonly reader: number };
}

/**
 * Steers this host's router (issue #17): from every snapshot the agent reads (the lease holder,
 * fresh replicas), and at once from the signed notices actions send (a primary pausing for a
 * switchover, a member just promoted, checked against the lease before anything is routed).
 */
export class RouterSteering {
  readonly router: ConnectionRouter;
  private snapshot: ClusterSnapshot | undefined;
  /** Each member's last heartbeat version and when (monotonic) this agent saw it change. */
  private readonly heartbeats = new Map<string, { rvn: string; changedAt: number }>();
  private readersWhy = '';

  constructor(
    private readonly deps: {
      readonly config: AgentConfig;
      readonly store: Pick<CoordinationStore, 'getLeader'>;
      readonly logger: Logger;
      readonly monotonic: () => number;
      /** SQL as the superuser on this host's PostgreSQL (the roles' verifiers). */
      readonly query: (sql: string, params: unknown[]) => Promise<{ rolpassword: string | null }[]>;
      /** A switchover's pause was accepted (the agent cycles at once to heartbeat fast). */
      readonly onSwitchover?: () => void;
    },
  ) {
    const r = deps.config.router;
    this.router = new ConnectionRouter(
      { host: r.listen, writerPort: r.writer_port, readerPort: r.reader_port },
      deps.monotonic,
      {
        onWriterChange: (state, why) =>
          deps.logger.info(`router: writer ${describe(state)}`, { why, routerTerm: this.router.term }),
        onMoved: (moved, cut, to) =>
          deps.logger.info(`router: ${moved} session(s) moved to ${to.name} (term ${to.term}), ${cut} cut`),
      },
      r.move_sessions ? sessionOptions(deps.config, deps.query, deps.monotonic) : undefined,
    );
  }

  start(): Promise<void> {
    return this.router.start();
  }

  stop(): Promise<void> {
    return this.router.stop();
  }

  status(): RouterStatus {
    return {
      listening: this.router.listening,
      term: this.router.term,
      writer: this.router.writerState,
      readers: this.router.readerTargets.map((t) => t.name),
      connections: this.router.connections,
    };
  }

  /** A consistent snapshot the agent just read: the routes follow it, a deliberate pause aside. */
  observe(snapshot: ClusterSnapshot, config: ClusterConfig): void {
    this.snapshot = snapshot;
    const now = this.deps.monotonic();
    for (const m of snapshot.members) {
      const seen = this.heartbeats.get(m.name);
      if (!seen || seen.rvn !== m.rvn) this.heartbeats.set(m.name, { rvn: m.rvn, changedAt: now });
    }
    const fresh = new Set(
      [...this.heartbeats].filter(([, h]) => now - h.changedAt <= config.ttl * 1000).map(([name]) => name),
    );
    const plan = planRoutes({
      leader: snapshot.leader,
      members: snapshot.members,
      fresh,
      maxLagBytes: config.maximum_lag_on_failover,
    });
    const current = this.router.writerState;
    const w = plan.writer;
    if (w.kind === 'route') {
      // A pause at this very term for this very holder is the switchover's: it ends with the
      // promotion's notice or its own timeout, not because the old primary still looks alive.
      const paused =
        current.kind === 'held' &&
        current.term === w.term &&
        current.switchover &&
        current.previous?.name === w.target.name;
      if (!paused) this.router.routeWriter({ ...w.target, term: w.term }, w.why);
    } else if (w.kind === 'hold') {
      // A promotion announced (and checked against the lease) is newer than a heartbeat that
      // still says replica: a route at this term stands.
      const routedAtTerm = current.kind === 'routed' && current.route.term >= w.term;
      if (!routedAtTerm && !(current.kind === 'held' && current.term === w.term))
        void this.router.holdWriter(
          { term: w.term, reason: w.why, timeoutMs: this.deps.config.router.hold_timeout * 1000 },
          w.why,
        );
    } else if (current.kind !== 'refusing') this.router.refuseWriter(w.why, w.why);
    this.router.routeReaders(plan.readers);
    if (plan.readersWhy !== this.readersWhy) {
      this.readersWhy = plan.readersWhy;
      this.deps.logger.info(`router: readers: ${plan.readersWhy}`);
    }
  }

  /** `POST /router`: a signed notice from an action on some member. */
  async receive(body: unknown, signature: string | undefined): Promise<NoticeAnswer> {
    const refuse = (status: number, reason: string) => {
      this.deps.logger.warn('route notice refused', { reason, status });
      return { status, body: { accepted: false, reason } };
    };
    const parsed = routeNoticeSchema.safeParse(body);
    if (!parsed.success)
      return refuse(
        400,
        `not a route notice: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`,
      );
    const notice = parsed.data;
    const { config } = this.deps;
    const secrets = [config.failsafe.secret, config.failsafe.previous_secret].filter((s): s is string => !!s);
    if (secrets.length === 0) return refuse(403, 'no failsafe secret is configured on this member');
    if (!signature || !/^[0-9a-f]{64}$/.test(signature) || !verifyNotice(notice, signature, secrets))
      return refuse(401, 'the signature is missing or wrong');
    if (notice.cluster !== config.scope)
      return refuse(403, `the notice is for cluster ${notice.cluster}, this member serves ${config.scope}`);
    if (notice.term < this.router.term)
      return refuse(409, `term ${notice.term} is older than the router's ${this.router.term}`);
    return notice.kind === 'pause' ? this.pause(notice) : this.promoted(notice);
  }

  private async pause(notice: RouteNotice): Promise<NoticeAnswer> {
    const current = this.router.writerState;
    const routedTo = current.kind === 'routed' ? current.route : undefined;
    if (!routedTo || routedTo.name !== notice.member || routedTo.term !== notice.term)
      return {
        status: 409,
        body: {
          accepted: false,
          reason: `the router does not route to ${notice.member} at term ${notice.term} (${describe(current)})`,
        },
      };
    const why = `switchover: ${notice.member} stops cleanly at term ${notice.term}`;
    this.deps.onSwitchover?.();
    const outcome = await this.router.holdWriter(
      {
        term: notice.term,
        reason: why,
        timeoutMs: notice.hold_ms ?? this.deps.config.router.hold_timeout * 1000,
        drainMs: notice.drain_ms ?? this.deps.config.router.drain_timeout * 1000,
        switchover: true,
      },
      why,
    );
    return { status: 200, body: { accepted: true, ...outcome } };
  }

  /** A promotion: routed only once a consistent read of the lease names the member at the term. */
  private async promoted(notice: RouteNotice): Promise<NoticeAnswer> {
    const leader = await this.deps.store.getLeader(this.deps.config.scope).catch((error: Error) => error);
    if (leader instanceof Error)
      return { status: 503, body: { accepted: false, reason: `cannot read the lease: ${leader.message}` } };
    if (leader?.holder !== notice.member || leader.term !== notice.term)
      return {
        status: 409,
        body: {
          accepted: false,
          reason: `the lease names ${leader ? `${leader.holder} at term ${leader.term}` : 'nobody'}, not ${notice.member} at term ${notice.term}`,
        },
      };
    const member = this.snapshot?.members.find((m) => m.name === notice.member);
    if (!member)
      return { status: 409, body: { accepted: false, reason: `${notice.member} has no heartbeat here yet` } };
    const routed = this.router.routeWriter(
      { ...targetOf(member), term: notice.term },
      `${notice.member} announced its promotion at term ${notice.term}`,
    );
    return { status: routed ? 200 : 409, body: { accepted: routed } };
  }
}

function describe(state: WriterState): string {
  if (state.kind === 'routed') return `-> ${state.route.name} (term ${state.route.term})`;
  if (state.kind === 'held') return `held at term ${state.term}: ${state.reason}`;
  return `refusing: ${state.reason}`;
}

/** The router's TLS and verifiers from the agent config (issue #17): the host's own certificate. */
function sessionOptions(
  config: AgentConfig,
  query: (sql: string, params: unknown[]) => Promise<{ rolpassword: string | null }[]>,
  clock: () => number,
): SessionOptions {
  const p = config.postgresql.parameters as Record<string, unknown>;
  const ssl = p.ssl === true || p.ssl === 'on' || p.ssl === 'true';
  const cert = config.router.certfile ?? (ssl ? (p.ssl_cert_file as string | undefined) : undefined);
  const key = config.router.keyfile ?? (ssl ? (p.ssl_key_file as string | undefined) : undefined);
  const ca =
    config.router.cafile ??
    (p.ssl_ca_file as string | undefined) ??
    config.postgresql.authentication.replication.sslrootcert;
  return {
    verifiers: roleVerifiers(query, clock),
    ...(cert && key
      ? { tls: createSecureContext({ cert: readFileSync(cert), key: readFileSync(key) }) }
      : {}),
    ...(ca && ssl ? { upstreamCa: readFileSync(ca, 'utf8') } : {}),
  };
}
