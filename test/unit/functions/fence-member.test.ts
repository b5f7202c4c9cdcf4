import { describe, expect, it } from 'vitest';
import type { ActionResult } from '../../../core/actions/action-parameters.ts';
import { CommandDeliveryError, DeadlineReachedError, FencingError } from '../../../core/errors.ts';
import type { CommandBus } from '../../../core/ports/command-bus.ts';
import type { InstanceFencer, InstanceState } from '../../../core/ports/instance-fencer.ts';
import { fenceMember } from '../../../functions/controller/fence-member.ts';

function bus(answer: 'ok' | 'refused' | 'undelivered'): CommandBus & { calls: number } {
  return {
    calls: 0,
    async send() {
      this.calls += 1;
      if (answer === 'undelivered') throw new CommandDeliveryError('n1', 'host down');
      return 'cmd-1';
    },
    async result() {
      return {
        ok: answer === 'ok',
        action: 'fence',
        member: 'n1',
        term: 2,
        changed: true,
        message: '',
      } as ActionResult;
    },
  };
}

function fencer(states: InstanceState[]): InstanceFencer & { stops: number } {
  return {
    stops: 0,
    async state() {
      return states.length > 1 ? states.shift()! : states[0]!;
    },
    async forceStop() {
      this.stops += 1;
    },
  };
}

const request = {
  cluster: 'c',
  member: 'n1',
  instanceId: 'i-1',
  term: 2,
  mode: 'safe' as const,
  timeoutMs: 100,
  stopTimeoutMs: 2000,
};
const sleep = async () => {};

describe('fencing an old primary before promotion', () => {
  it('accepts the agent confirming the fence (safe)', async () => {
    const f = fencer(['running']);
    expect(await fenceMember(request, { bus: bus('ok'), fencer: f, sleep })).toEqual({ how: 'agent' });
    expect(f.stops).toBe(0);
  });

  it('accepts the platform saying the machine is not running when the agent cannot be reached', async () => {
    const f = fencer(['stopped']);
    expect(await fenceMember(request, { bus: bus('undelivered'), fencer: f, sleep })).toEqual({
      how: 'instance-not-running',
    });
    expect(f.stops).toBe(0);
  });

  it('force-stops a running machine whose agent does not confirm, and waits to see it stopped', async () => {
    const f = fencer(['running', 'running', 'stopping', 'stopped']);
    expect(await fenceMember(request, { bus: bus('refused'), fencer: f, sleep })).toEqual({
      how: 'force-stopped',
    });
    expect(f.stops).toBe(1);
  });

  it('always force-stops in stop_instance mode, without asking the agent', async () => {
    const b = bus('ok');
    const f = fencer(['running', 'stopped']);
    expect(await fenceMember({ ...request, mode: 'stop_instance' }, { bus: b, fencer: f, sleep })).toEqual({
      how: 'force-stopped',
    });
    expect(b.calls).toBe(0);
  });

  it('fails (so nobody is promoted) when the machine never shows stopped', async () => {
    const f = fencer(['running']);
    await expect(
      fenceMember({ ...request, stopTimeoutMs: 0 }, { bus: bus('undelivered'), fencer: f, sleep }),
    ).rejects.toBeInstanceOf(FencingError);
  });

  it('leaves the fence to the next invocation when the invocation ends first, instead of failing it', async () => {
    let now = 0;
    const f = fencer(['running']);
    const ticking = async (ms: number) => {
      now += ms;
    };
    const error = await fenceMember(
      { ...request, stopTimeoutMs: 10_000, deadlineMs: 1200 },
      { bus: bus('refused'), fencer: f, sleep: ticking, clock: () => now },
    ).catch((e) => e);
    expect(error).toBeInstanceOf(DeadlineReachedError);
    expect(now).toBeLessThanOrEqual(1200);
  });
});
