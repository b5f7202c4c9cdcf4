// A fault campaign on a local topology (issue #18): npm run chaos -- --faults N --seed S [--sync]
// [--kinds a,b] [--out DIR] [--no-host-network] [--routers]. Writes chaos-<mode>-<seed>-<N>faults.json and .md to --out (default bench/chaos/results)
// and prints the Markdown table; exits 1 when a checker found a violation. --planted-bug runs a
// deliberately broken agent: then a violation is the expected outcome (the checkers work).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { buildAgentBundle } from '../../scripts/build-agent.ts';
import { buildControllerBundle } from '../../scripts/build-controller.ts';
import { reportMarkdown, runCampaign } from './campaign.ts';
import { FAULT_KINDS, type FaultKind } from './faults.ts';

const program = new Command('chaos')
  .addOption(new Option('--faults <n>', 'faults to inject').default('20').argParser((v) => v))
  .option('--seed <n>', 'seed of the nemesis', String(Date.now() % 100000))
  .option('--sync', 'synchronous_mode on', false)
  .option('--kinds <list>', `fault kinds, comma separated (${FAULT_KINDS.join(', ')})`)
  .option('--out <dir>', 'where to write the report', 'bench/chaos/results')
  .option('--no-host-network', "hosts on this machine's loopback (no network namespaces, no network faults)")
  .option('--routers', 'a router on every host, HAProxy in front of the routers (issue #17)', false)
  .addOption(
    new Option('--planted-bug <bug>', 'run a deliberately broken agent: the checkers must report it').choices(
      ['unconditional-renewal'],
    ),
  )
  .parse();
const opts = program.opts<{
  faults: string;
  seed: string;
  sync: boolean;
  kinds?: string;
  out: string;
  hostNetwork: boolean;
  routers: boolean;
  plantedBug?: 'unconditional-renewal';
}>();
const faults = Number(opts.faults);
const seed = Number(opts.seed);
if (!Number.isInteger(faults) || faults < 1)
  throw new Error(`--faults: got ${opts.faults}, expected a whole number >= 1`);
if (!Number.isInteger(seed)) throw new Error(`--seed: got ${opts.seed}, expected a whole number`);
const kinds = opts.kinds?.split(',').map((k) => k.trim()) as FaultKind[] | undefined;
for (const k of kinds ?? [])
  if (!(FAULT_KINDS as readonly string[]).includes(k))
    throw new Error(`--kinds: got ${JSON.stringify(k)}, expected some of ${FAULT_KINDS.join(', ')}`);
await buildAgentBundle();
await buildControllerBundle();
const broken = opts.plantedBug
  ? await buildAgentBundle(
      join(mkdtempSync('/tmp/pgwarden-broken-'), 'pgwarden-agent.mjs'),
      undefined,
      opts.plantedBug,
    )
  : undefined;
const report = await runCampaign({
  faults,
  seed,
  sync: opts.sync,
  ...(kinds ? { kinds } : {}),
  ...(broken ? { agentBundle: broken } : {}),
  ...(opts.hostNetwork ? {} : { hostNetwork: false }),
  routers: opts.routers,
  log: (line) => console.log(line),
});
mkdirSync(opts.out, { recursive: true });
// The fault count in the name: a shorter rerun of a seed never overwrites the longer run's report.
const base = join(
  opts.out,
  `chaos-${report.mode}-${seed}-${faults}faults${opts.plantedBug ? `-${opts.plantedBug}` : ''}`,
);
writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(`${base}.md`, `${reportMarkdown(report)}\n`);
console.log(reportMarkdown(report));
process.exitCode = report.violations.length > 0 ? 1 : 0;
