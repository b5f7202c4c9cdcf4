/** The agent's version, reported in heartbeats and /patroni. */
export const AGENT_VERSION = '0.1.0';
