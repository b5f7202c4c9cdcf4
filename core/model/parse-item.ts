import type { z } from 'zod';
import { toValidationIssues } from '../config/validation.ts';
import { ItemKey } from '../constants.ts';
import { MalformedItemError } from '../errors.ts';
import { compareNames } from '../format.ts';
import {
  configItemSchema,
  historySchema,
  initializeSchema,
  intentSchema,
  leaderSchema,
  memberSchema,
  observerSchema,
  opSchema,
} from './items.ts';
import type { ClusterSnapshot } from './snapshot.ts';

/** Raw stored attributes of one item, keys included. */
export type RawItem = Record<string, unknown> & { pk?: unknown; sk?: unknown };

/** Parses one stored item with its schema, or throws MalformedItemError naming its key. */
export function parseItem<S extends z.ZodType>(schema: S, raw: RawItem): z.output<S> {
  const { pk, sk, ...body } = raw;
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const detail = toValidationIssues(result.error, body)
    .map((i) => `${i.key} (expected ${i.expected})`)
    .join('; ');
  throw new MalformedItemError(String(pk), String(sk), detail);
}

/** Builds a snapshot from the raw items of one cluster partition, skipping malformed ones. */
export function snapshotFromItems(cluster: string, items: readonly RawItem[]): ClusterSnapshot {
  const members: ClusterSnapshot['members'][number][] = [];
  const history: ClusterSnapshot['history'][number][] = [];
  const malformed: MalformedItemError[] = [];
  const parts: Partial<Record<'leader' | 'config' | 'intent' | 'op' | 'observer' | 'initialize', unknown>> =
    {};

  for (const raw of items) {
    const sk = String(raw.sk);
    try {
      if (sk === ItemKey.leader) parts.leader = parseItem(leaderSchema, raw);
      else if (sk === ItemKey.config) parts.config = parseItem(configItemSchema, raw);
      else if (sk === ItemKey.intent) parts.intent = parseItem(intentSchema, raw);
      else if (sk === ItemKey.op) parts.op = parseItem(opSchema, raw);
      else if (sk === ItemKey.observer) parts.observer = parseItem(observerSchema, raw);
      else if (sk === ItemKey.initialize) parts.initialize = parseItem(initializeSchema, raw);
      else if (sk.startsWith(ItemKey.memberPrefix)) members.push(parseItem(memberSchema, raw));
      else if (sk.startsWith(ItemKey.historyPrefix)) history.push(parseItem(historySchema, raw));
      else malformed.push(new MalformedItemError(cluster, sk, 'unknown sort key'));
    } catch (error) {
      if (error instanceof MalformedItemError) malformed.push(error);
      else throw error;
    }
  }
  members.sort((a, b) => compareNames(a.name, b.name));
  history.sort((a, b) => a.term - b.term);
  return { cluster, members, history, malformed, ...(parts as Partial<ClusterSnapshot>) };
}
