import { slotName } from './pg-conf.ts';
import type { PgObserver } from './pg-observer.ts';

/**
 * Keeps one physical slot per other member on the primary (`use_slots`), as Patroni does:
 * creates the missing ones and drops inactive slots of members that are gone.
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
  return changes;
}
