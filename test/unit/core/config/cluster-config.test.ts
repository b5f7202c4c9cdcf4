import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CLUSTER_CONFIG,
  FAST_PROFILE,
  parseClusterConfig,
  storedClusterConfig,
} from '../../../../core/config/cluster-config.ts';
import { ConfigValidationError } from '../../../../core/errors.ts';

function issuesOf(input: unknown) {
  try {
    parseClusterConfig(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigValidationError);
    return (error as ConfigValidationError).issues;
  }
  throw new Error('expected a ConfigValidationError');
}

describe('the cluster config', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_CLUSTER_CONFIG).toMatchObject({
      ttl: 10,
      loop_wait: 2,
      retry_timeout: 4,
      safety_margin: 2,
      maximum_lag_on_failover: 1048576,
      synchronous_mode: false,
      synchronous_mode_strict: false,
      synchronous_node_count: 1,
      check_timeline: false,
      primary_start_timeout: 30,
      fencing: 'safe',
      pause: false,
      postgresql: { use_pg_rewind: true, use_slots: true, parameters: {} },
    });
  });

  it('accepts the fast profile', () => {
    expect(parseClusterConfig(FAST_PROFILE)).toMatchObject({ ttl: 4, loop_wait: 1 });
  });

  it('lists every bad key at once, with what arrived and what was expected', () => {
    const issues = issuesOf({
      ttl: 'ten',
      maximum_lag_on_failover: -1,
      fencing: 'hope',
      postgresql: { use_slots: 'yes' },
    });
    expect(issues.map((i) => i.key).sort()).toEqual([
      'fencing',
      'maximum_lag_on_failover',
      'postgresql.use_slots',
      'ttl',
    ]);
    const fencing = issues.find((i) => i.key === 'fencing')!;
    expect(fencing.received).toBe('hope');
    expect(fencing.expected).toContain('"safe"');
  });

  it('names unknown keys so that typos do not pass silently', () => {
    const issues = issuesOf({ loop_wiat: 3 });
    expect(issues).toEqual([expect.objectContaining({ key: 'loop_wiat', received: 3 })]);
  });

  it.each([
    [{ ttl: 9 }, 'ttl', 'loop_wait + 2*retry_timeout'],
    [{ ttl: 10, loop_wait: 2, retry_timeout: 4, safety_margin: 8 }, 'safety_margin', 'ttl - loop_wait'],
    [{ synchronous_mode_strict: true }, 'synchronous_mode_strict', 'synchronous_mode'],
  ])('checks the cross-field rule for %j', (input, key, expected) => {
    const issues = issuesOf(input);
    expect(issues[0]?.key).toBe(key);
    expect(issues[0]?.expected).toContain(expected);
  });

  it('says in its message which key is wrong and what was expected', () => {
    expect(() => parseClusterConfig({ loop_wait: 'x' })).toThrow(
      /loop_wait: got "x", expected a number of seconds/,
    );
  });
});

describe('the config a stored config item stands for', () => {
  const fallback = parseClusterConfig(FAST_PROFILE);

  it('is the fallback when there is no item', () => {
    expect(storedClusterConfig(undefined, fallback)).toEqual({ config: fallback, valid: true });
  });

  it('is the item with defaults applied', () => {
    expect(storedClusterConfig({ ttl: 20 })).toMatchObject({
      valid: true,
      config: { ttl: 20, loop_wait: 2 },
    });
  });

  it('is the fallback, marked invalid, when the item is malformed', () => {
    expect(storedClusterConfig({ ttl: 'soon' }, fallback)).toEqual({ config: fallback, valid: false });
  });
});
