/** Set by the bundler when it builds another version (scripts/build-agent.ts). */
declare const __PGWARDEN_AGENT_VERSION__: string | undefined;

/** The agent's version, reported in heartbeats and /patroni. */
export const AGENT_VERSION: string =
  typeof __PGWARDEN_AGENT_VERSION__ === 'string' ? __PGWARDEN_AGENT_VERSION__ : '0.1.0';
