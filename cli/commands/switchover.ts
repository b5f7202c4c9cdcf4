import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { ConditionFailedError } from '../../core/errors.ts';
import type { Intent } from '../../core/model/items.ts';
import type { CliContext } from '../cli-context.ts';
import { CliError, EXIT } from '../exit-codes.ts';

export interface IntentOptions {
  readonly leader?: string;
  /** Patroni 4's spelling of --leader. */
  readonly primary?: string;
  readonly candidate?: string;
  readonly scheduled?: string;
  readonly force?: boolean;
  readonly waitTimeout: string;
}

export function parseScheduled(value: string | undefined, now: number): number | undefined {
  if (value === undefined || value === 'now') return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at) || !/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)) {
    throw new CliError(
      `--scheduled: got ${JSON.stringify(value)}, expected an ISO 8601 time like 2026-11-22T03:00:00Z, or now`,
      EXIT.usage,
    );
  }
  if (at <= now) throw new CliError(`--scheduled: ${value} is in the past`, EXIT.usage);
  return at;
}

/** Writes the intent (refusing when one is pending) and, unless scheduled, waits for its outcome. */
export async function submitIntent(
  ctx: CliContext,
  cluster: string,
  intent: Intent,
  waitMs: number,
  what: string,
): Promise<void> {
  try {
    await ctx.store.putIntent(cluster, intent, { onlyIfAbsent: true });
  } catch (error) {
    if (error instanceof ConditionFailedError) {
      const pending = (await ctx.store.getSnapshot(cluster)).intent;
      throw new CliError(
        `another request is pending: ${pending?.kind} ${pending?.to ?? ''} by ${pending?.requested_by} (wait for it, or cancel it: pgwarden flush ${cluster} ${pending?.kind})`,
        EXIT.conflict,
      );
    }
    throw error;
  }
  if (intent.scheduled_at) {
    ctx.out(
      ctx.json
        ? JSON.stringify({
            ok: true,
            scheduled_at: new Date(intent.scheduled_at).toISOString(),
            id: intent.id,
          })
        : `${what} scheduled at ${new Date(intent.scheduled_at).toISOString()}`,
    );
    return;
  }
  const deadline = Date.now() + waitMs;
  for (;;) {
    const current = (await ctx.store.getSnapshot(cluster)).intent;
    if (current?.id === intent.id && current.outcome) {
      ctx.out(
        ctx.json
          ? JSON.stringify({ ok: current.outcome.ok, message: current.outcome.message })
          : current.outcome.message,
      );
      if (!current.outcome.ok) throw new CliError('', EXIT.refused);
      return;
    }
    if (current?.id !== intent.id)
      throw new CliError(`the ${what.toLowerCase()} request was replaced by another one`, EXIT.conflict);
    if (Date.now() > deadline) {
      throw new CliError(
        `no outcome after ${waitMs / 1000} s: is the controller running? (the request stays pending)`,
        EXIT.refused,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function planAndSubmit(
  ctx: CliContext,
  clusterArg: string | undefined,
  kind: 'switchover' | 'failover',
  opts: IntentOptions,
): Promise<void> {
  const cluster = ctx.cluster(clusterArg);
  if (opts.primary && opts.leader && opts.primary !== opts.leader)
    throw new CliError(`--primary ${opts.primary} and --leader ${opts.leader}: name one leader`, EXIT.usage);
  opts = { ...opts, leader: opts.leader ?? opts.primary };
  const snapshot = await ctx.store.getSnapshot(cluster);
  const leader = snapshot.leader;
  const names = snapshot.members.map((m) => m.name);
  if (opts.leader && leader && opts.leader !== leader.holder) {
    throw new CliError(
      `--leader: ${opts.leader} is not the leader of ${cluster} (${leader.holder} is)`,
      EXIT.refused,
    );
  }
  if (opts.candidate && !names.includes(opts.candidate)) {
    throw new CliError(
      `--candidate: ${opts.candidate} is not a member of ${cluster} (members: ${names.join(', ')})`,
      EXIT.usage,
    );
  }
  if (opts.candidate && opts.candidate === leader?.holder)
    throw new CliError(`--candidate: ${opts.candidate} is already the leader`, EXIT.refused);
  if (kind === 'switchover' && !leader)
    throw new CliError(`${cluster} has no leader: use failover --candidate`, EXIT.refused);
  const now = Date.now();
  const scheduledAt = parseScheduled(opts.scheduled, now);
  const what = kind === 'switchover' ? 'Switchover' : 'Failover';
  const plan = `${what} of ${cluster}: ${leader?.holder ?? '(no leader)'} -> ${opts.candidate ?? 'the best candidate'}${scheduledAt ? ` at ${new Date(scheduledAt).toISOString()}` : ''}`;
  if (!opts.force) {
    if (!ctx.interactive)
      throw new CliError(`${plan}: add --force to confirm when not on a terminal`, EXIT.usage);
    if (!(await ctx.confirm(`${plan}. Are you sure?`))) throw new CliError('aborted', EXIT.refused);
  }
  const intent: Intent = {
    id: randomUUID(),
    kind,
    ...(leader ? { from: opts.leader ?? leader.holder } : {}),
    ...(opts.candidate ? { to: opts.candidate } : {}),
    ...(scheduledAt ? { scheduled_at: scheduledAt } : {}),
    requested_by: ctx.user,
    requested_at: now,
  };
  await submitIntent(ctx, cluster, intent, Number(opts.waitTimeout) * 1000, what);
}

export function registerSwitchover(program: Command, context: () => CliContext): void {
  program
    .command('switchover')
    .description(
      'planned change of primary: clean stop, catch-up, hand-over, promote (no acknowledged write lost)',
    )
    .argument('[cluster]', 'cluster name')
    .option('--leader <name>', 'the current leader (checked)')
    .option('--primary <name>', "Patroni 4's spelling of --leader")
    .option('--candidate <name>', 'the member to promote (default: the best one)')
    .option('--scheduled <time>', 'ISO 8601 time to do it at, or now')
    .option('--force', 'do not ask for confirmation')
    .option('--wait-timeout <seconds>', 'how long to wait for the outcome', '120')
    .action((clusterArg: string | undefined, opts: IntentOptions) =>
      planAndSubmit(context(), clusterArg, 'switchover', opts),
    );
  program
    .command('failover')
    .description('promote a named member now: a switchover when the leader is healthy, else a failover to it')
    .argument('[cluster]', 'cluster name')
    .option(
      '--candidate <name>',
      'the member to promote (default: the best one, as the controller ranks them)',
    )
    .option('--force', 'do not ask for confirmation')
    .option('--wait-timeout <seconds>', 'how long to wait for the outcome', '120')
    .action((clusterArg: string | undefined, opts: IntentOptions) =>
      planAndSubmit(context(), clusterArg, 'failover', opts),
    );
}
