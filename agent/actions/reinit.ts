import { ActionRefusedError } from '../errors.ts';
import { type ActionHandler, upstreamOf } from './action-context.ts';
import { rebuildFrom } from './rejoin.ts';

/** Rebuilds this replica from scratch (create_replica_methods) to stream from the leader (or --leader). */
export const reinit: ActionHandler = async (ctx) => {
  const { rt, args } = ctx;
  const leader = await rt.store.getLeader(rt.config.scope);
  if (!leader) throw new ActionRefusedError('reinit', 'there is no leader to clone from');
  if (leader.holder === rt.config.name) throw new ActionRefusedError('reinit', 'this member is the leader');
  const upstream = upstreamOf(ctx, args.leader ?? rt.config.tags.replicatefrom ?? leader.holder);
  const method = await rebuildFrom(ctx, upstream, {
    want: 'replica',
    term: Math.max(args.term, leader.term),
    upstream: upstream.name,
    sync_standbys: [],
    updated_by: 'action:reinit',
  });
  return { changed: true, message: `rebuilt (${method}); streaming from ${upstream.name}` };
};
