import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signNotice } from '../../agent/router/notice-signature.ts';
import type { RouteNotice } from '../../core/router/route-notice.ts';
import { loopbackClient } from '../../local/loopback-client.ts';
import { Scenario } from '../helpers/scenario.ts';

/**
 * The router on every host (issue #17) end to end: HAProxy (the NLB) in front of the three
 * routers, checked on /router, the controller ticking, an application writing through the
 * writer endpoint at 20 Hz, the invariant checker sampling every node.
 */
describe('routers behind the endpoint', () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await Scenario.start({ routers: true });
  });
  afterAll(async () => {
    await s?.destroy();
  });

  interface RouterBody {
    writer: { kind: string; route?: { name: string; term: number } };
    readers: string[];
    term: number;
  }
  const router = async (name: string) => {
    const res = await s.cluster.api(name, '/router');
    return { status: res.status, body: res.body as RouterBody };
  };

  it('every host answers /router with 200 and routes writes to the lease holder, reads to replicas', async () => {
    const primary = await s.primary();
    await s.allStreaming(primary);
    const leader = (await s.store.getLeader(s.cluster.scope))!;
    for (const name of s.cluster.nodes.keys()) {
      const r = await s.cluster.waitFor(`${name}'s router to see both replicas`, 30_000, async () => {
        const r = await router(name);
        return r.body.readers?.length === 2 ? r : undefined;
      });
      expect(r.status).toBe(200);
      expect(r.body.writer).toMatchObject({ kind: 'routed', route: { name: primary, term: leader.term } });
      expect(r.body.readers).not.toContain(primary);
    }
    const reader = loopbackClient(s.endpoint.readerPort, s.cluster.login);
    await reader.connect();
    const { rows } = await reader.query<{ ro: boolean }>('SELECT pg_is_in_recovery() AS ro');
    await reader.end();
    expect(rows[0]?.ro).toBe(true);
  });

  it('a route notice changes nothing unless it is signed, for this cluster, and true of the lease', async () => {
    const primary = await s.primary();
    const leader = (await s.store.getLeader(s.cluster.scope))!;
    const replica = [...s.cluster.nodes.keys()].find((n) => n !== primary)!;
    const post = async (body: unknown, signature?: string) => {
      const res = await fetch(`http://127.0.0.1:${s.cluster.node(replica).apiPort}/router`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(signature ? { 'x-pgwarden-signature': signature } : {}),
        },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as { reason?: string } };
    };
    const notice = (n: Partial<RouteNotice>): RouteNotice => ({
      cluster: s.cluster.scope,
      kind: 'primary',
      member: primary,
      term: leader.term,
      sent_at: Date.now(),
      ...n,
    });
    const signed = async (n: RouteNotice) => post(n, signNotice(n, s.cluster.failsafeSecret));
    const bad = await post({ cluster: s.cluster.scope, kind: 'promote' });
    expect(bad.status).toBe(400);
    expect(bad.body.reason).toContain('kind');
    expect((await post(notice({}))).status).toBe(401);
    expect((await post(notice({}), 'ab'.repeat(32))).status).toBe(401);
    expect((await signed(notice({ cluster: 'other' }))).status).toBe(403);
    // A replica that claims a promotion the lease does not record; a pause by a non-holder.
    const claim = await signed(notice({ member: replica, term: leader.term + 1 }));
    expect(claim.status).toBe(409);
    expect(claim.body.reason).toContain(`the lease names ${primary} at term ${leader.term}`);
    const pause = await signed(notice({ kind: 'pause', member: replica }));
    expect(pause.status).toBe(409);
    for (const name of s.cluster.nodes.keys())
      expect((await router(name)).body.writer).toMatchObject({ kind: 'routed', route: { name: primary } });
  });

  it('switchover: writers stall instead of failing, and resume on the new primary', async () => {
    const old = await s.primary();
    const before = (await s.store.getLeader(s.cluster.scope))!;
    const to = [...s.cluster.nodes.keys()].find((n) => n !== old)!;
    const errorsBefore = s.writer.errors;
    const asked = Date.now();
    await s.store.putIntent(s.cluster.scope, {
      id: randomUUID(),
      kind: 'switchover',
      from: old,
      to,
      requested_by: 'test',
      requested_at: asked,
    });
    await s.cluster.waitFor(`the lease at ${to}`, 60_000, async () => {
      const l = await s.store.getLeader(s.cluster.scope);
      return l?.holder === to && l.term === before.term + 1;
    });
    await s.writerServes(to);
    await s.settled();
    const until = Date.now();
    const gap = s.writer.longestGap(asked, until);
    console.log(
      `switchover through the routers: longest write gap ${gap} ms, writer errors ${s.writer.errors - errorsBefore}`,
    );
    // The writer's session (TLS, SCRAM) was moved to the new primary between two transactions.
    expect(s.writer.errors - errorsBefore).toBe(0);
    for (const name of s.cluster.nodes.keys()) {
      const r = await router(name);
      expect(r.body.writer).toMatchObject({ kind: 'routed', route: { name: to, term: before.term + 1 } });
    }
    const firstOnNew = s.writer.firstAckAfter(asked, s.cluster.node(old).pgPort);
    expect(firstOnNew?.server).toBe(s.cluster.node(to).pgPort);
  });

  it('host crash: the routers of the surviving hosts follow the promotion', async () => {
    const old = await s.primary();
    await s.allStreaming(old);
    const before = (await s.store.getLeader(s.cluster.scope))!;
    const crashedAt = Date.now();
    s.cluster.killHost(old);
    const leader = await s.cluster.waitFor('a new lease holder', 60_000, async () => {
      const l = await s.store.getLeader(s.cluster.scope);
      return l && l.term > before.term ? l : undefined;
    });
    const movedAt = Date.now() - crashedAt;
    await s.writerServes(leader.holder);
    const first = await s.cluster.waitFor('a write on the new primary', 30_000, async () =>
      s.writer.firstAckAfter(crashedAt, s.cluster.node(old).pgPort),
    );
    console.log(
      `host crash through the routers: lease moved ${movedAt} ms, first write ${first!.at - crashedAt} ms after the crash`,
    );
    for (const name of s.cluster.nodes.keys()) {
      if (name === old) continue;
      const r = await s.cluster.waitFor(`${name}'s router at term ${leader.term}`, 30_000, async () => {
        const r = await router(name);
        return r.body.writer.route?.term === leader.term ? r : undefined;
      });
      expect(r.body.writer.route?.name).toBe(leader.holder);
    }
    s.cluster.startAgent(old);
    await s.allStreaming(leader.holder);
    await s.settled();
    await s.verify();
  });
});

/**
 * The primary cut off from DynamoDB with failsafe off (it fences itself, a replica is promoted),
 * through the routers: the writer through the endpoint never has a write acknowledged by the old
 * primary once the lease has moved, and no two nodes are ever writable.
 */
describe('routers behind the endpoint: the primary isolated from DynamoDB', () => {
  let s: Scenario;
  beforeAll(async () => {
    s = await Scenario.start({ routers: true, dcs: { failsafe_mode: false } });
  });
  afterAll(async () => {
    await s?.destroy();
  });

  it('no write is routed to the old primary once its lease has moved; writes go on on the new one', async () => {
    const old = await s.primary();
    await s.allStreaming(old);
    const before = (await s.store.getLeader(s.cluster.scope))!;
    s.cluster.isolate(old);
    const moved = await s.cluster.waitFor('the lease taken over', 60_000, async () => {
      const l = await s.store.getLeader(s.cluster.scope);
      return l && l.term > before.term ? { leader: l, at: Date.now() } : undefined;
    });
    await s.writerServes(moved.leader.holder);
    const oldPort = s.cluster.node(old).pgPort;
    const first = await s.cluster.waitFor(
      'a write through the endpoint on the new primary',
      30_000,
      async () => s.writer.firstAckAfter(moved.at, oldPort),
    );
    expect(first.server).toBe(s.cluster.node(moved.leader.holder).pgPort);
    const late = s.writer.acks.filter((a) => a.server === oldPort && a.sentAt >= moved.at);
    expect(late).toEqual([]);
    s.cluster.heal(old);
    await s.allStreaming(moved.leader.holder);
    await s.settled();
    await s.verify();
  });
});
