import { describe, expect, it } from 'vitest';
import { waitFor } from '../../../local/wait-for.ts';

describe('waitFor', () => {
  it('returns the first value a probe yields', async () => {
    let calls = 0;
    const value = await waitFor('the third call', 2000, async () => (++calls === 3 ? 'done' : undefined), 5);
    expect(value).toBe('done');
    expect(calls).toBe(3);
  });

  it('names what it waited for and the last error when time runs out', async () => {
    await expect(
      waitFor('a refusal to end', 50, async () => Promise.reject(new Error('connection refused')), 5),
    ).rejects.toThrow('timed out after 50 ms waiting for a refusal to end: connection refused');
  });

  it('gives up at its deadline even when a probe never answers', async () => {
    const started = Date.now();
    await expect(waitFor('a hung probe', 100, () => new Promise<never>(() => {}), 10)).rejects.toThrow(
      'timed out after 100 ms waiting for a hung probe: the last check did not answer',
    );
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
