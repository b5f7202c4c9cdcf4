import { describe, expect, it } from 'vitest';
import { reportMarkdown, runCampaign } from '../../bench/chaos/campaign.ts';

/**
 * A short fault campaign (issue #18) in every test run: a few seeded faults, each healed, with the
 * writers, the reader and the invariant checker running; the long campaigns are in bench/chaos.
 */
describe('a short fault campaign', () => {
  it('finds no violation over four faults (seed 18)', async () => {
    const report = await runCampaign({
      faults: 4,
      seed: 18,
      kinds: ['host-crash', 'agent-pause', 'node-cut-from-store', 'controller-crash'],
      maxFaultMs: 5000,
    });
    console.log(reportMarkdown(report));
    expect(report.faults).toHaveLength(4);
    expect(report.violations).toEqual([]);
    expect(report.faults.every((f) => f.recoveryMs !== undefined)).toBe(true);
    expect(report.acked).toBeGreaterThan(100);
    expect(report.invariantSamples).toBeGreaterThan(50);
  });
});
