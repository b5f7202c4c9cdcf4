import { performance } from 'node:perf_hooks';
import { loadAgentConfig } from './config/load-agent-config.ts';
import { AgentDaemon } from './daemon/agent-daemon.ts';
import { FailsafeMember } from './failsafe/failsafe-member.ts';
import { startHealthServer } from './health/health-server.ts';
import { RouterSteering } from './router/router-steering.ts';
import { createRuntime } from './runtime.ts';
import { systemdNotifier } from './systemd/sd-notify.ts';
import { feedWatchdog } from './systemd/watchdog.ts';
import { AGENT_VERSION } from './version.ts';

/**
 * `pgwarden-agent run`: the daemon, its health API, failsafe and router. A module of its own,
 * loaded only by that command: an SSM action does not load the daemon's parts (its start is on
 * the path of every failover and switchover).
 */
export async function runDaemon(configPath: string): Promise<void> {
  const config = await loadAgentConfig(configPath);
  const rt = createRuntime(config);
  const notify = systemdNotifier();
  const router = config.router.enabled
    ? new RouterSteering({
        config,
        store: rt.store,
        logger: rt.logger,
        monotonic: () => performance.now(),
        query: (sql, params) => rt.observer.query(sql, params),
        onSwitchover: () => daemon.wake(),
      })
    : undefined;
  await router?.start();
  const daemon = new AgentDaemon(rt, router ? { onSnapshot: (s, c) => router.observe(s, c) } : {});
  const stopWatchdog = feedWatchdog(notify, () => daemon.healthy());
  const secrets = [config.failsafe.secret, config.failsafe.previous_secret].filter((x): x is string => !!x);
  const failsafe = new FailsafeMember({
    cluster: config.scope,
    me: config.name,
    secrets,
    store: rt.promises,
    status: () => daemon.status(),
    logger: rt.logger,
  });
  const api = await startHealthServer(config, () => daemon.status(), failsafe, router);
  rt.logger.info('agent started', {
    api: config.restapi.listen,
    version: AGENT_VERSION,
    ...(router
      ? {
          router: `${config.router.listen}:${config.router.writer_port} (writer), :${config.router.reader_port} (reader)`,
        }
      : {}),
  });
  const inactive = config.inactive_keys ?? {};
  if (Object.keys(inactive).length > 0) {
    // One warning for the whole file: each Patroni key pgwarden accepts and does not act on, and why.
    rt.logger.warn(`config keys accepted but not acted on: ${Object.keys(inactive).join(', ')}`, {
      inactive,
    });
  }
  notify.ready();
  const shutdown = (signal: string) => {
    rt.logger.info('agent stopping', { signal });
    stopWatchdog();
    daemon.stop();
    void api.close();
    void router?.stop();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  try {
    await daemon.run();
  } catch (error) {
    // A fatal start error (a directory it cannot use): say it once and exit, do not linger.
    shutdown('fatal error');
    throw error;
  }
}
