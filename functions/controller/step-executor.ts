import type { Logger } from '@aws-lambda-powertools/logger';
import type { ActionResult } from '../../core/actions/action-parameters.ts';
import type { ClusterConfig } from '../../core/config/cluster-config.ts';
import type { Step } from '../../core/decide/steps.ts';
import type { CommandOutcome, Op } from '../../core/model/items.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';
import type { CommandBus } from '../../core/ports/command-bus.ts';
import type { InstanceFencer } from '../../core/ports/instance-fencer.ts';
import type { Notifier } from '../../core/ports/notifier.ts';
import type { CoordinationStore } from '../../core/store/coordination-store.ts';
import { fenceMember } from './fence-member.ts';

export interface ExecutorDeps {
  readonly store: CoordinationStore;
  readonly bus: CommandBus;
  readonly fencer: InstanceFencer;
  readonly notifier: Notifier;
  readonly clock: () => number;
}

export interface StepFailure {
  readonly step: Step;
  readonly error: string;
}

/** The operation as stored after a step succeeded: the controller's completion time stamped in. */
function stamped(op: Op, now: number, patch: Partial<Op> = {}): Op {
  return { ...op, ...patch, step_started_at: now, timings: { ...op.timings, [op.step]: now } };
}

function outcomeOf(result: ActionResult, now: number): CommandOutcome {
  return {
    action: result.action,
    member: result.member,
    ok: result.ok,
    message: result.message.slice(0, 500),
    ...(result.lsn !== undefined ? { lsn: result.lsn } : {}),
    ...(result.timeline !== undefined ? { timeline: result.timeline } : {}),
    at: now,
  };
}

/**
 * Carries out the steps of one decision in order, stopping at the first failure (DESIGN §4).
 * Every write is conditional, so a step run twice (by a resumed or a second controller) is
 * harmless. A failed command counts against its operation (`attempts + 1`).
 */
export class StepExecutor {
  constructor(private readonly deps: ExecutorDeps) {}

  async execute(
    snapshot: ClusterSnapshot,
    steps: readonly Step[],
    config: ClusterConfig,
    logger: Logger,
  ): Promise<StepFailure | undefined> {
    for (const step of steps) {
      try {
        const ok = await this.run(snapshot, step, config, logger);
        if (!ok) return { step, error: 'the action reported failure' };
      } catch (error) {
        logger.warn('step failed', { step: step.kind, error: (error as Error).message });
        return { step, error: (error as Error).message };
      }
    }
    return undefined;
  }

  private async countFailure(cluster: string, op: Op | undefined, outcome: CommandOutcome): Promise<void> {
    if (!op) return;
    await this.deps.store
      .updateOp(cluster, { ...op, attempts: op.attempts + 1, last_result: outcome, version: op.version + 1 })
      .catch(() => undefined);
  }

  /** Logs a change of lease holder and records the operation's next step. */
  private async leaseMoved(
    cluster: string,
    what: string,
    step: { from?: string; to: string; term: number; onSuccess?: Op },
    logger: Logger,
  ): Promise<void> {
    logger.info(what, { member: step.to, from: step.from, to: step.to, term: step.term + 1 });
    if (step.onSuccess) await this.deps.store.updateOp(cluster, stamped(step.onSuccess, this.deps.clock()));
  }

  private async run(
    snapshot: ClusterSnapshot,
    step: Step,
    config: ClusterConfig,
    logger: Logger,
  ): Promise<boolean> {
    const { store, bus, fencer, notifier, clock } = this.deps;
    const cluster = snapshot.cluster;
    const instanceOf = (member: string) => snapshot.members.find((m) => m.name === member)?.instance_id;
    switch (step.kind) {
      case 'begin_op':
        await store.beginOp(cluster, step.op);
        return true;
      case 'update_op':
        await store.updateOp(cluster, step.op);
        return true;
      case 'end_op':
        if (step.history) await store.appendHistory(cluster, step.history);
        await store.endOp(cluster, step.op);
        return true;
      case 'take_over':
        await store.takeOverLease(cluster, {
          to: step.to,
          term: step.term,
          ...(step.rvn ? { rvn: step.rvn } : {}),
          ttl: config.ttl,
        });
        await this.leaseMoved(cluster, 'took the lease over', step, logger);
        return true;
      case 'hand_over':
        await store.handOverLease(cluster, {
          from: step.from,
          to: step.to,
          term: step.term,
          ttl: config.ttl,
          ...(step.sync ? { sync: step.sync } : {}),
        });
        await this.leaseMoved(cluster, 'handed the lease over', step, logger);
        return true;
      case 'record_sync':
        await store.recordSync(cluster, { holder: step.holder, term: step.term, standbys: step.standbys });
        return true;
      case 'command': {
        const instanceId = instanceOf(step.member);
        const result = await bus
          .run(
            { cluster, member: step.member, ...(instanceId ? { instanceId } : {}) },
            {
              action: step.action,
              term: step.term,
              ...(step.leader ? { leader: step.leader } : {}),
              ...(step.standbys ? { standbys: step.standbys } : {}),
            },
            config.command_timeout * 1000,
          )
          .catch(async (error: Error) => {
            await this.countFailure(cluster, step.countsFor, {
              action: step.action,
              member: step.member,
              ok: false,
              message: error.message,
              at: clock(),
            });
            throw error;
          });
        const outcome = outcomeOf(result, clock());
        logger.info(`command ${step.action} on ${step.member}`, {
          member: step.member,
          ok: result.ok,
          result: result.message,
          term: step.term,
        });
        if (!result.ok) {
          await this.countFailure(cluster, step.countsFor, outcome);
          return false;
        }
        if (step.onSuccess)
          await store.updateOp(cluster, stamped(step.onSuccess, clock(), { last_result: outcome }));
        return true;
      }
      case 'fence': {
        const fenced = await fenceMember(
          {
            cluster,
            member: step.member,
            ...(step.instanceId ? { instanceId: step.instanceId } : {}),
            term: step.term,
            mode: step.mode,
            timeoutMs: step.timeoutMs,
            stopTimeoutMs: config.command_timeout * 1000,
          },
          { bus, fencer },
        ).catch(async (error: Error) => {
          await this.countFailure(cluster, step.countsFor, {
            action: 'fence',
            member: step.member,
            ok: false,
            message: error.message,
            at: clock(),
          });
          throw error;
        });
        logger.info(`fenced ${step.member}`, { member: step.member, how: fenced.how, term: step.term });
        if (step.onSuccess)
          await store.updateOp(
            cluster,
            stamped(step.onSuccess, clock(), { fenced: { how: fenced.how, at: clock() } }),
          );
        return true;
      }
      case 'resolve_intent':
        await store.resolveIntent(cluster, step.id, { ok: step.ok, message: step.message, at: clock() });
        return true;
      case 'notify':
        await notifier
          .notify(step.event)
          .catch((error: Error) => logger.warn('notification failed', { error: error.message }));
        return true;
    }
  }
}
