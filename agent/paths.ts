import { join } from 'node:path';
import type { AgentConfig } from '../core/config/agent-config.ts';

/** Where the agent keeps what, derived once from the config. */
export interface AgentPaths {
  readonly dataDir: string;
  readonly binDir: string;
  readonly stateDir: string;
  /** The agent-managed settings file, included at the end of postgresql.conf. */
  readonly managedConf: string;
  readonly postgresqlConf: string;
  readonly hbaFile: string;
  readonly standbySignal: string;
  readonly pgpass: string;
  readonly socketDir: string;
  readonly localState: string;
  readonly actionLock: string;
  /** The outcome of the last action (its heartbeat reports it). */
  readonly lastAction: string;
  /** An action asks the daemon to start PostgreSQL (which only the daemon's unit may start). */
  readonly startRequest: string;
  /** The failsafe promise this member made, and the pings it accepted. */
  readonly failsafeFile: string;
  readonly pgLog: string;
  bin(program: string): string;
}

export function agentPaths(config: AgentConfig): AgentPaths {
  const dataDir = config.postgresql.data_dir.replace(/\/+$/, '');
  const stateDir = config.state_dir ?? `${dataDir}.pgwarden`;
  const binDir = config.postgresql.bin_dir;
  return {
    dataDir,
    binDir,
    stateDir,
    managedConf: join(dataDir, 'pgwarden.conf'),
    postgresqlConf: join(dataDir, 'postgresql.conf'),
    hbaFile: join(dataDir, 'pg_hba.conf'),
    standbySignal: join(dataDir, 'standby.signal'),
    pgpass: config.postgresql.pgpass ?? join(stateDir, 'pgpass'),
    socketDir: stateDir,
    localState: join(stateDir, 'state.json'),
    actionLock: join(stateDir, 'action.lock'),
    lastAction: join(stateDir, 'last-action.json'),
    startRequest: join(stateDir, 'start.request'),
    failsafeFile: join(stateDir, 'failsafe.json'),
    pgLog: join(stateDir, 'postgresql.log'),
    bin: (program) => join(binDir, program),
  };
}
