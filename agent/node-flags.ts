/**
 * V8 flags the agent runs with (systemd unit, local topology, benchmarks): a small young
 * generation and heap keep the resident set near 50 MB; the agent allocates little.
 */
export const AGENT_NODE_FLAGS: readonly string[] = process.env.PGWARDEN_AGENT_NODE_FLAGS?.split(' ').filter(
  Boolean,
) ?? ['--max-semi-space-size=1', '--max-old-space-size=64'];

/** Environment for the agent process: one malloc arena and a small libuv pool (few threads, less RSS). */
export const AGENT_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1', UV_THREADPOOL_SIZE: '2' };
