import { rm, writeFile } from 'node:fs/promises';
import { ActionRefusedError } from '../errors.ts';
import { type LocalState, ownLikeDirectory, writeLocalState } from '../state/local-state.ts';
import type { ActionContext } from './action-context.ts';

/**
 * Records the role PostgreSQL must come up in and has the daemon start it, then waits until
 * the postmaster runs (and, for a primary, accepts connections). Only the daemon starts PostgreSQL: an action runs in the SSM Agent's
 * control group, and a postmaster started there would not stop with the agent's unit
 * (docs/safety.md §5). The action keeps the host's lock meanwhile; the daemon starts PostgreSQL
 * on this request alone and does nothing else while the lock is held.
 */
export async function startByDaemon(
  ctx: ActionContext,
  state: Omit<LocalState, 'updated_at'>,
  timeoutMs: number,
): Promise<void> {
  const { rt } = ctx;
  await writeLocalState(rt.paths.localState, state);
  await writeFile(rt.paths.startRequest, `${process.pid} ${ctx.args.action}\n`, { mode: 0o600 });
  await ownLikeDirectory(rt.paths.startRequest);
  try {
    const deadline = Date.now() + timeoutMs;
    const up = async () => {
      if (!(await rt.postgres.postmasterPid())) return false;
      if (state.want !== 'primary') return true;
      const obs = await rt.observer.observe(Date.now());
      return obs.reachable && obs.inRecovery === false;
    };
    while (!(await up())) {
      if (Date.now() > deadline)
        throw new ActionRefusedError(
          ctx.args.action,
          `PostgreSQL was not started within ${timeoutMs} ms: the agent daemon starts it (is pgwarden-agent.service running?)`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await rm(rt.paths.startRequest, { force: true });
  }
}
