import { DescribeInstancesCommand, type EC2Client, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { FencingError } from '../../core/errors.ts';
import type { InstanceFencer, InstanceState } from '../../core/ports/instance-fencer.ts';

const STATES: Record<string, InstanceState> = {
  pending: 'running',
  running: 'running',
  'shutting-down': 'stopping',
  stopping: 'stopping',
  stopped: 'stopped',
  terminated: 'terminated',
};

/** EC2 as the last resort of fencing: what state an instance is in, and StopInstances --force. */
export class Ec2InstanceFencer implements InstanceFencer {
  constructor(private readonly ec2: EC2Client) {}

  async state(target: { member: string; instanceId?: string }): Promise<InstanceState> {
    if (!target.instanceId) return 'unknown';
    try {
      const out = await this.ec2.send(new DescribeInstancesCommand({ InstanceIds: [target.instanceId] }));
      const name = out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
      return (name && STATES[name]) ?? 'unknown';
    } catch (error) {
      if ((error as Error).name === 'InvalidInstanceID.NotFound') return 'terminated';
      throw new FencingError(target.member, `DescribeInstances failed: ${(error as Error).name}`, {
        cause: error,
      });
    }
  }

  async forceStop(target: { member: string; instanceId?: string }): Promise<void> {
    if (!target.instanceId)
      throw new FencingError(target.member, 'its heartbeat names no EC2 instance id to stop');
    try {
      await this.ec2.send(new StopInstancesCommand({ InstanceIds: [target.instanceId], Force: true }));
    } catch (error) {
      throw new FencingError(target.member, `StopInstances failed: ${(error as Error).name}`, {
        cause: error,
      });
    }
  }
}
