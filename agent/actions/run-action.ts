import type { ActionArgs, ActionResult } from '../../core/actions/action-parameters.ts';
import type { AgentAction } from '../../core/decide/steps.ts';
import { PgwardenError } from '../../core/errors.ts';
import { ActionRefusedError } from '../errors.ts';
import { type AgentRuntime, clusterConfigOf } from '../runtime.ts';
import { withActionLock } from '../state/action-lock.ts';
import { writeLastAction } from '../state/last-action.ts';
import { readLocalState } from '../state/local-state.ts';
import type { ActionHandler } from './action-context.ts';
import { demote } from './demote.ts';
import { fence } from './fence.ts';
import { promote } from './promote.ts';
import { reinit } from './reinit.ts';
import { rejoin } from './rejoin.ts';
import { reload } from './reload.ts';
import { restart } from './restart.ts';
import { setSync } from './set-sync.ts';
import { upgradeAgent } from './upgrade-agent.ts';

export const ACTION_HANDLERS: Readonly<Record<AgentAction, ActionHandler>> = {
  promote,
  demote,
  fence,
  rejoin,
  reinit,
  restart,
  reload,
  'set-sync': setSync,
  'upgrade-agent': upgradeAgent,
};

/**
 * Runs one action under the host's action lock and turns every outcome into one result (the
 * JSON line the command bus reads). Never throws.
 */
export async function runAction(rt: AgentRuntime, args: ActionArgs): Promise<ActionResult> {
  const base = { action: args.action, member: rt.config.name, term: args.term };
  try {
    if (args.cluster !== rt.config.scope) {
      throw new ActionRefusedError(
        args.action,
        `this agent serves cluster ${rt.config.scope}, not ${args.cluster}`,
      );
    }
    const outcome = await withActionLock(rt.paths.actionLock, args.action, 30_000, async () => {
      const snapshot = await rt.store.getSnapshot(rt.config.scope);
      const local = await readLocalState(rt.paths.localState);
      const cluster = clusterConfigOf(snapshot, rt.config);
      return ACTION_HANDLERS[args.action]({ rt, args, snapshot, cluster, local });
    });
    rt.logger.info(`action ${args.action} done`, { term: args.term, ...outcome });
    await record(rt, args, true, outcome.message);
    return { ok: true, ...base, ...outcome, changed: outcome.changed ?? false };
  } catch (error) {
    const code = error instanceof PgwardenError ? error.code : 'ACTION_FAILED';
    rt.logger.error(`action ${args.action} failed`, {
      term: args.term,
      code,
      error: (error as Error).message,
    });
    await record(rt, args, false, `${code}: ${(error as Error).message}`);
    return { ok: false, ...base, changed: false, code, message: (error as Error).message };
  } finally {
    rt.observer.close();
  }
}

/** The outcome for the daemon's next heartbeat (best effort: a state directory it cannot write is said). */
async function record(rt: AgentRuntime, args: ActionArgs, ok: boolean, message: string | undefined) {
  await writeLastAction(rt.paths.lastAction, {
    action: args.action,
    term: args.term,
    ...(args.leader ? { leader: args.leader } : {}),
    ok,
    ...(message ? { message: message.slice(0, 300) } : {}),
    at: Date.now(),
  }).catch((error) =>
    rt.logger.warn('could not record the outcome of the action', { error: (error as Error).message }),
  );
}
