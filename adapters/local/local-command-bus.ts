import { spawn } from 'node:child_process';
import { type ActionResult, parseActionOutput } from '../../core/actions/action-parameters.ts';
import { AGENT_COMMAND, renderActionCommand } from '../../core/actions/ssm-document.ts';
import { CommandDeliveryError } from '../../core/errors.ts';
import type { CommandBus, CommandRequest, CommandTarget } from '../../core/ports/command-bus.ts';
import type { LocalHostDirectory } from './local-hosts.ts';

/**
 * The local stand-in for SSM Run Command: renders the `pgwarden-action` document's own command
 * line with the parameters (checked against the document's patterns) and runs it, without a
 * shell, for the named local host. A host that is down takes no commands.
 */
export class LocalCommandBus implements CommandBus {
  constructor(private readonly hosts: LocalHostDirectory) {}

  run(target: CommandTarget, request: CommandRequest, timeoutMs: number): Promise<ActionResult> {
    const host = this.hosts.host(target.member);
    if (!host) return Promise.reject(new CommandDeliveryError(target.member, 'no such local host'));
    if (!host.isUp()) return Promise.reject(new CommandDeliveryError(target.member, 'the host is down'));
    const argv = renderActionCommand({
      action: request.action,
      cluster: target.cluster,
      term: String(request.term),
      leader: request.leader ?? '',
      standbys: request.standbys?.join(',') ?? '',
    });
    if (argv[0] !== AGENT_COMMAND) throw new Error(`unexpected document command ${argv[0]}`);
    const [program, ...prefix] = host.agentCommand;
    return new Promise((resolve, reject) => {
      const child = spawn(program!, [...prefix, ...argv.slice(1)], {
        env: { ...process.env, ...host.env, PGWARDEN_CONFIG: host.configPath },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
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
        reject(new CommandDeliveryError(target.member, error.message));
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        try {
          resolve(parseActionOutput(target.member, out));
        } catch (error) {
          reject(
            signal
              ? new CommandDeliveryError(target.member, `timed out after ${timeoutMs} ms`)
              : new CommandDeliveryError(
                  target.member,
                  `exit ${code}, no result: ${err.trim().slice(-300)}`,
                  { cause: error },
                ),
          );
        }
      });
    });
  }
}
