import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { descendants } from '../../../local/wait-for.ts';
import { AgentCluster } from '../../helpers/agent-cluster.ts';
import { NotifySocket } from '../../helpers/notify-socket.ts';

const WATCHDOG_MS = 2000;

/** The longest silence between two watchdog pets within [from, to]. */
function longestGap(times: readonly number[], from: number, to: number): number {
  const inside = [from, ...times.filter((t) => t > from && t < to), to];
  let gap = 0;
  for (let i = 1; i < inside.length; i += 1) gap = Math.max(gap, inside[i]! - inside[i - 1]!);
  return gap;
}

/**
 * The systemd watchdog (WatchdogSec) is fed while the agent is healthy, whatever its cycle is
 * doing: a base backup longer than the watchdog period must not get the agent killed.
 */
describe('the agent and the systemd watchdog', () => {
  let c: AgentCluster;
  let notify: NotifySocket;

  beforeAll(async () => {
    c = await AgentCluster.create({ nodes: 2 });
    notify = await NotifySocket.listen(join(c.dir, 'notify.sock'));
    // node2 clones slowly: Patroni's basebackup options, throttled below the watchdog period.
    const { configPath } = c.node('node2');
    const config = parse(readFileSync(configPath, 'utf8'));
    config.postgresql.basebackup = [{ 'max-rate': '3M' }];
    writeFileSync(configPath, stringify(config));
    c.startAgent('node1');
    await c.waitForRole('node1', '/primary');
  });
  afterAll(async () => {
    notify?.close();
    await c?.destroy();
  });

  it('pets the watchdog throughout a base backup that lasts several watchdog periods', async () => {
    c.startAgent('node2', { NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: String(WATCHDOG_MS * 1000) });
    await c.waitForRole('node2', '/replica', 90_000);
    const log = c.agentLog('node2');
    const at = (message: string) => {
      const line = log.split('\n').find((l) => l.includes(`"message":"${message}"`));
      return line ? Date.parse(JSON.parse(line).timestamp) : undefined;
    };
    const cloneStarted = at('creating the replica with pg_basebackup')!;
    const cloneEnded = at('bootstrap finished')!;
    expect(cloneStarted).toBeDefined();
    // The clone must outlast the watchdog period for this test to mean anything.
    expect(cloneEnded - cloneStarted).toBeGreaterThan(2 * WATCHDOG_MS);
    expect(notify.times('READY=1').length).toBeGreaterThan(0);
    const pets = notify.times('WATCHDOG=1');
    expect(longestGap(pets, cloneStarted, cloneEnded)).toBeLessThan(WATCHDOG_MS);
  });

  it('withholds the watchdog while the agent is frozen', async () => {
    // The agent and what it runs (a systemd-notify already on its way would otherwise still
    // deliver, late, under load) are frozen; PostgreSQL is not its child.
    const pid = c.node('node2').pid!;
    const frozen = [pid, ...descendants([pid])];
    const signal = (sig: NodeJS.Signals) => {
      for (const p of frozen) {
        try {
          process.kill(p, sig);
        } catch {}
      }
    };
    signal('SIGSTOP');
    const frozenAt = Date.now();
    await new Promise((r) => setTimeout(r, 2 * WATCHDOG_MS));
    signal('SIGCONT');
    const thawedAt = Date.now();
    await new Promise((r) => setTimeout(r, WATCHDOG_MS));
    const pets = notify.times('WATCHDOG=1');
    // Messages sent just before the freeze may arrive a moment later; none during it.
    expect(pets.filter((t) => t > frozenAt + 300 && t < thawedAt)).toEqual([]);
    expect(pets.filter((t) => t > thawedAt).length).toBeGreaterThan(0);
  });
});
