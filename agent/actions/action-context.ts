import type { ActionArgs, ActionResult } from '../../core/actions/action-parameters.ts';
import type { ClusterConfig } from '../../core/config/cluster-config.ts';
import type { Leader } from '../../core/model/items.ts';
import type { ClusterSnapshot } from '../../core/model/snapshot.ts';
import { memberEndpoint } from '../daemon/build-member.ts';
import { ActionRefusedError } from '../errors.ts';
import type { UpstreamEndpoint } from '../postgres/start-as.ts';
import type { AgentRuntime } from '../runtime.ts';
import type { LocalState } from '../state/local-state.ts';

/** What every action gets: the runtime, its validated arguments and a fresh view of the cluster. */
export interface ActionContext {
  readonly rt: AgentRuntime;
  readonly args: ActionArgs;
  readonly snapshot: ClusterSnapshot;
  readonly cluster: ClusterConfig;
  readonly local: LocalState | undefined;
}

export type ActionHandler = (
  ctx: ActionContext,
) => Promise<Omit<ActionResult, 'action' | 'member' | 'term' | 'ok'>>;

/** Refuses unless the leader item (consistent read) names this member at the action's term. */
export async function requireLease(ctx: ActionContext): Promise<Leader> {
  const leader = await ctx.rt.store.getLeader(ctx.rt.config.scope);
  const me = ctx.rt.config.name;
  if (!leader) throw new ActionRefusedError(ctx.args.action, 'there is no leader item');
  if (leader.holder !== me || leader.term !== ctx.args.term || leader.released) {
    throw new ActionRefusedError(
      ctx.args.action,
      `the lease is held by ${leader.holder} at term ${leader.term}${leader.released ? ' (released)' : ''}, not by ${me} at term ${ctx.args.term}`,
    );
  }
  return leader;
}

/** The member to follow, with its PostgreSQL address, from the snapshot. */
export function upstreamOf(ctx: ActionContext, name: string): UpstreamEndpoint {
  const member = ctx.snapshot.members.find((m) => m.name === name);
  if (!member)
    throw new ActionRefusedError(ctx.args.action, `${name} is not a member of ${ctx.rt.config.scope}`);
  if (name === ctx.rt.config.name)
    throw new ActionRefusedError(ctx.args.action, 'a member cannot follow itself');
  return { name, ...memberEndpoint(member) };
}
