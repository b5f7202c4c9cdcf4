import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { type ActionResult, parseActionOutput } from '../../core/actions/action-parameters.ts';
import { AGENT_COMMAND, renderActionCommand } from '../../core/actions/ssm-document.ts';
import { CommandDeliveryError } from '../../core/errors.ts';
import type { CommandBus, CommandRequest, CommandTarget } from '../../core/ports/command-bus.ts';
import { inHostNetwork, type LocalHostDirectory } from './local-hosts.ts';

/**
 * The environment SSM Run Command gives a command (the SSM Agent's service runs as root with
 * systemd's base environment; `aws:runShellScript` adds the instance and region).
 */
export function ssmCommandEnvironment(member: string, root?: string): Record<string, string> {
  // A local host's own programs (its `systemctl`) come first, as the real ones would on EC2.
  const own = root ? `${root}/usr/local/sbin:` : '';
  return {
    PATH: `${own}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    LANG: 'C.UTF-8',
    AWS_SSM_INSTANCE_ID: member,
    AWS_SSM_REGION_NAME: 'local',
  };
}

/** A command as the local "SSM" keeps it: running, or ended with its result or why not. */
interface LocalCommand {
  readonly member: string;
  readonly action: string;
  readonly term: number;
  readonly pid: number | undefined;
  outcome?: { readonly result: ActionResult } | { readonly error: CommandDeliveryError };
  endedAt?: number;
}

/** How long an ended command's result can still be read (SSM keeps them for 30 days). */
const KEEP_RESULTS_MS = 15 * 60_000;

/**
 * The local stand-in for SSM Run Command: renders the `pgwarden-action` document's own command
 * line with the parameters (checked against the document's patterns) and runs it as SSM does:
 * as root (this process's user), with SSM's environment, the command's path resolved under the
 * host's root, without a shell, for at most its timeout. A command outlives whoever sent it; its
 * result is read by id. A host that is down takes no commands.
 */
export class LocalCommandBus implements CommandBus {
  private readonly commands = new Map<string, LocalCommand>();

  constructor(private readonly hosts: LocalHostDirectory) {}

  async send(target: CommandTarget, request: CommandRequest, timeoutMs: number): Promise<string> {
    const host = this.hosts.host(target.member);
    if (!host) throw new CommandDeliveryError(target.member, 'no such local host');
    if (!host.isUp()) throw new CommandDeliveryError(target.member, 'the host is down');
    if (host.isReachable?.() === false)
      throw new CommandDeliveryError(target.member, 'the host is unreachable (its network is cut off)');
    const argv = renderActionCommand({
      action: request.action,
      cluster: target.cluster,
      term: String(request.term),
      leader: request.leader ?? '',
      standbys: request.standbys?.join(',') ?? '',
      bundle: request.bundle ?? '',
    });
    if (argv[0] !== AGENT_COMMAND) throw new Error(`unexpected document command ${argv[0]}`);
    this.forgetOld();
    const id = randomUUID();
    const [program, ...args] = inHostNetwork(host.netns, [join(host.root, AGENT_COMMAND), ...argv.slice(1)]);
    const child = spawn(program!, args, {
      cwd: '/',
      env: ssmCommandEnvironment(target.member, host.root),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const command: LocalCommand = {
      member: target.member,
      action: request.action,
      term: request.term,
      pid: child.pid,
    };
    this.commands.set(id, command);
    const end = (outcome: NonNullable<LocalCommand['outcome']>) => {
      command.outcome ??= outcome;
      command.endedAt ??= Date.now();
    };
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-2000);
    });
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      end({ error: new CommandDeliveryError(target.member, error.message) });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      try {
        end({ result: parseActionOutput(target.member, out) });
      } catch (error) {
        end({
          error: signal
            ? new CommandDeliveryError(target.member, `timed out after ${timeoutMs} ms`)
            : new CommandDeliveryError(target.member, `exit ${code}, no result: ${err.trim().slice(-300)}`, {
                cause: error,
              }),
        });
      }
    });
    return id;
  }

  async result(target: CommandTarget, commandId: string): Promise<ActionResult | undefined> {
    const command = this.commands.get(commandId);
    if (!command || command.member !== target.member)
      throw new CommandDeliveryError(target.member, `no command ${commandId} for this host`);
    if (!command.outcome) return undefined;
    if ('error' in command.outcome) throw command.outcome.error;
    return command.outcome.result;
  }

  /** The results of the commands that ended (kept for 15 minutes), in the order they were sent. */
  results(): ActionResult[] {
    return [...this.commands.values()].flatMap((c) =>
      c.outcome && 'result' in c.outcome ? [c.outcome.result] : [],
    );
  }

  /** PIDs of commands still running on `member` (a forced stop kills them with the host). */
  runningOn(member: string): number[] {
    return [...this.commands.values()]
      .filter((c) => c.member === member && !c.outcome && c.pid !== undefined)
      .map((c) => c.pid!);
  }

  private forgetOld(): void {
    const before = Date.now() - KEEP_RESULTS_MS;
    for (const [id, c] of this.commands)
      if (c.endedAt !== undefined && c.endedAt < before) this.commands.delete(id);
  }
}
