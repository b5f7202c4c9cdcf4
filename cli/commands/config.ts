import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml, stringify } from 'yaml';
import { parseClusterConfig } from '../../core/config/cluster-config.ts';
import { ConditionFailedError } from '../../core/errors.ts';
import type { CliContext } from '../cli-context.ts';
import { CliError, EXIT } from '../exit-codes.ts';
import { HeartbeatWatch, heartbeatAges } from './heartbeat-watch.ts';

type Doc = Record<string, unknown>;

function setPath(doc: Doc, path: readonly string[], value: unknown): void {
  let node = doc;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Doc;
  }
  const last = path.at(-1)!;
  if (value === null) delete node[last];
  else node[last] = value;
}

function mergeDeep(target: Doc, patch: Doc): Doc {
  for (const [key, value] of Object.entries(patch)) {
    if (
      value &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      typeof target[key] === 'object' &&
      target[key] !== null
    ) {
      mergeDeep(target[key] as Doc, value as Doc);
    } else if (value === null) delete target[key];
    else target[key] = value;
  }
  return target;
}

/** `key=value` with the value read as YAML (so 20 is a number, false a boolean, null deletes). */
export function parseAssignment(flag: string, text: string): { path: string[]; value: unknown } {
  const at = text.indexOf('=');
  if (at <= 0) throw new CliError(`${flag}: got ${JSON.stringify(text)}, expected key=value`, EXIT.usage);
  const raw = text.slice(at + 1);
  return { path: text.slice(0, at).split('.'), value: raw === '' ? '' : parseYaml(raw) };
}

/** A line diff of two YAML renderings: `-` removed, `+` added. */
export function diffLines(before: string, after: string): string {
  const a = before.split('\n');
  const b = after.split('\n');
  const out: string[] = [];
  for (const line of a) if (!b.includes(line)) out.push(`-${line}`);
  for (const line of b) if (!a.includes(line)) out.push(`+${line}`);
  return out.join('\n');
}

export interface ConfigChange {
  readonly set?: string[];
  readonly pg?: string[];
  readonly apply?: string;
  readonly force?: boolean;
  /** Do not print the diff (pause, resume). */
  readonly quiet?: boolean;
}

/** Reads, changes, validates with the core schema and writes the config by compare-and-set. */
export async function changeConfig(
  ctx: CliContext,
  cluster: string,
  change: ConfigChange,
  edit?: (doc: Doc) => void,
): Promise<{ version: number; changed: boolean }> {
  const current = await ctx.store.getConfig(cluster);
  const next = structuredClone(current.data) as Doc;
  if (change.apply) {
    const text = change.apply === '-' ? readFileSync(0, 'utf8') : readFileSync(change.apply, 'utf8');
    const patch = parseYaml(text) as unknown;
    if (!patch || typeof patch !== 'object' || Array.isArray(patch))
      throw new CliError(`--apply ${change.apply}: expected a YAML mapping`, EXIT.usage);
    mergeDeep(next, patch as Doc);
  }
  for (const text of change.set ?? []) {
    const { path, value } = parseAssignment('--set', text);
    setPath(next, path, value);
  }
  for (const text of change.pg ?? []) {
    const { path, value } = parseAssignment('--pg', text);
    setPath(next, ['postgresql', 'parameters', path.join('.')], value);
  }
  edit?.(next);
  parseClusterConfig(next, `config of ${cluster}`);
  const diff = diffLines(stringify(current.data).trimEnd(), stringify(next).trimEnd());
  if (!diff) return { version: current.version, changed: false };
  if (!ctx.json && !change.quiet) ctx.out(`---\n+++\n${diff}`);
  if (!change.force) {
    if (!ctx.interactive)
      throw new CliError('add --force to apply the change when not on a terminal', EXIT.usage);
    if (!(await ctx.confirm('Apply these changes?')))
      throw new CliError('aborted: nothing changed', EXIT.refused);
  }
  try {
    const version = await ctx.store.putConfig(cluster, next, current.version, ctx.user, Date.now());
    return { version, changed: true };
  } catch (error) {
    if (error instanceof ConditionFailedError) {
      const now = await ctx.store.getConfig(cluster);
      throw new CliError(
        `the config changed meanwhile (version ${current.version} -> ${now.version}); nothing written: run the command again`,
        EXIT.conflict,
      );
    }
    throw error;
  }
}

/**
 * Waits until every member that still heartbeats reports it. Staleness from the controller's
 * observations and this CLI's own reads, never from a host's clock.
 */
async function waitForPause(ctx: CliContext, cluster: string, paused: boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  const watch = new HeartbeatWatch();
  for (;;) {
    const snapshot = await ctx.store.getSnapshot(cluster);
    const ages = heartbeatAges(snapshot, watch.look(snapshot));
    const members = snapshot.members.filter((m) => ages.get(m.name)?.stale !== true);
    const pending = members.filter((m) => m.paused !== paused).map((m) => m.name);
    if (pending.length === 0) return;
    if (Date.now() > deadline)
      throw new CliError(`not acknowledged within 60 s by: ${pending.join(', ')}`, EXIT.refused);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export function registerConfigCommands(program: Command, context: () => CliContext): void {
  program
    .command('show-config')
    .description('the dynamic cluster configuration (as stored; --effective with defaults)')
    .argument('[cluster]', 'cluster name')
    .option('--effective', 'show every key with its default applied')
    .action(async (clusterArg: string | undefined, opts: { effective?: boolean }) => {
      const ctx = context();
      const { data, version } = await ctx.store.getConfig(ctx.cluster(clusterArg));
      const shown = opts.effective ? parseClusterConfig(data) : data;
      ctx.out(
        ctx.json
          ? JSON.stringify({ version, config: shown })
          : `# version ${version}\n${stringify(shown).trimEnd()}`,
      );
    });
  program
    .command('edit-config')
    .description(
      'change the dynamic configuration: validated, shown as a diff, compare-and-set on its version',
    )
    .argument('[cluster]', 'cluster name')
    .option(
      '-s, --set <key=value>',
      'set a key (dotted for nested; value as YAML; null removes)',
      (v, all: string[]) => [...all, v],
      [],
    )
    .option(
      '-p, --pg <name=value>',
      'set a PostgreSQL parameter (postgresql.parameters)',
      (v, all: string[]) => [...all, v],
      [],
    )
    .option('--apply <file>', 'merge a YAML file (- for standard input)')
    .option('--force', 'apply without asking')
    .action(async (clusterArg: string | undefined, opts: ConfigChange) => {
      const ctx = context();
      const cluster = ctx.cluster(clusterArg);
      if (!opts.apply && !opts.set?.length && !opts.pg?.length)
        throw new CliError('nothing to change: give --set, --pg or --apply', EXIT.usage);
      const result = await changeConfig(ctx, cluster, opts);
      ctx.out(
        ctx.json
          ? JSON.stringify(result)
          : result.changed
            ? `Configuration changed (version ${result.version})`
            : 'Nothing changed',
      );
    });
  for (const [name, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    program
      .command(name)
      .description(
        paused ? 'maintenance mode: the controller decides nothing automatically' : 'leave maintenance mode',
      )
      .argument('[cluster]', 'cluster name')
      .option('--wait', 'wait until every member acknowledged it')
      .action(async (clusterArg: string | undefined, opts: { wait?: boolean }) => {
        const ctx = context();
        const cluster = ctx.cluster(clusterArg);
        const result = await changeConfig(ctx, cluster, { force: true, quiet: true }, (doc) => {
          if (paused) doc.pause = true;
          else delete doc.pause;
        });
        if (!result.changed) {
          ctx.out(`Cluster is ${paused ? 'already' : 'not'} paused`);
          return;
        }
        if (opts.wait) await waitForPause(ctx, cluster, paused);
        ctx.out(paused ? 'Success: cluster management is paused' : 'Success: cluster management is resumed');
      });
  }
}
