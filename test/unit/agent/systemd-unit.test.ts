import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AGENT_NODE_FLAGS } from '../../../agent/node-flags.ts';
import { AGENT_COMMAND } from '../../../core/actions/ssm-document.ts';

const unit = readFileSync(new URL('../../../agent/systemd/pgwarden-agent.service', import.meta.url), 'utf8');
const launcher = readFileSync(new URL('../../../agent/systemd/pgwarden-agent.sh', import.meta.url), 'utf8');
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
    expect(setting('User')).toBe('postgres');
    expect(setting('ExecStart')).toMatch(new RegExp(`^${AGENT_COMMAND} run `));
    expect(launcher).toContain(
      `exec /usr/bin/node ${AGENT_NODE_FLAGS.join(' ')} /opt/pgwarden/pgwarden-agent.mjs "$@"`,
    );
  });
});
