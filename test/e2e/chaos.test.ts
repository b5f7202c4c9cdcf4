import { describe, expect, it } from 'vitest';
import { reportMarkdown, runCampaign } from '../../bench/chaos/campaign.ts';
import { hostNetworkUnavailable } from '../../local/host-network.ts';

// Real partitions where this machine allows them (root, ip netns, nft: what npm test installs).
const network = hostNetworkUnavailable() === undefined;

/**
 * A short fault campaign (issue #18) in every test run: a few seeded faults, each healed, with the
 * writers, the reader and the invariant checker running; the long campaigns are in bench/chaos.
 */
describe('a short fault campaign', () => {
  it(`finds no violation over five faults (seed 18${network ? ', hosts in network namespaces' : ''})`, async () => {
    const report = await runCampaign({
      faults: 5,
      seed: 18,
      kinds: network
        ? ['host-crash', 'node-partition', 'replication-cut', 'disk-full', 'controller-crash']
        : ['host-crash', 'agent-pause', 'node-cut-from-store', 'controller-crash'],
      maxFaultMs: 5000,
    });
    console.log(reportMarkdown(report));
    expect(report.faults).toHaveLength(5);
    expect(report.network).toBe(network ? 'network namespaces' : expect.stringMatching(/^loopback/));
    expect(report.violations).toEqual([]);
    expect(report.faults.every((f) => f.recoveryMs !== undefined)).toBe(true);
    expect(report.acked).toBeGreaterThan(100);
    expect(report.invariantSamples).toBeGreaterThan(50);
  });
});
