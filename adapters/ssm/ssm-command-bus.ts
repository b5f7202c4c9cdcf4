import { GetCommandInvocationCommand, SendCommandCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { type ActionResult, parseActionOutput } from '../../core/actions/action-parameters.ts';
import { ACTION_DOCUMENT_NAME } from '../../core/actions/ssm-document.ts';
import { CommandDeliveryError } from '../../core/errors.ts';
import type { CommandBus, CommandRequest, CommandTarget } from '../../core/ports/command-bus.ts';

const TERMINAL = new Set([
  'Success',
  'Failed',
  'Cancelled',
  'TimedOut',
  'Cancelling',
  'DeliveryTimedOut',
  'ExecutionTimedOut',
  'Undeliverable',
  'Terminated',
  'InvalidPlatform',
  'AccessDenied',
]);

export interface SsmCommandBusOptions {
  readonly documentName?: string;
  /** CloudWatch log group for command output (optional). */
  readonly outputLogGroup?: string;
}

/**
 * The command bus over SSM Run Command: SendCommand of the `pgwarden-action` document to the
 * member's instance; GetCommandInvocation reads its result (InvocationDoesNotExist right after
 * sending is normal: the command is still being delivered).
 */
export class SsmCommandBus implements CommandBus {
  constructor(
    private readonly ssm: SSMClient,
    private readonly options: SsmCommandBusOptions = {},
  ) {}

  async send(target: CommandTarget, request: CommandRequest, timeoutMs: number): Promise<string> {
    if (!target.instanceId)
      throw new CommandDeliveryError(target.member, 'its heartbeat names no EC2 instance id');
    let commandId: string | undefined;
    try {
      const sent = await this.ssm.send(
        new SendCommandCommand({
          DocumentName: this.options.documentName ?? ACTION_DOCUMENT_NAME,
          InstanceIds: [target.instanceId],
          Parameters: {
            action: [request.action],
            cluster: [target.cluster],
            term: [String(request.term)],
            leader: [request.leader ?? ''],
            standbys: [request.standbys?.join(',') ?? ''],
            bundle: [request.bundle ?? ''],
          },
          TimeoutSeconds: Math.max(30, Math.ceil(timeoutMs / 1000)),
          Comment: `pgwarden ${request.action} ${target.cluster}/${target.member} term ${request.term}`.slice(
            0,
            100,
          ),
          ...(this.options.outputLogGroup
            ? {
                CloudWatchOutputConfig: {
                  CloudWatchOutputEnabled: true,
                  CloudWatchLogGroupName: this.options.outputLogGroup,
                },
              }
            : {}),
        }),
      );
      commandId = sent.Command?.CommandId;
    } catch (error) {
      throw new CommandDeliveryError(
        target.member,
        `SendCommand failed: ${(error as Error).name}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (!commandId) throw new CommandDeliveryError(target.member, 'SendCommand returned no command id');
    return commandId;
  }

  async result(target: CommandTarget, commandId: string): Promise<ActionResult | undefined> {
    if (!target.instanceId)
      throw new CommandDeliveryError(target.member, 'its heartbeat names no EC2 instance id');
    try {
      const invocation = await this.ssm.send(
        new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: target.instanceId }),
      );
      const status = invocation.Status ?? 'Pending';
      if (!TERMINAL.has(status)) return undefined;
      if (status === 'Success' || status === 'Failed')
        return parseActionOutput(target.member, invocation.StandardOutputContent);
      throw new CommandDeliveryError(target.member, `command ${commandId} ended ${status}`);
    } catch (error) {
      if (error instanceof CommandDeliveryError) throw error;
      const name = (error as Error).name;
      if (name === 'InvocationDoesNotExist' || name === 'ThrottlingException') return undefined;
      throw new CommandDeliveryError(target.member, `GetCommandInvocation failed: ${name}`, { cause: error });
    }
  }
}
