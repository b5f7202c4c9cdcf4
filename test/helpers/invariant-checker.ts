// The invariant checker lives beside the topology (local/), shared with bench/chaos.
export { WritableInvariant } from '../../local/writable-invariant.ts';
