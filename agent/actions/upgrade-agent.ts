import { realpathSync } from 'node:fs';
import { chmod, copyFile, readFile, rename, rm } from 'node:fs/promises';
import { ActionRefusedError } from '../errors.ts';
import { runProgram } from '../postgres/run-program.ts';
import { AGENT_VERSION } from '../version.ts';
import type { ActionHandler } from './action-context.ts';

/** The bundle this process runs from: the launcher execs `node <bundle> ...`. */
function installedBundle(): string {
  const script = process.argv[1];
  if (!script?.endsWith('.mjs'))
    throw new ActionRefusedError('upgrade-agent', `not running from an installed bundle (${script})`);
  return realpathSync(script);
}

/**
 * Installs another agent bundle on this host and restarts the agent's unit (a rolling upgrade,
 * docs/operations.md): fetched beside the installed one (S3 through the AWS CLI, or a path),
 * checked to start (`--version`), swapped in with a rename, then `systemctl restart`. Refused on
 * the primary: the unit's PostgreSQL stops with its agent, so the primary is switched over first.
 */
export const upgradeAgent: ActionHandler = async ({ rt, args, local }) => {
  const source = args.bundle!;
  if (local?.want === 'primary')
    throw new ActionRefusedError(
      'upgrade-agent',
      'this member is the primary: switch over first (restarting its agent stops its PostgreSQL)',
    );
  const target = installedBundle();
  // Node loads it as a module only with the .mjs extension.
  const next = target.replace(/\.mjs$/, `.next-${process.pid}.mjs`);
  try {
    if (source.startsWith('s3://'))
      await runProgram('aws', ['s3', 'cp', '--only-show-errors', source, next], undefined, {
        timeoutMs: 300_000,
      });
    else await copyFile(source, next);
    const version = (
      await runProgram(process.execPath, [next, '--version'], undefined, { timeoutMs: 30_000 })
    ).stdout.trim();
    if (!/^\S+$/.test(version))
      throw new ActionRefusedError(
        'upgrade-agent',
        `${source} does not print a version: not an agent bundle`,
      );
    const same = (await readFile(next)).equals(await readFile(target));
    if (same) return { changed: false, message: `agent ${version} already installed`, version };
    await chmod(next, 0o644);
    await rename(next, target);
    rt.logger.warn('agent bundle replaced; restarting the agent unit', { from: AGENT_VERSION, to: version });
    // Returns once the new agent is up (Type=notify); TimeoutStopSec bounds the stop.
    await runProgram('systemctl', ['restart', 'pgwarden-agent.service'], undefined, { timeoutMs: 180_000 });
    return { changed: true, message: `agent ${AGENT_VERSION} -> ${version}; its unit restarted`, version };
  } finally {
    await rm(next, { force: true });
  }
};
