import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { storedClusterConfig } from '../../core/config/cluster-config.ts';
import { receivedLsn } from '../../core/decide/candidates.ts';
import { decide } from '../../core/decide/decide.ts';
import type { Decision } from '../../core/decide/steps.ts';
import { ConditionFailedError } from '../../core/errors.ts';
import { observeCluster } from '../../core/lease/observe.ts';
import type { Observer } from '../../core/model/items.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';
import { type ExecutorDeps, StepExecutor } from './step-executor.ts';

export interface ControllerDeps extends ExecutorDeps {
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Clusters evaluated at once. */
  readonly concurrency?: number;
  /** Clusters kept whether or not the registry lists them (the stack's). */
  readonly clusters?: readonly string[];
}

/** What one evaluation of one cluster concluded. */
export interface Evaluation {
  readonly cluster: string;
  readonly decision: Decision;
  readonly failure?: string;
}

/** The rule that fails over nobody because the primary is in failsafe (DESIGN §3). */
const FAILSAFE_RULE = 155;

/** Rules that mean "all is well": logged at debug, not info, every tick. */
const QUIET_RULES = new Set([290, 140, 120, 450]);

/** Bytes the most lagging running replica is behind the leader's last known LSN. */
function worstReplicaLag(snapshot: ClusterSnapshot): number | undefined {
  const leader = snapshot.leader;
  if (!leader) return undefined;
  const lags = snapshot.members
    .filter((m) => m.role === 'replica' && m.state === 'running')
    .map((m) => receivedLsn(m))
    .filter((lsn): lsn is number => lsn !== null)
    .map((lsn) => Math.max(0, leader.lsn - lsn));
  return lags.length > 0 ? Math.max(...lags) : undefined;
}

/** The observer after a decision: its notice key, the refusal in force, rejoin requests. */
/** Evaluations of one cluster within one tick while its operation keeps moving on. */
const MAX_STEPS_PER_TICK = 6;

export function rememberDecision(observer: Observer, decision: Decision, now: number): Observer {
  const notice = decision.notice === null ? undefined : (decision.notice ?? observer.notice);
  const rejoin = { ...observer.rejoin_requested };
  for (const { member, target, seen } of decision.rejoinRequested ?? [])
    rejoin[member] = { at: now, target, ...(seen !== undefined ? { seen } : {}) };
  const refused = decision.steps.find((s) => s.kind === 'notify' && s.event.type === 'failover_refused');
  let refusal = observer.refusal;
  if (refused?.kind === 'notify') refusal = { message: refused.event.message, since: now };
  else if (decision.notice === null || (decision.notice !== undefined && decision.notice !== observer.notice))
    refusal = undefined;
  const { notice: _old, refusal: _refusal, ...rest } = observer;
  return {
    ...rest,
    ...(notice ? { notice } : {}),
    ...(refusal ? { refusal } : {}),
    rejoin_requested: rejoin,
  };
}

/**
 * The single brain (DESIGN §4, §6): for every registered cluster, one consistent snapshot,
 * observations updated, `decide()`, and the steps carried out. A cluster whose previous
 * evaluation is still running (a long command) is skipped this tick, not queued.
 */
export class Controller {
  private readonly executor: StepExecutor;
  private readonly inFlight = new Map<string, Promise<Evaluation | undefined>>();

  constructor(private readonly deps: ControllerDeps) {
    this.executor = new StepExecutor(deps);
  }

  /**
   * Starts an evaluation of every registered cluster not already being evaluated; waits for
   * them. No step waits past `deadlineMs` (the invocation's end, DESIGN §6).
   */
  async tick(deadlineMs = Number.POSITIVE_INFINITY): Promise<Evaluation[]> {
    let clusters: string[];
    const known = this.deps.clusters ?? [];
    try {
      clusters = [...new Set([...known, ...(await this.deps.store.listClusters())])];
    } catch (error) {
      this.deps.logger.error('cannot list clusters', { error: (error as Error).message });
      if (known.length === 0) return [];
      clusters = [...known];
    }
    const started: Promise<Evaluation | undefined>[] = [];
    const limit = this.deps.concurrency ?? 16;
    for (const cluster of clusters) {
      if (this.inFlight.has(cluster)) continue;
      while (this.inFlight.size >= limit) await Promise.race(this.inFlight.values());
      const evaluation = this.evaluate(cluster, deadlineMs).finally(() => this.inFlight.delete(cluster));
      this.inFlight.set(cluster, evaluation);
      started.push(evaluation);
    }
    const results = (await Promise.all(started)).filter((e): e is Evaluation => e !== undefined);
    if (this.deps.metrics?.hasStoredMetrics()) this.deps.metrics.publishStoredMetrics();
    return results;
  }

  /** Waits for evaluations still running (end of an invocation). */
  async drain(): Promise<void> {
    await Promise.allSettled(this.inFlight.values());
  }

  async evaluate(cluster: string, deadlineMs = Number.POSITIVE_INFINITY): Promise<Evaluation | undefined> {
    const logger = this.deps.logger.createChild({ persistentKeys: { cluster } });
    // One EMF document per value: clusters are evaluated concurrently, so dimensions are never shared.
    const metric = (
      name: string,
      value = 1,
      unit: (typeof MetricUnit)[keyof typeof MetricUnit] = MetricUnit.Count,
    ) => {
      const single = this.deps.metrics?.singleMetric();
      single?.addDimension('cluster', cluster);
      single?.addMetric(name, unit, value);
    };
    try {
      // An operation that moved on is evaluated again at once: its next step (fence after the
      // take-over, promote after the fence...) does not wait for the next tick.
      let evaluation = await this.evaluateOnce(cluster, logger, metric, deadlineMs);
      for (let i = 1; i < MAX_STEPS_PER_TICK && evaluation.advanced && this.deps.clock() < deadlineMs; i += 1)
        evaluation = await this.evaluateOnce(cluster, logger, metric, deadlineMs);
      const { decision, failure } = evaluation;
      return { cluster, decision, ...(failure ? { failure: failure.error } : {}) };
    } catch (error) {
      logger.error('evaluation failed', { error: (error as Error).message });
      metric('EvaluationFailed');
      return undefined;
    }
  }

  /**
   * Logs and notifies each malformed item once per distinct problem (not every tick); returns the
   * problems now in force, for the observer item. A fixed item is forgotten; a new problem is said.
   */
  private async reportMalformed(snapshot: ClusterSnapshot, logger: Logger): Promise<string[]> {
    const said = new Set(snapshot.observer?.malformed_reported ?? []);
    const problems: string[] = [];
    for (const bad of snapshot.malformed) {
      const problem = `${bad.sk}: ${bad.detail}`;
      problems.push(problem);
      if (said.has(problem)) continue;
      const message = `item ${bad.sk} of cluster ${snapshot.cluster} is malformed and left out until it is fixed: ${bad.detail}`;
      logger.error('malformed item skipped', { key: `${bad.pk}/${bad.sk}`, error: bad.detail });
      await this.deps.notifier
        .notify({ type: 'malformed_item', cluster: snapshot.cluster, message })
        .catch((error: Error) => logger.warn('notification failed', { error: error.message }));
    }
    return problems.sort();
  }

  /** One snapshot, one decision, its steps carried out; `advanced`: the operation moved on. */
  private async evaluateOnce(
    cluster: string,
    logger: Logger,
    metric: (name: string, value?: number, unit?: (typeof MetricUnit)[keyof typeof MetricUnit]) => void,
    deadlineMs: number,
  ) {
    const snapshot = await this.deps.store.getSnapshot(cluster);
    const malformed = await this.reportMalformed(snapshot, logger);
    if (snapshot.malformed.length > 0) metric('MalformedItems', snapshot.malformed.length);
    const { config, valid } = storedClusterConfig(snapshot.config?.data);
    const lag = worstReplicaLag(snapshot);
    if (lag !== undefined) metric('MaxReplicaLagBytes', lag, MetricUnit.Bytes);
    const now = this.deps.clock();
    const { observer, observations } = observeCluster(snapshot, config, now);
    const decision = decide(snapshot, observations, config, now, { configValid: valid });
    const term = snapshot.leader?.term;
    (QUIET_RULES.has(decision.rule) ? logger.debug : logger.info).call(logger, decision.reason, {
      rule: decision.rule,
      term,
      steps: decision.steps.map((s) => s.kind),
    });
    const remembered = { ...rememberDecision(observer, decision, now), malformed_reported: malformed };
    await this.deps.store.putObserver(cluster, remembered).catch((error) => {
      if (!(error instanceof ConditionFailedError)) throw error;
      logger.debug('observer written by another controller meanwhile');
    });
    const failure = await this.executor.execute(
      snapshot,
      decision.steps,
      config,
      logger.createChild({ persistentKeys: { rule: decision.rule, term } }),
      deadlineMs,
    );
    if (decision.steps.some((s) => s.kind === 'notify' && s.event.type === 'primary_changed'))
      metric('PrimaryChanged');
    if (decision.steps.some((s) => s.kind === 'notify' && s.event.type === 'failover_refused'))
      metric('FailoverRefused');
    if (decision.rule === FAILSAFE_RULE) metric('FailsafeActive');
    if (failure && !failure.deferred) metric('StepFailed');
    const advanced =
      !failure &&
      decision.steps.some(
        (s) =>
          s.kind === 'begin_op' || s.kind === 'update_op' || ('onSuccess' in s && s.onSuccess !== undefined),
      );
    return { decision, failure, advanced };
  }
}
