import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { Command } from 'commander';
import { LocalCloudClient } from '../adapters/local/local-cloud.ts';
import { SsmCommandBus } from '../adapters/ssm/ssm-command-bus.ts';
import type { CliContext } from '../cli/cli-context.ts';
import { HeartbeatWatch, heartbeatAges } from '../cli/commands/heartbeat-watch.ts';
import { submitIntent } from '../cli/commands/switchover.ts';
import { CliError, EXIT } from '../cli/exit-codes.ts';
import { ACTION_PARAMETER_PATTERNS } from '../core/actions/action-parameters.ts';
import type { Member } from '../core/model/items.ts';
import { nextUpgradeStep } from '../core/operations/agent-upgrade.ts';
import type { CommandBus } from '../core/ports/command-bus.ts';
import { runCommand } from '../functions/controller/run-command.ts';
import { LOCAL_CLOUD_SOCKET } from './local-topology.ts';

interface UpgradeOptions {
  bundle: string;
  localDir?: string;
  document?: string;
  timeout: string;
  force?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SSM (AWS), or a local topology's hosts through its local cloud socket. */
function commandBus(ctx: CliContext, opts: UpgradeOptions): CommandBus {
  if (opts.localDir) return new LocalCloudClient(join(resolve(opts.localDir), LOCAL_CLOUD_SOCKET));
  const documentName = opts.document ?? process.env.PGWARDEN_DOCUMENT_NAME ?? 'Pgwarden-action';
  return new SsmCommandBus(new SSMClient({ region: ctx.region }), { documentName });
}

/**
 * `pgwarden upgrade-agent CLUSTER --bundle LOCATION`: ships another agent bundle to every host
 * through the command bus and restarts their agents one host at a time (core/operations/
 * agent-upgrade.ts decides each move); it waits while the cluster is not healthy and stops,
 * saying why, after --timeout.
 */
export function registerUpgradeAgent(program: Command, context: () => CliContext): void {
  program
    .command('upgrade-agent')
    .description(
      'rolling upgrade of the agents: replicas one at a time, then a switchover, then the old primary',
    )
    .argument('[cluster]', 'cluster name')
    .requiredOption('--bundle <location>', 'the new agent bundle: s3://bucket/key (AWS), or an absolute path')
    .option('--local-dir <dir>', "a local topology's hosts instead of SSM")
    .option('--document <name>', 'the SSM document (default: PGWARDEN_DOCUMENT_NAME, else Pgwarden-action)')
    .option(
      '--timeout <seconds>',
      'give up when the cluster stays unhealthy, or a host stays away, this long',
      '300',
    )
    .option('--force', 'do not ask for confirmation')
    .action(async (clusterArg: string | undefined, opts: UpgradeOptions) => {
      if (!new RegExp(ACTION_PARAMETER_PATTERNS.bundle).test(opts.bundle) || !opts.bundle)
        throw new CliError(
          `--bundle: got ${JSON.stringify(opts.bundle)}, expected s3://bucket/key or an absolute path`,
          EXIT.usage,
        );
      const timeoutMs = Number(opts.timeout) * 1000;
      if (!(timeoutMs > 0))
        throw new CliError(
          `--timeout: got ${JSON.stringify(opts.timeout)}, expected seconds > 0`,
          EXIT.usage,
        );
      const ctx = context();
      const cluster = ctx.cluster(clusterArg);
      if (!opts.force) {
        if (!ctx.interactive)
          throw new CliError(
            `upgrade of ${cluster}'s agents: add --force to confirm when not on a terminal`,
            EXIT.usage,
          );
        if (!(await ctx.confirm(`Upgrade every agent of ${cluster} to ${opts.bundle}, one host at a time?`)))
          throw new CliError('aborted', EXIT.refused);
      }
      await rollingUpgrade(ctx, cluster, commandBus(ctx, opts), opts.bundle, timeoutMs);
    });
}

export async function rollingUpgrade(
  ctx: CliContext,
  cluster: string,
  bus: CommandBus,
  bundle: string,
  timeoutMs: number,
): Promise<void> {
  const watch = new HeartbeatWatch();
  let version: string | undefined;
  let waitingSince: number | undefined;
  let said: string | undefined;
  const upgraded = (m: Member) => version !== undefined && m.versions.agent === version;
  for (;;) {
    const snapshot = await ctx.store.getSnapshot(cluster);
    const ages = heartbeatAges(snapshot, watch.look(snapshot));
    const step = nextUpgradeStep(snapshot, { fresh: (n) => ages.get(n)?.stale !== true, upgraded });
    if (step.kind === 'wait') {
      waitingSince ??= Date.now();
      if (step.reason !== said) ctx.out(`waiting: ${step.reason}`);
      said = step.reason;
      if (Date.now() - waitingSince > timeoutMs)
        throw new CliError(
          `stopped: ${step.reason} for ${timeoutMs / 1000} s; nothing more was changed (run it again to go on)`,
          EXIT.refused,
        );
      await sleep(1000);
      continue;
    }
    waitingSince = undefined;
    said = undefined;
    if (step.kind === 'done') {
      ctx.out(
        ctx.json ? JSON.stringify({ ok: true, cluster, version }) : `done: ${step.reason} (${version})`,
      );
      return;
    }
    if (step.kind === 'switchover') {
      ctx.out(`switchover: ${step.reason}`);
      await submitIntent(
        ctx,
        cluster,
        {
          id: randomUUID(),
          kind: 'switchover',
          from: snapshot.leader!.holder,
          to: step.to,
          requested_by: `${ctx.user} (upgrade-agent)`,
          requested_at: Date.now(),
        },
        timeoutMs,
        'Switchover',
      );
      continue;
    }
    const member = snapshot.members.find((m) => m.name === step.member)!;
    ctx.out(`${member.name}: installing ${bundle} (${step.reason})`);
    const target = {
      cluster,
      member: member.name,
      ...(member.instance_id ? { instanceId: member.instance_id } : {}),
    };
    const result = await runCommand(
      bus,
      target,
      { action: 'upgrade-agent', term: snapshot.leader!.term, bundle },
      timeoutMs,
    );
    if (!result.ok) throw new CliError(`${member.name}: ${result.message}`, EXIT.refused);
    version = result.version;
    ctx.out(`${member.name}: ${result.message}`);
    // Its heartbeat must say so before the next host: never two hosts at once.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = (await ctx.store.getSnapshot(cluster)).members.find((m) => m.name === member.name);
      if (now && upgraded(now)) break;
      if (Date.now() > deadline)
        throw new CliError(
          `stopped: ${member.name} does not report agent ${version} after ${timeoutMs / 1000} s`,
          EXIT.refused,
        );
      await sleep(500);
    }
  }
}
