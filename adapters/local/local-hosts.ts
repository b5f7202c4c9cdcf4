/**
 * One host of the local topology, as the local command bus and fencer see it: its root (the
 * host's files live under it at the paths an EC2 host has them) and the processes that make it.
 */
export interface LocalHost {
  readonly name: string;
  /** The host's `/`: the SSM document's absolute command path is resolved under it. */
  readonly root: string;
  /** False once the host "crashed" or was force-stopped: commands are not delivered. */
  isUp(): boolean;
  /** PIDs of the host's processes that are alive now (agent, PostgreSQL, actions). */
  livePids(): number[];
  /** Marks the host down (a crash, a forced stop): it takes no commands until started again. */
  markDown(): void;
  /** The network namespace its processes run in (local/host-network.ts), when it has one. */
  readonly netns?: string;
  /** False while its network is cut off entirely: SSM cannot reach it either. */
  isReachable?(): boolean;
}

/** argv run inside the host's network namespace (nsenter changes nothing else), or as it is. */
export function inHostNetwork(netns: string | undefined, argv: readonly string[]): string[] {
  return netns ? ['nsenter', `--net=/run/netns/${netns}`, '--', ...argv] : [...argv];
}

export interface LocalHostDirectory {
  host(member: string): LocalHost | undefined;
}
