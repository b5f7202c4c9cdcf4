import type { Logger } from '@aws-lambda-powertools/logger';
import { type FailsafePing, failsafePingSchema, judgePing } from '../../core/failsafe/failsafe-ping.ts';
import type { AgentStatus } from '../daemon/agent-status.ts';
import { verifyPing } from './ping-signature.ts';
import { machineMonotonicMs, type PromiseStore } from './promise-file.ts';

export interface FailsafeAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/**
 * The member side of failsafe (DESIGN §3): a signed ping from the primary, accepted, becomes a
 * promise to refuse promotion until `receipt + ttl` on this machine's monotonic clock, persisted
 * before the answer goes out. Everything else is refused with a status and a log line, and
 * changes nothing.
 */
export class FailsafeMember {
  constructor(
    private readonly deps: {
      readonly cluster: string;
      readonly me: string;
      readonly secrets: readonly string[];
      readonly store: PromiseStore;
      readonly status: () => AgentStatus;
      readonly logger: Logger;
    },
  ) {}

  async receive(body: unknown, signature: string | undefined): Promise<FailsafeAnswer> {
    const refuse = (status: number, reason: string, ping?: Partial<FailsafePing>) => {
      this.deps.logger.warn('failsafe ping refused', {
        reason,
        status,
        from: ping?.from,
        pingTerm: ping?.term,
      });
      return { status, body: { accepted: false, reason } };
    };
    const parsed = failsafePingSchema.safeParse(body);
    if (!parsed.success)
      return refuse(
        400,
        `not a failsafe ping: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`,
      );
    const ping = parsed.data;
    if (this.deps.secrets.length === 0)
      return refuse(403, 'no failsafe secret is configured on this member', ping);
    if (!signature || !/^[0-9a-f]{64}$/.test(signature) || !verifyPing(ping, signature, this.deps.secrets))
      return refuse(401, 'the signature is missing or wrong', ping);
    const status = this.deps.status();
    const promise = await this.deps.store.read();
    const primary =
      status.local?.want === 'primary' ||
      (status.observation.reachable && status.observation.inRecovery === false);
    const verdict = judgePing(ping, {
      cluster: this.deps.cluster,
      me: this.deps.me,
      primary,
      highestTerm: Math.max(status.snapshot?.leader?.term ?? 0, promise?.term ?? 0, status.local?.term ?? 0),
      ...(promise?.last[ping.from] ? { lastFromSender: promise.last[ping.from]! } : {}),
    });
    if (!verdict.accept) return refuse(verdict.status, verdict.reason, ping);
    const ttlMs = status.clusterConfig.ttl * 1000;
    const made = await this.deps.store.promise(ping.from, ping.term, ping.sent_at, ttlMs);
    this.deps.logger.info('failsafe ping accepted: promising not to be promoted', {
      from: ping.from,
      pingTerm: ping.term,
      untilMs: Math.round(made.until - machineMonotonicMs()),
    });
    return {
      status: 200,
      body: {
        accepted: true,
        name: this.deps.me,
        state: status.observation.reachable ? 'running' : 'stopped',
        role: status.observation.inRecovery === false ? 'primary' : 'replica',
        promise: {
          holder: made.holder,
          term: made.term,
          remaining_ms: Math.round(made.until - machineMonotonicMs()),
        },
      },
    };
  }
}
