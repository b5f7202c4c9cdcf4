import type { InstanceFencer, InstanceState } from '../../core/ports/instance-fencer.ts';
import type { LocalHostDirectory } from './local-hosts.ts';

/** The local stand-in for EC2: a host is `stopped` when none of its processes live; a forced stop kills them. */
export class LocalFencer implements InstanceFencer {
  constructor(private readonly hosts: LocalHostDirectory) {}

  async state(target: { member: string }): Promise<InstanceState> {
    const host = this.hosts.host(target.member);
    if (!host) return 'unknown';
    return host.livePids().length === 0 ? 'stopped' : host.isUp() ? 'running' : 'stopping';
  }

  async forceStop(target: { member: string }): Promise<void> {
    const host = this.hosts.host(target.member);
    if (!host) return;
    host.markDown();
    for (const pid of host.livePids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  }
}
