/**
 * V8 flags the agent runs with (systemd unit, local topology, benchmarks): a small young
 * generation and heap, and the interpreter only (`--jitless`: no optimizing compilers, whose
 * code and memory the agent's light work does not repay; WebAssembly goes with it, and the agent
 * uses none) keep the resident set under 60 MB (bench/README.md).
 */
export const AGENT_NODE_FLAGS: readonly string[] = process.env.PGWARDEN_AGENT_NODE_FLAGS?.split(' ').filter(
  Boolean,
) ?? [
  '--max-semi-space-size=1',
  '--max-old-space-size=64',
  '--jitless',
  // --jitless turns WebAssembly off; saying so too keeps Node from warning about it at every start.
  '--no-expose-wasm',
];

/** Environment for the agent process: one malloc arena and a small libuv pool (few threads, less RSS). */
export const AGENT_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1', UV_THREADPOOL_SIZE: '2' };
