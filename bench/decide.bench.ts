// decide() over 1,000 clusters of 5 members: the controller's pure work per tick.
// Run: npm run bench:decide. Target: < 50 ms in total per pass (issue 2).
import { DEFAULT_CLUSTER_CONFIG } from '../core/config/cluster-config.ts';
import { decide } from '../core/decide/decide.ts';
import { observeCluster } from '../core/lease/observe.ts';
import type { ClusterSnapshot } from '../core/model/snapshot.ts';
import { buildLeader, buildMember, buildPrimary, MB, T0 } from '../test/helpers/builders.ts';

const CLUSTERS = 1000;
const PASSES = 21;

function cluster(i: number): ClusterSnapshot {
  const expired = i % 10 === 0;
  const members = [
    buildPrimary('n1', { rvn: `p${i}` }),
    ...[2, 3, 4, 5].map((n) =>
      buildMember(`n${n}`, { rvn: `m${i}-${n}`, receive_lsn: (10 - n) * MB, replay_lsn: (10 - n) * MB }),
    ),
  ];
  return {
    cluster: `c${i}`,
    leader: buildLeader({ rvn: `l${i}`, sync: i % 3 === 0 ? ['n2'] : [] }),
    members,
    history: [],
    malformed: [],
    initialize: { by: 'n1', at: T0 },
    observer: {
      leader: { rvn: `l${i}`, first_seen: expired ? T0 - 20_000 : T0 },
      members: Object.fromEntries(members.map((m) => [m.name, { rvn: m.rvn, first_seen: T0 }])),
      rejoin_requested: {},
      malformed_reported: [],
      version: 1,
    },
  };
}

const snapshots = Array.from({ length: CLUSTERS }, (_, i) => cluster(i));
const timings: number[] = [];
let steps = 0;
for (let pass = 0; pass < PASSES; pass += 1) {
  const now = T0 + 1000 + pass;
  const start = process.hrtime.bigint();
  for (const snapshot of snapshots) {
    const { observations } = observeCluster(snapshot, DEFAULT_CLUSTER_CONFIG, now);
    steps += decide(snapshot, observations, DEFAULT_CLUSTER_CONFIG, now).steps.length;
  }
  timings.push(Number(process.hrtime.bigint() - start) / 1e6);
}
const sorted = [...timings].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)]!;
console.log(
  JSON.stringify({
    benchmark: 'decide',
    clusters: CLUSTERS,
    members_per_cluster: 5,
    passes: PASSES,
    first_pass_ms: Number(timings[0]!.toFixed(2)),
    median_ms: Number(median.toFixed(2)),
    max_ms: Number(sorted.at(-1)!.toFixed(2)),
    target_ms: 50,
    met: median < 50,
    steps_per_pass: steps / PASSES,
  }),
);
