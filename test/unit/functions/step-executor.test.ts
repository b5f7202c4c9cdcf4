import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import type { ActionResult } from '../../../core/actions/action-parameters.ts';
import { DEFAULT_CLUSTER_CONFIG } from '../../../core/config/cluster-config.ts';
import type { Step } from '../../../core/decide/steps.ts';
import type { Op, OpCommand } from '../../../core/model/items.ts';
import type { CommandBus } from '../../../core/ports/command-bus.ts';
import type { CoordinationStore } from '../../../core/store/coordination-store.ts';
import { StepExecutor } from '../../../functions/controller/step-executor.ts';
import { buildOp, scenario } from '../../helpers/builders.ts';

const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' as 'ERROR' });
const PROMOTED: ActionResult = {
  ok: true,
  action: 'promote',
  member: 'n2',
  term: 4,
  changed: true,
  message: 'promoted at term 4',
};

/** A command bus whose command ends `runsMs` after it was sent, on the fake clock. */
function slowBus(clock: { now: number }, runsMs: number) {
  const sent: { id: string; at: number }[] = [];
  const bus: CommandBus = {
    async send() {
      const id = `cmd-${sent.length + 1}`;
      sent.push({ id, at: clock.now });
      return id;
    },
    async result(_target, id) {
      const command = sent.find((c) => c.id === id)!;
      return clock.now - command.at >= runsMs ? PROMOTED : undefined;
    },
  };
  return { bus, sent };
}

/** The store calls the executor makes, recorded. */
function recordingStore() {
  const calls: { method: string; op?: Op; command?: OpCommand }[] = [];
  const store = {
    async recordOpCommand(_cluster: string, op: Op, command: OpCommand) {
      calls.push({ method: 'recordOpCommand', op, command });
    },
    async updateOp(_cluster: string, op: Op) {
      calls.push({ method: 'updateOp', op });
    },
  } as unknown as CoordinationStore;
  return { store, calls };
}

function promoteStep(op: Op): Step {
  return {
    kind: 'command',
    action: 'promote',
    member: 'n2',
    term: 4,
    countsFor: op,
    onSuccess: { ...op, step: 'repoint', version: op.version + 1 },
  };
}

/** The executor under test: only the store and the command bus matter here. */
function executorFor(store: CoordinationStore, bus: CommandBus, clock: { now: number }): StepExecutor {
  return new StepExecutor({ store, bus, fencer: {} as never, notifier: {} as never, clock: () => clock.now });
}

/** A fake clock that moves forward whenever the executor sleeps between polls. */
function fakeTime(start: number) {
  const clock = { now: start };
  const realSetTimeout = globalThis.setTimeout;
  return {
    clock,
    async run<T>(body: () => Promise<T>): Promise<T> {
      globalThis.setTimeout = ((fn: () => void, ms: number) => {
        clock.now += ms;
        return realSetTimeout(fn, 0);
      }) as typeof setTimeout;
      try {
        return await body();
      } finally {
        globalThis.setTimeout = realSetTimeout;
      }
    },
  };
}

describe('the step executor and the invocation deadline (DESIGN §6)', () => {
  const { snapshot } = scenario();
  const op = buildOp({ step: 'promote', term: 3, version: 4 });

  it('leaves a command still running at the deadline to the next invocation, without counting a failure', async () => {
    const time = fakeTime(1_000_000);
    const { bus, sent } = slowBus(time.clock, 5000);
    const { store, calls } = recordingStore();
    const executor = executorFor(store, bus, time.clock);
    const failure = await time.run(() =>
      executor.execute(snapshot, [promoteStep(op)], DEFAULT_CLUSTER_CONFIG, logger, time.clock.now + 2000),
    );
    expect(failure).toMatchObject({ deferred: true });
    expect(sent).toHaveLength(1);
    expect(calls).toEqual([
      {
        method: 'recordOpCommand',
        op,
        command: expect.objectContaining({
          id: 'cmd-1',
          step: 'promote',
          action: 'promote',
          member: 'n2',
          term: 4,
        }),
      },
    ]);
  });

  it('reads the recorded command in the next invocation instead of sending it again', async () => {
    const time = fakeTime(1_000_000);
    const { bus, sent } = slowBus(time.clock, 5000);
    await bus.send({ cluster: 'c', member: 'n2' }, { action: 'promote', term: 4 }, 60_000);
    const recorded = {
      ...op,
      command: {
        id: 'cmd-1',
        step: 'promote',
        action: 'promote',
        member: 'n2',
        term: 4,
        sent_at: time.clock.now,
      },
    };
    time.clock.now += 3000; // the first invocation ended; this one starts
    const { store, calls } = recordingStore();
    const executor = executorFor(store, bus, time.clock);
    const failure = await time.run(() =>
      executor.execute(
        snapshot,
        [promoteStep(recorded)],
        DEFAULT_CLUSTER_CONFIG,
        logger,
        time.clock.now + 30_000,
      ),
    );
    expect(failure).toBeUndefined();
    expect(sent).toHaveLength(1);
    expect(calls.map((c) => c.method)).toEqual(['updateOp']);
    expect(calls[0]!.op).toMatchObject({
      step: 'repoint',
      last_result: expect.objectContaining({ ok: true }),
    });
  });

  it('sends again when the recorded command is older than command_timeout, or was for another step', async () => {
    const time = fakeTime(1_000_000);
    const { bus, sent } = slowBus(time.clock, 0);
    const { store } = recordingStore();
    const executor = executorFor(store, bus, time.clock);
    const old = {
      id: 'gone',
      step: 'promote',
      action: 'promote',
      member: 'n2',
      term: 4,
      sent_at: time.clock.now - 61_000,
    };
    const otherStep = { ...old, step: 'fence', sent_at: time.clock.now };
    for (const command of [old, otherStep])
      await time.run(() =>
        executor.execute(snapshot, [promoteStep({ ...op, command })], DEFAULT_CLUSTER_CONFIG, logger),
      );
    expect(sent).toHaveLength(2);
  });

  it('forgets a recorded command that failed, so that the retry sends a new one', async () => {
    const time = fakeTime(1_000_000);
    const failing: CommandBus = {
      async send() {
        return 'cmd-new';
      },
      async result() {
        return { ...PROMOTED, ok: false, changed: false, message: 'promote refused: not running' };
      },
    };
    const { store, calls } = recordingStore();
    const executor = executorFor(store, failing, time.clock);
    const recorded = {
      ...op,
      command: {
        id: 'cmd-old',
        step: 'promote',
        action: 'promote',
        member: 'n2',
        term: 4,
        sent_at: time.clock.now,
      },
    };
    const failure = await time.run(() =>
      executor.execute(
        snapshot,
        [promoteStep(recorded)],
        DEFAULT_CLUSTER_CONFIG,
        logger,
        time.clock.now + 30_000,
      ),
    );
    expect(failure?.deferred).toBeUndefined();
    const counted = calls.find((c) => c.method === 'updateOp')!.op!;
    expect(counted).toMatchObject({ attempts: 1, version: op.version + 1 });
    expect(counted.command).toBeUndefined();
  });
});

describe('commands not waited for', () => {
  it("sends every rejoin at once and returns: a rejoin never keeps the cluster's next evaluation (a new failure's detection) waiting", async () => {
    const { snapshot } = scenario();
    const clock = { now: 1_000_000 };
    const { bus, sent } = slowBus(clock, 60_000);
    let resultAsked = 0;
    const counting: CommandBus = {
      send: bus.send,
      async result(target, id) {
        resultAsked += 1;
        return bus.result(target, id);
      },
    };
    const { store } = recordingStore();
    const rejoins: Step[] = ['n2', 'n3'].map((member) => ({
      kind: 'command',
      action: 'rejoin',
      member,
      term: 4,
      leader: 'n1',
      wait: false,
    }));
    const started = Date.now();
    const failure = await executorFor(store, counting, clock).execute(
      snapshot,
      rejoins,
      DEFAULT_CLUSTER_CONFIG,
      logger,
    );
    expect(failure).toBeUndefined();
    expect(sent.map((s) => s.id)).toEqual(['cmd-1', 'cmd-2']);
    expect(resultAsked).toBe(0);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('a rejoin that cannot be sent does not stop the steps after it (a switchover sends its standbys a rejoin before promoting)', async () => {
    const { snapshot } = scenario();
    const clock = { now: 1_000_000 };
    const { bus, sent } = slowBus(clock, 0);
    const reached: string[] = [];
    const flaky: CommandBus = {
      async send(target, command, timeoutMs) {
        if (target.member === 'n3') throw new Error('InvalidInstanceId: n3 is not registered');
        reached.push(target.member);
        return bus.send(target, command, timeoutMs);
      },
      result: bus.result,
    };
    const { store } = recordingStore();
    const steps: Step[] = [
      { kind: 'command', action: 'rejoin', member: 'n3', term: 4, leader: 'n2', wait: false },
      { kind: 'command', action: 'rejoin', member: 'n1', term: 4, leader: 'n2', wait: false },
    ];
    const failure = await executorFor(store, flaky, clock).execute(
      snapshot,
      steps,
      DEFAULT_CLUSTER_CONFIG,
      logger,
    );
    expect(failure).toBeUndefined();
    expect(reached).toEqual(['n1']);
    expect(sent).toHaveLength(1);
  });
});
