import { spawn } from 'node:child_process';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { AgentConfig } from '../core/config/agent-config.ts';

export type CallbackName = 'on_start' | 'on_stop' | 'on_restart' | 'on_reload' | 'on_role_change';

/**
 * Runs a user callback like Patroni does: `script <action> <role> <scope>`, in the background,
 * killed after 30 s; its failure is logged and never affects the agent.
 */
export function runCallback(config: AgentConfig, logger: Logger, name: CallbackName, role: string): void {
  const script = config.postgresql.callbacks[name];
  if (!script) return;
  const child = spawn(script, [name, role, config.scope], { stdio: 'ignore', detached: true });
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {}
  }, 30_000);
  timer.unref();
  child.once('error', (error) => {
    clearTimeout(timer);
    logger.warn('callback could not start', { callback: name, script, error: error.message });
  });
  child.once('exit', (code) => {
    clearTimeout(timer);
    if (code !== 0) logger.warn('callback failed', { callback: name, script, exitCode: code });
  });
  child.unref();
}
