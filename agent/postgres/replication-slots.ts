import type { Logger } from '@aws-lambda-powertools/logger';
import { slotName } from './pg-conf.ts';
import type { PgObserver } from './pg-observer.ts';

/** The slot Patroni keeps for a member (its slot_name_from_member_name). */
export function patroniSlotName(member: string): string {
  return member
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, (c) =>
      c === '-' || c === '.' ? '_' : `u${String(c.charCodeAt(0)).padStart(4, '0')}`,
    )
    .slice(0, 63);
}

/**
 * Keeps one physical slot per other member on the primary (`use_slots`), as Patroni does:
 * creates the missing ones and drops inactive slots of members that are gone. A cluster taken
 * over from Patroni also has Patroni's slots for its members, which nothing reads any more and
 * which would keep WAL forever: dropped once inactive.
 */
export async function syncReplicationSlots(
  observer: PgObserver,
  self: string,
  members: readonly string[],
): Promise<string[]> {
  const wanted = new Set(members.filter((m) => m !== self).map(slotName));
  const existing = await observer.query<{ slot_name: string; active: boolean }>(
    "SELECT slot_name, active FROM pg_replication_slots WHERE slot_type = 'physical' AND slot_name LIKE 'pgwarden\\_%'",
  );
  const changes: string[] = [];
  for (const name of wanted) {
    if (!existing.some((s) => s.slot_name === name)) {
      await observer.query('SELECT pg_create_physical_replication_slot($1, true)', [name]);
      changes.push(`+${name}`);
    }
  }
  for (const slot of existing) {
    if (!wanted.has(slot.slot_name) && !slot.active) {
      await observer.query('SELECT pg_drop_replication_slot($1)', [slot.slot_name]);
      changes.push(`-${slot.slot_name}`);
    }
  }
  const patroni = members.filter((m) => m !== self).map(patroniSlotName);
  const leftByPatroni = await observer.query<{ slot_name: string }>(
    "SELECT slot_name FROM pg_replication_slots WHERE slot_type = 'physical' AND NOT active AND slot_name = ANY($1::text[])",
    [patroni],
  );
  for (const slot of leftByPatroni) {
    await observer.query('SELECT pg_drop_replication_slot($1)', [slot.slot_name]);
    changes.push(`-${slot.slot_name} (Patroni's)`);
  }
  return changes;
}

/** Slots follow the member list: checked when it changes, and every 30 s in case of drift. */
export class SlotKeeper {
  private checked: { key: string; at: number } | undefined;

  constructor(
    private readonly observer: PgObserver,
    private readonly self: string,
    private readonly logger: Pick<Logger, 'info' | 'warn'>,
    private readonly monotonic: () => number,
  ) {}

  async keep(members: readonly string[]): Promise<void> {
    const key = members.join(',');
    const now = this.monotonic();
    if (key === this.checked?.key && now - this.checked.at < 30_000) return;
    try {
      const changes = await syncReplicationSlots(this.observer, this.self, members);
      this.checked = { key, at: now };
      if (changes.length > 0) this.logger.info('replication slots changed', { changes });
    } catch (error) {
      this.logger.warn('cannot maintain replication slots', { error: (error as Error).message });
    }
  }
}
