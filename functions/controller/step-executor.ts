import type { Logger } from '@aws-lambda-powertools/logger';
import type { ActionResult } from '../../core/actions/action-parameters.ts';
import type { ClusterConfig } from '../../core/config/cluster-config.ts';
import type { Step } from '../../core/decide/steps.ts';
import {
  CommandDeliveryError,
  DeadlineReachedError,
  PromiseHeldError,
  StepDeferredError,
} from '../../core/errors.ts';
import type { CommandOutcome, Op, OpCommand } from '../../core/model/items.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';
import type { CommandBus } from '../../core/ports/command-bus.ts';
import type { InstanceFencer } from '../../core/ports/instance-fencer.ts';
import type { Notifier } from '../../core/ports/notifier.ts';
import type { CoordinationStore } from '../../core/store/coordination-store.ts';
import { fenceMember } from './fence-member.ts';
import { awaitCommand } from './run-command.ts';

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
  /** The invocation ended first: nothing failed, the next invocation resumes the step. */
  readonly deferred?: boolean;
}

/** The command `op`'s current step already sent for this step, if it may still be running. */
function sentBefore(
  op: Op | undefined,
  step: { action: string; member: string; term: number },
  now: number,
  timeoutMs: number,
): OpCommand | undefined {
  const c = op?.command;
  if (
    !c ||
    c.step !== op.step ||
    c.action !== step.action ||
    c.member !== step.member ||
    c.term !== step.term
  )
    return undefined;
  return now - c.sent_at < timeoutMs ? c : undefined;
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
 * harmless. A failed command counts against its operation (`attempts + 1`). No wait goes past
 * `deadlineMs` (DESIGN §6): a command still running then is left to the next invocation, which
 * reads its result through the id the op item records.
 */
export class StepExecutor {
  constructor(private readonly deps: ExecutorDeps) {}

  async execute(
    snapshot: ClusterSnapshot,
    steps: readonly Step[],
    config: ClusterConfig,
    logger: Logger,
    deadlineMs = Number.POSITIVE_INFINITY,
  ): Promise<StepFailure | undefined> {
    for (const step of steps) {
      try {
        const ok = await this.run(snapshot, step, config, logger, deadlineMs);
        if (!ok) return { step, error: 'the action reported failure' };
      } catch (error) {
        if (error instanceof StepDeferredError) {
          logger.info(error.message, { step: step.kind });
          return { step, error: error.message, deferred: true };
        }
        logger.warn('step failed', { step: step.kind, error: (error as Error).message });
        return { step, error: (error as Error).message };
      }
    }
    return undefined;
  }

  /** One more failed attempt; the command that failed is forgotten, so the retry sends anew. */
  private async countFailure(cluster: string, op: Op | undefined, outcome: CommandOutcome): Promise<void> {
    if (!op) return;
    const { command: _failed, ...rest } = op;
    await this.deps.store
      .updateOp(cluster, {
        ...rest,
        attempts: op.attempts + 1,
        last_result: outcome,
        version: op.version + 1,
      })
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
    deadlineMs: number,
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
        const target = { cluster, member: step.member, ...(instanceId ? { instanceId } : {}) };
        const timeoutMs = config.command_timeout * 1000;
        const op = step.countsFor;
        if (step.wait === false) {
          // Not waited for, so not in the way either: a send that fails is logged and the next
          // steps go on (the next evaluation asks again while the member still needs it).
          const id = await bus
            .send(
              target,
              { action: step.action, term: step.term, ...(step.leader ? { leader: step.leader } : {}) },
              timeoutMs,
            )
            .catch((error: Error) => {
              logger.warn(`could not send ${step.action} to ${step.member}; going on`, {
                member: step.member,
                error: error.message,
              });
              return undefined;
            });
          if (id === undefined) return true;
          logger.info(`sent ${step.action} to ${step.member} (not waited for)`, {
            member: step.member,
            command: id,
            term: step.term,
          });
          return true;
        }
        const result = await (async () => {
          const prior = sentBefore(op, step, clock(), timeoutMs);
          let sent = prior;
          if (!sent) {
            const id = await bus.send(
              target,
              {
                action: step.action,
                term: step.term,
                ...(step.leader ? { leader: step.leader } : {}),
                ...(step.standbys ? { standbys: step.standbys } : {}),
              },
              timeoutMs,
            );
            sent = {
              id,
              step: op?.step ?? '',
              action: step.action,
              member: step.member,
              term: step.term,
              sent_at: clock(),
            };
            if (op) await store.recordOpCommand(cluster, op, sent).catch(() => undefined);
          } else
            logger.info(`reading the result of ${step.action} sent to ${step.member} earlier`, {
              command: sent.id,
            });
          const until = sent.sent_at + timeoutMs;
          const answer = await awaitCommand(bus, target, sent.id, Math.min(until, deadlineMs), { clock });
          if (answer) return answer;
          if (deadlineMs < until)
            throw new DeadlineReachedError(`${step.action} on ${step.member} still runs`);
          throw new CommandDeliveryError(
            step.member,
            `command ${sent.id} did not finish within ${timeoutMs} ms`,
          );
        })().catch(async (error: Error) => {
          if (error instanceof StepDeferredError) throw error;
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
        if (!result.ok && result.code === 'FAILSAFE_PROMISE') {
          // Asked again later, by a new command: this one's answer will not change.
          if (op) await store.recordOpCommand(cluster, op, null).catch(() => undefined);
          throw new PromiseHeldError(result.message);
        }
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
            deadlineMs,
          },
          { bus, fencer, clock },
        ).catch(async (error: Error) => {
          if (error instanceof StepDeferredError) throw error;
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
