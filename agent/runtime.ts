import { Logger } from '@aws-lambda-powertools/logger';

import { DynamoDbStore } from '../adapters/dynamodb/dynamodb-store.ts';
import { createJsonDocuments } from '../adapters/dynamodb/json-documents.ts';
import type { AgentConfig } from '../core/config/agent-config.ts';
import {
  type ClusterConfig,
  DEFAULT_CLUSTER_CONFIG,
  storedClusterConfig,
} from '../core/config/cluster-config.ts';
import { splitHostPort } from '../core/config/units.ts';
import type { ClusterSnapshot } from '../core/model/snapshot.ts';
import type { CoordinationStore } from '../core/store/coordination-store.ts';
import { PromiseStore } from './failsafe/promise-file.ts';
import { type OsUser, resolvePgUser } from './os-user.ts';
import { type AgentPaths, agentPaths } from './paths.ts';
import { socketDirectories } from './postgres/pg-conf.ts';
import { PgObserver } from './postgres/pg-observer.ts';
import { Postgres } from './postgres/postgres.ts';

/** Everything the daemon and the actions share, built once from the config. */
export interface AgentRuntime {
  readonly config: AgentConfig;
  readonly paths: AgentPaths;
  readonly user: OsUser | undefined;
  readonly postgres: Postgres;
  readonly observer: PgObserver;
  readonly store: CoordinationStore;
  readonly logger: Logger;
  /** The failsafe promise this member made (DESIGN §3). */
  readonly promises: PromiseStore;
}

export function createRuntime(
  config: AgentConfig,
  options: { store?: CoordinationStore; logger?: Logger; requestTimeoutMs?: number } = {},
): AgentRuntime {
  const paths = agentPaths(config);
  const user = resolvePgUser(config.postgresql.run_as);
  const store =
    options.store ??
    new DynamoDbStore(
      createJsonDocuments({
        region: config.dynamodb.region,
        ...(config.dynamodb.endpoint ? { endpoint: config.dynamodb.endpoint } : {}),
        requestTimeoutMs: options.requestTimeoutMs ?? 1000,
        maxAttempts: 2,
      }),
      config.dynamodb.table,
    );
  const logger =
    options.logger ??
    new Logger({
      serviceName: 'pgwarden-agent',
      logLevel: config.log.level.toUpperCase() as 'INFO',
      persistentKeys: { cluster: config.scope, member: config.name },
    });
  return {
    config,
    paths,
    user,
    postgres: new Postgres(paths, user),
    observer: new PgObserver({
      socketDirs: socketDirectories(config, paths),
      dataDir: paths.dataDir,
      port: splitHostPort(config.postgresql.listen).port,
      user: config.postgresql.authentication.superuser.username,
      timeoutMs: Math.min(2000, config.restapi.request_timeout * 1000),
    }),
    store,
    logger,
    promises: new PromiseStore(paths.failsafeFile),
  };
}

/** The dynamic config from a snapshot, or the bootstrap/default one when missing or malformed. */
export function clusterConfigOf(snapshot: ClusterSnapshot | undefined, config: AgentConfig): ClusterConfig {
  return storedClusterConfig(snapshot?.config?.data, config.bootstrap.dcs ?? DEFAULT_CLUSTER_CONFIG).config;
}
