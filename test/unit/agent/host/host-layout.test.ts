import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  EC2_HOST_LAYOUT,
  hostDirectories,
  hostFiles,
  parseEnvironmentFile,
  parseUnitService,
  renderLauncher,
  renderUnit,
  rootedLayout,
} from '../../../../agent/host/host-layout.ts';
import { AGENT_NODE_FLAGS } from '../../../../agent/node-flags.ts';
import { AGENT_COMMAND } from '../../../../core/actions/ssm-document.ts';

const unit = readFileSync(
  new URL('../../../../agent/systemd/pgwarden-agent.service', import.meta.url),
  'utf8',
);
const setting = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(unit)?.[1];

describe('the agent systemd unit', () => {
  it('uses the watchdog and notify protocol the agent speaks', () => {
    expect(setting('Type')).toBe('notify');
    expect(setting('NotifyAccess')).toBe('all');
    expect(Number(setting('WatchdogSec'))).toBeGreaterThan(0);
  });

  it('stops PostgreSQL together with the agent, with a fast shutdown first', () => {
    expect(setting('KillMode')).toBe('control-group');
    expect(setting('KillSignal')).toBe('SIGINT');
    expect(setting('Restart')).toBe('always');
  });

  it('runs as the PostgreSQL user through the launcher that SSM also calls', () => {
    const service = parseUnitService(renderUnit(EC2_HOST_LAYOUT));
    expect(service.user).toBe('postgres');
    expect(service.execStart).toEqual([AGENT_COMMAND, 'run', '--config', EC2_HOST_LAYOUT.configFile]);
    expect(service.environmentFiles).toEqual([`-${EC2_HOST_LAYOUT.envFile}`]);
    expect(renderLauncher(EC2_HOST_LAYOUT)).toContain(
      `exec /usr/bin/node ${AGENT_NODE_FLAGS.join(' ')} /opt/pgwarden/pgwarden-agent.mjs "$@"`,
    );
  });
});

describe('the host layout', () => {
  it('roots every path of a local host under its directory, at the EC2 host paths', () => {
    const local = rootedLayout('/tmp/t/node1', '/usr/bin/node');
    expect(local.launcher).toBe(`/tmp/t/node1${AGENT_COMMAND}`);
    const service = parseUnitService(renderUnit(local));
    expect(service.execStart).toEqual([local.launcher, 'run', '--config', local.configFile]);
    expect(service.environmentFiles).toEqual([`-${local.envFile}`]);
    expect(renderLauncher(local)).toContain(`PGWARDEN_CONFIG:-${local.configFile}`);
  });

  it('gives the daemon its data, state and compile-cache directories and keeps the secrets root only', () => {
    const dirs = hostDirectories(EC2_HOST_LAYOUT);
    for (const path of [EC2_HOST_LAYOUT.dataDir, EC2_HOST_LAYOUT.stateDir, EC2_HOST_LAYOUT.compileCache])
      expect(dirs.find((d) => d.path === path)?.owner).toBe('run_as');
    const files = hostFiles(EC2_HOST_LAYOUT, {
      config: 'scope: x\n',
      secrets: { superuser: 'a', replication: 'b', rewind: 'd', app: 'e', failsafe: 'c' },
    });
    expect(files.find((f) => f.path === EC2_HOST_LAYOUT.envFile)).toMatchObject({
      mode: 0o600,
      owner: 'root',
    });
    expect(files.find((f) => f.path === EC2_HOST_LAYOUT.configFile)).toMatchObject({ mode: 0o644 });
  });

  it('parses an environment file as systemd does for simple lines', () => {
    expect(parseEnvironmentFile('# c\nA=1\nB="two words"\n\nbad line\n')).toEqual({ A: '1', B: 'two words' });
  });
});
