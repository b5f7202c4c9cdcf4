import { existsSync } from 'node:fs';
import { chmod, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterConfig } from '../../core/config/cluster-config.ts';
import { bootstrapMethodArgs } from '../../core/config/create-methods.ts';
import { DATA_COMMAND_TIMEOUT_MS, runUserCommand } from '../command-line.ts';
import { setStandbySignal, writeOwned, writePgConfig, writePgpass } from '../postgres/pg-conf.ts';
import type { AgentRuntime } from '../runtime.ts';

/**
 * Patroni's `bootstrap.method`: a new cluster's first data made by the user's command (a restore
 * from a backup) instead of initdb, started with its recovery settings, primary once PostgreSQL
 * has finished recovery and promoted itself.
 */

/** How long the restored server may take to reach the end of recovery and promote. */
const RECOVERY_TIMEOUT_MS = 3_600_000;

const RECOVERY_PARAMETERS =
  /^\s*(restore_command|archive_cleanup_command|recovery_end_command|recovery_target\w*|recovery_min_apply_delay|primary_conninfo|primary_slot_name|promote_trigger_file)\s*=/;
const TARGET_PARAMETERS = /^\s*recovery_target\w*\s*=/;

/** Marks a bootstrap command under way: an agent that died in it must run it again from nothing. */
function markerPath(rt: AgentRuntime): string {
  return join(rt.paths.stateDir, 'bootstrap-method-running');
}

/** The data directory holds a bootstrap command's unfinished work. */
export function bootstrapMethodInterrupted(rt: AgentRuntime): boolean {
  return existsSync(markerPath(rt));
}

async function editAutoConf(rt: AgentRuntime, edit: (lines: string[]) => string[]): Promise<void> {
  const path = join(rt.paths.dataDir, 'postgresql.auto.conf');
  const text = await readFile(path, 'utf8').catch(() => '');
  await writeOwned(path, `${edit(text.split('\n')).join('\n').trimEnd()}\n`, rt.user);
}

function quote(value: string | number | boolean): string {
  return `'${String(value).replace(/'/g, "''")}'`;
}

/** Runs the command of `bootstrap.<method>` into the emptied data directory, and its recovery settings. */
export async function runBootstrapMethod(rt: AgentRuntime): Promise<void> {
  const { bootstrap } = rt.config;
  const method = bootstrap.method_section!;
  const key = `bootstrap.${bootstrap.method}`;
  await writeOwned(markerPath(rt), `${new Date().toISOString()}\n`, rt.user);
  await rt.postgres.wipeDataDir();
  rt.logger.info('bootstrapping with a custom method instead of initdb', {
    method: bootstrap.method,
    command: method.command,
  });
  try {
    await runUserCommand(rt.user, {
      key: `${key}.command`,
      command: method.command,
      args: bootstrapMethodArgs(method, { scope: rt.config.scope, dataDir: rt.paths.dataDir }),
      timeoutMs: DATA_COMMAND_TIMEOUT_MS,
    });
  } catch (error) {
    await rt.postgres.wipeDataDir();
    throw error;
  }
  await chmod(rt.paths.dataDir, 0o700);
  // Patroni's _post_restore: no promote trigger from the backup.
  await rm(join(rt.paths.dataDir, 'promote'), { force: true });
  const recovery = method.recovery_conf;
  if (recovery) {
    // Patroni writes these for the first start; they are removed once it has promoted.
    await editAutoConf(rt, (lines) => [
      ...lines.filter((l) => !RECOVERY_PARAMETERS.test(l)),
      `# pgwarden: ${key}.recovery_conf, for the first start`,
      ...Object.entries(recovery).map(([k, v]) => `${k} = ${quote(v)}`),
    ]);
    await writeOwned(join(rt.paths.dataDir, 'recovery.signal'), '', rt.user);
  } else if (!method.keep_existing_recovery_conf) {
    await editAutoConf(rt, (lines) => lines.filter((l) => !RECOVERY_PARAMETERS.test(l)));
    await rm(join(rt.paths.dataDir, 'recovery.signal'), { force: true });
  } else if (existsSync(rt.paths.standbySignal)) {
    // A restore written for a standby (pgBackRest --type=standby): this member is the primary of a
    // new cluster, so it recovers and promotes.
    await writeOwned(join(rt.paths.dataDir, 'recovery.signal'), '', rt.user);
  }
  await setStandbySignal(rt.paths, rt.user, false);
  await rm(markerPath(rt), { force: true });
}

/**
 * Starts the restored data as the new cluster's primary and waits for PostgreSQL to finish
 * recovery (it promotes itself at the end of the WAL, or at recovery_target with action promote).
 * A paused recovery is said, with what ends it.
 */
export async function startRestoredPrimary(rt: AgentRuntime, cluster: ClusterConfig): Promise<void> {
  await writePgpass(rt.config, rt.paths, rt.user);
  await writePgConfig(rt.config, cluster, rt.paths, rt.user, { syncStandbys: [] });
  await setStandbySignal(rt.paths, rt.user, false);
  if ((await rt.postgres.postmasterPid()) === undefined) {
    await rt.postgres.start(rt.config.postgresql.start_timeout * 1000, { wait: false });
  }
  const deadline = Date.now() + RECOVERY_TIMEOUT_MS;
  let saidPause = false;
  for (;;) {
    const seen = await rt.observer.observe(Date.now());
    if (seen.reachable && !seen.inRecovery) break;
    if (seen.replayPaused && !saidPause) {
      saidPause = true;
      rt.logger.warn(
        'the restored server paused recovery at its target: set recovery_target_action: promote, or run SELECT pg_wal_replay_resume() (or pg_promote()) on it',
      );
    }
    if (Date.now() > deadline) {
      throw new Error(
        `the restored server did not finish recovery within ${RECOVERY_TIMEOUT_MS / 1000} s (see ${rt.paths.pgLog})`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  // Recovery targets of the first start would stop the replicas cloned from it.
  await editAutoConf(rt, (lines) =>
    lines.filter((l) => !TARGET_PARAMETERS.test(l) && !/^# pgwarden: bootstrap\..*recovery_conf/.test(l)),
  );
  await rt.postgres.reload();
}
