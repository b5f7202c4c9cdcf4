import { describe, expect, it } from 'vitest';
import type { CliContext } from '../../../cli/cli-context.ts';
import { changeConfig } from '../../../cli/commands/config.ts';
import { CliError } from '../../../cli/exit-codes.ts';
import { ConditionFailedError, ConfigValidationError } from '../../../core/errors.ts';
import type { CoordinationStore } from '../../../core/store/coordination-store.ts';

function context(store: Partial<CoordinationStore>, out: string[] = []): CliContext {
  return {
    store: store as CoordinationStore,
    table: 't',
    region: 'us-east-1',
    endpoint: undefined,
    defaultCluster: 'c',
    json: false,
    interactive: false,
    color: false,
    user: 'tester',
    out: (t) => out.push(t),
    cluster: (c) => c ?? 'c',
    confirm: async () => false,
    ask: async () => '',
  };
}

describe('edit-config', () => {
  it('refuses a stale edit: someone wrote the config after it was read (exit 4)', async () => {
    let reads = 0;
    const store = {
      getConfig: async () => ({ version: reads++ === 0 ? 3 : 4, data: { ttl: 10 } }),
      putConfig: async () => {
        throw new ConditionFailedError('putConfig', 'the config is no longer at version 3');
      },
    };
    const error = await changeConfig(context(store), 'c', { set: ['ttl=20'], force: true }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(4);
    expect((error as Error).message).toBe(
      'the config changed meanwhile (version 3 -> 4); nothing written: run the command again',
    );
  });

  it('validates with the core schema before writing anything', async () => {
    let writes = 0;
    const store = { getConfig: async () => ({ version: 1, data: {} }), putConfig: async () => ++writes };
    await expect(
      changeConfig(context(store), 'c', { set: ['synchronous_node_count=0'], force: true }),
    ).rejects.toBeInstanceOf(ConfigValidationError);
    expect(writes).toBe(0);
  });

  it('asks before writing when interactive, and needs --force when not', async () => {
    const store = { getConfig: async () => ({ version: 1, data: {} }), putConfig: async () => 2 };
    await expect(changeConfig(context(store), 'c', { set: ['ttl=20'] })).rejects.toThrow('add --force');
  });
});
