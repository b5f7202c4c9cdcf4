import { rejoinTarget } from '../../lease/observe.ts';
import type { Member } from '../../model/items.ts';
import type { Rule, RuleContext } from '../context.ts';

/** Rejoin requests: who should follow the primary, what was asked of whom, and when again. */

/** How soon a rejoin that its member reports failed is asked again. */
const RETRY_AFTER_FAILURE_MS = 5_000;

/** Members that should stream from someone and do not: fenced, stopped, or on the wrong upstream. */
export function stragglers(ctx: RuleContext, leaderName: string, skip: readonly string[] = []): Member[] {
  return ctx.snapshot.members.filter((m) => {
    if (m.name === leaderName || skip.includes(m.name) || !ctx.isFresh(m.name)) return false;
    if (m.state === 'bootstrapping' || m.state === 'starting') return false;
    if (m.state === 'fenced' || m.state === 'stopped') return true;
    const upstream = m.tags.replicatefrom ?? leaderName;
    return m.role === 'replica' && m.state === 'running' && m.upstream !== upstream;
  });
}

/** The requests to remember for rejoin steps (what each was sent to follow, what it had reported). */
export function rejoinRequests(
  ctx: RuleContext,
  steps: readonly { member: string; leader: string; term: number }[],
) {
  return steps.map((s) => {
    const seen = ctx.member(s.member)?.last_action?.at;
    return {
      member: s.member,
      target: rejoinTarget(s.leader, s.term),
      ...(seen !== undefined ? { seen } : {}),
    };
  });
}

/**
 * A rejoin asked of `member` for `target` failed since: its heartbeat reports a failed rejoin
 * for that target that it had not reported when asked. The message, or undefined.
 */
function failedSince(ctx: RuleContext, member: string, target: string): string | undefined {
  const asked = ctx.observations.rejoinRequested[member];
  const last = ctx.member(member)?.last_action;
  if (!asked || !last || last.ok || last.action !== 'rejoin' || last.at === asked.seen) return undefined;
  if (rejoinTarget(last.leader ?? '', last.term) !== target) return undefined;
  return last.message ?? 'no message';
}

export function rejoinSteps(ctx: RuleContext, leaderName: string, term: number, members: readonly Member[]) {
  return members.map((m) => ({
    kind: 'command' as const,
    action: 'rejoin' as const,
    member: m.name,
    term,
    leader: m.tags.replicatefrom && ctx.isFresh(m.tags.replicatefrom) ? m.tags.replicatefrom : leaderName,
    wait: false as const,
  }));
}

/** Rule 230: the members that should stream and do not are asked to rejoin the primary. */
export const rejoinStragglersRule: Rule = {
  id: 230,
  state: 'idle',
  when: 'a fresh member is fenced, stopped or streams from the wrong upstream (not already asked, within command_timeout, to follow this primary at this term)',
  decide: (ctx) => {
    const leader = ctx.leader!;
    const holder = ctx.holder;
    if (!holder || holder.role !== 'primary' || holder.state !== 'running' || !ctx.isFresh(holder.name))
      return undefined;
    const steps = rejoinSteps(ctx, leader.holder, leader.term, stragglers(ctx, leader.holder));
    // A request is not repeated within command_timeout (it may run that long: a rewind, a
    // rebuild) unless the member reports that it failed: then after RETRY_AFTER_FAILURE_MS.
    // A rejoin that failed at once (its host cut from DynamoDB when asked, found by the fault
    // campaign, issue #18) used to leave the member out for the whole command_timeout.
    const failures = new Map<string, string>();
    const due = steps.filter((step) => {
      const asked = ctx.observations.rejoinRequested[step.member];
      const target = rejoinTarget(step.leader, step.term);
      if (asked?.target !== target) return true;
      const failed = failedSince(ctx, step.member, target);
      if (failed !== undefined && ctx.now - asked.at >= RETRY_AFTER_FAILURE_MS) {
        failures.set(step.member, failed);
        return true;
      }
      return ctx.now - asked.at >= ctx.config.command_timeout * 1000;
    });
    if (due.length === 0) return undefined;
    const member = (name: string) => ctx.member(name)!;
    const describe = (name: string) => {
      const failed = failures.get(name);
      return `${name} (${member(name).state}, upstream ${member(name).upstream ?? 'none'}${failed ? `; its rejoin failed: ${failed}` : ''})`;
    };
    return {
      reason: `asking ${due.map((s) => describe(s.member)).join(', ')} to rejoin ${leader.holder}`,
      steps: due,
      rejoinRequested: rejoinRequests(ctx, due),
    };
  },
};
