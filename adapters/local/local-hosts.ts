/**
 * One host of the local topology, as the local command bus and fencer see it: the agent's
 * config, how to run the agent's command line there, and the processes that make the host.
 */
export interface LocalHost {
  readonly name: string;
  readonly configPath: string;
  /** The argv that stands for `pgwarden-agent` on this host (node, flags, bundle). */
  readonly agentCommand: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** False once the host "crashed" or was force-stopped: commands are not delivered. */
  isUp(): boolean;
  /** PIDs of the agent and the postmaster that are alive now. */
  livePids(): number[];
  /** Marks the host down (a crash, a forced stop): it takes no commands until started again. */
  markDown(): void;
}

export interface LocalHostDirectory {
  host(member: string): LocalHost | undefined;
}
