import type { Logger } from '@aws-lambda-powertools/logger';
import type { AgentDecision, AgentEvent } from '../../core/agent/agent-decision.ts';

/** A warning the rules repeat (DynamoDB down, PostgreSQL down) is logged again this often. */
const REPEAT_WARNING_MS = 30_000;

/**
 * The agent's decisions in the log, once per change of rule or reason (warnings again every
 * 30 s), and the last cycle's decision for /patroni.
 */
export class DecisionLog {
  private said: { text: string; at: number } | undefined;
  private lastCycle: { rule: number; reason: string } | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly monotonic: () => number,
  ) {}

  /** The last cycle's final decision. */
  get last(): { rule: number; reason: string } | undefined {
    return this.lastCycle;
  }

  record(event: AgentEvent, decision: AgentDecision, term: number | undefined): void {
    if (decision.again) return;
    if (event === 'cycle') this.lastCycle = { rule: decision.rule, reason: decision.reason };
    const text = `${decision.rule} ${decision.reason}`;
    const now = this.monotonic();
    const loud = decision.level === 'warn' || decision.level === 'error';
    if (text === this.said?.text && !(loud && now - this.said.at >= REPEAT_WARNING_MS)) return;
    this.logger[decision.level](decision.reason, { rule: decision.rule, term });
    this.said = { text, at: now };
  }
}
