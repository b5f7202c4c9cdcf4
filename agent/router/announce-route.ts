import type { RouteNotice } from '../../core/router/route-notice.ts';
import type { ActionContext } from '../actions/action-context.ts';
import { restapiAuthorization, restapiClientOptions } from '../health/restapi-tls.ts';
import { postToPeer } from '../peers/post-to-peer.ts';
import { signNotice } from './notice-signature.ts';

/** What the members' routers said to a notice: a line for the action's message and log. */
export interface AnnounceOutcome {
  readonly answered: readonly string[];
  readonly missing: readonly { readonly name: string; readonly why: string }[];
}

/**
 * Tells every member's router (this one's included) of a pause or a promotion (issue #17), all
 * at once, each bounded by `timeoutMs`. Never fails the action: a router that does not hear it
 * follows the lease at its agent's next cycle.
 */
export async function announceRoute(
  ctx: Pick<ActionContext, 'rt' | 'snapshot'>,
  notice: Omit<RouteNotice, 'cluster' | 'sent_at'>,
  timeoutMs: number,
): Promise<AnnounceOutcome> {
  const { rt, snapshot } = ctx;
  const secret = rt.config.failsafe.secret;
  if (!secret) return { answered: [], missing: [{ name: '*', why: 'no failsafe secret to sign with' }] };
  const full: RouteNotice = { ...notice, cluster: rt.config.scope, sent_at: Date.now() };
  const signature = signNotice(full, secret);
  const transport = {
    tls: restapiClientOptions(rt.config.restapi),
    authorization: restapiAuthorization(rt.config.restapi),
  };
  const outcomes = await Promise.all(
    snapshot.members.map(async (m) => {
      const answer = await postToPeer(m.api_url, '/router', full, signature, timeoutMs, transport);
      const why =
        answer.status === undefined
          ? answer.why
          : answer.status === 200
            ? undefined
            : `${answer.status}: ${answer.body.slice(0, 200)}`;
      return { name: m.name, why };
    }),
  );
  const outcome = {
    answered: outcomes.filter((o) => o.why === undefined).map((o) => o.name),
    missing: outcomes.flatMap((o) => (o.why === undefined ? [] : [{ name: o.name, why: o.why }])),
  };
  rt.logger.info(`route notice ${notice.kind} (${notice.member}, term ${notice.term})`, outcome);
  return outcome;
}
