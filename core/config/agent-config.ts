import { z } from 'zod';
import { clusterConfigSchema } from './cluster-config.ts';
import { bootstrapMethodSchema, methodName, replicaMethodSchema } from './create-methods.ts';
import { hostPort, listenAddresses, memberName } from './units.ts';
import { parseOrThrow } from './validation.ts';

const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
const filePath = z
  .string({ error: 'an absolute file path' })
  .startsWith('/', { error: 'an absolute file path' });

/** A role and how to reach a server as it: Patroni's `authentication.*` keys (libpq's names). */
const credentialFields = {
  username: z.string({ error: 'a role name' }).min(1),
  password: z.string({ error: 'a password string' }).optional(),
  sslmode: z.enum(SSL_MODES, { error: `one of ${SSL_MODES.join(', ')}` }).optional(),
  sslrootcert: filePath.optional(),
  sslcert: filePath.optional(),
  sslkey: filePath.optional(),
  sslpassword: z.string().optional(),
  sslcrl: filePath.optional(),
  sslcrldir: filePath.optional(),
  gssencmode: z.enum(['disable', 'prefer', 'require'], { error: 'disable, prefer or require' }).optional(),
  channel_binding: z
    .enum(['disable', 'prefer', 'require'], { error: 'disable, prefer or require' })
    .optional(),
};
const credentialsObject = z.strictObject(credentialFields);
export type Credentials = z.output<typeof credentialsObject>;

const credentials = (defaultUser: string) =>
  z
    .strictObject({ ...credentialFields, username: credentialFields.username.default(defaultUser) })
    .prefault({});

/** Member tags, as Patroni names them. */
export const tagsSchema = z
  .looseObject({
    nofailover: z.boolean({ error: 'true or false' }).default(false),
    failover_priority: z.number().int().nonnegative({ error: 'an integer >= 0' }).default(1),
    noloadbalance: z.boolean({ error: 'true or false' }).default(false),
    nosync: z.boolean({ error: 'true or false' }).default(false),
    clonefrom: z.boolean({ error: 'true or false' }).default(false),
    replicatefrom: memberName.optional(),
  })
  .prefault({})
  .superRefine((tags, ctx) => {
    if (tags.nofailover && tags.failover_priority > 0 && tags.failover_priority !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['failover_priority'],
        message: '0 (or left out) when nofailover is true',
        input: tags.failover_priority,
      });
    }
  });
export type Tags = z.output<typeof tagsSchema>;

const callbackScript = z.string({ error: 'the path of an executable script' }).min(1);

/**
 * The agent's local configuration: Patroni's YAML shape (`scope`, `name`, `restapi`,
 * `postgresql`, `tags`, `bootstrap`), with a `dynamodb:` section instead of `etcd:`.
 */
export const agentConfigSchema = z.strictObject({
  scope: memberName,
  name: memberName,
  restapi: z
    .strictObject({
      listen: hostPort,
      connect_address: hostPort.optional(),
      /** Seconds a health check may take before the API answers from its last observation. */
      request_timeout: z.number().positive().default(2),
      /** Patroni's: HTTPS with this certificate (PEM; the key may be in it too). */
      certfile: filePath.optional(),
      keyfile: filePath.optional(),
      keyfile_password: z.string().optional(),
      /** Patroni's: the CA client certificates (and the members' certificates, for pings) chain to. */
      cafile: filePath.optional(),
      ciphers: z.string().optional(),
      verify_client: z
        .enum(['none', 'optional', 'required'], { error: 'none, optional or required' })
        .default('none'),
      /** Patroni's: Basic auth on the mutating endpoint (POST /failsafe), on top of its signature. */
      authentication: z
        .strictObject(
          { username: z.string().min(1), password: z.string().min(1) },
          { error: 'a username and a password' },
        )
        .optional(),
    })
    .superRefine((r, ctx) => {
      for (const key of ['keyfile', 'cafile', 'ciphers'] as const)
        if (r[key] !== undefined && r.certfile === undefined)
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: 'only with restapi.certfile (HTTPS)',
            input: r[key],
          });
      if (r.verify_client !== 'none' && r.cafile === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['verify_client'],
          message: 'none unless restapi.cafile names the CA client certificates chain to',
          input: r.verify_client,
        });
    }),
  postgresql: z.strictObject({
    listen: listenAddresses,
    connect_address: hostPort.optional(),
    data_dir: z
      .string({ error: 'an absolute directory path' })
      .startsWith('/', { error: 'an absolute directory path' }),
    bin_dir: z.string({ error: 'a directory path' }).default('/usr/lib/postgresql/15/bin'),
    /** Patroni's: where the agent writes the password file for replication and pg_rewind. */
    pgpass: z.string().startsWith('/', { error: 'an absolute file path' }).optional(),
    /** Patroni's local override of the dynamic `postgresql.use_pg_rewind`. */
    use_pg_rewind: z.boolean({ error: 'true or false' }).optional(),
    /** pgwarden: the OS user that runs PostgreSQL's programs when the agent runs as root. */
    run_as: z.string({ error: 'an OS user name' }).default('postgres'),
    authentication: z
      .strictObject({
        superuser: credentials('postgres'),
        replication: credentials('replicator'),
        /**
         * The role pg_rewind (and the replicas' checkpoint request) connects as; without it the
         * superuser is used, and so may log in over the network. Created at bootstrap.
         */
        rewind: credentialsObject.optional(),
      })
      .prefault({}),
    parameters: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    pg_hba: z.array(z.string()).default([]),
    callbacks: z
      .strictObject({
        on_start: callbackScript.optional(),
        on_stop: callbackScript.optional(),
        on_restart: callbackScript.optional(),
        on_reload: callbackScript.optional(),
        on_role_change: callbackScript.optional(),
      })
      .prefault({}),
    /** Patroni's pg_basebackup options: `flag` or `{ option: value }` (e.g. `max-rate: 100M`). */
    basebackup: z
      .array(
        z.union([
          z.string().regex(/^[a-z][a-z-]*$/, { error: 'a pg_basebackup long option without --' }),
          z.record(z.string().regex(/^[a-z][a-z-]*$/), z.union([z.string(), z.number()])),
        ]),
      )
      .default([]),
    /**
     * Patroni's: how a new replica's data is made, tried in order until one succeeds
     * (default `basebackup`); each other name has its section (core/config/create-methods.ts).
     */
    create_replica_methods: z.array(methodName, { error: 'a list of method names' }).min(1).optional(),
    /** The sections of create_replica_methods, taken out of `postgresql:` by the loader. */
    replica_method_sections: z.record(z.string(), replicaMethodSchema).default({}),
    /** Seconds to wait for PostgreSQL to accept connections after a start. */
    start_timeout: z.number().positive().default(60),
  }),
  tags: tagsSchema,
  dynamodb: z.strictObject({
    table: z.string({ error: 'a DynamoDB table name' }).regex(/^[A-Za-z0-9_.-]{3,255}$/, {
      error: 'a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)',
    }),
    region: z.string().default('us-east-1'),
    endpoint: z.url({ error: 'an http(s) URL' }).optional(),
  }),
  bootstrap: z
    .strictObject({
      /** Initial dynamic configuration, written by whoever initialises the cluster. */
      dcs: clusterConfigSchema.optional(),
      initdb: z.array(z.union([z.string(), z.record(z.string(), z.string())])).default([]),
      /** Patroni's: `initdb` (the default) or the name of a section with a command (a restore). */
      method: methodName.optional(),
      /** That section, taken out of `bootstrap:` by the loader. */
      method_section: bootstrapMethodSchema.optional(),
      /**
       * A command run once the new cluster's primary is up (Patroni: `post_bootstrap`, or
       * `post_init`), given a connection URL for the superuser over the local socket; PGPASSFILE
       * is set. It may run again if the agent stops before the initialization completes.
       */
      post_bootstrap: z.string({ error: 'a command line' }).min(1).optional(),
      post_init: z.string({ error: 'a command line' }).min(1).optional(),
    })
    .prefault({}),
  /**
   * pgwarden: the cluster's shared secret that signs failsafe pings (DESIGN §3), and the one
   * before it, still accepted while a rotation reaches every host. Usually from agent.env
   * (PGWARDEN_FAILSAFE_SECRET, PGWARDEN_FAILSAFE_PREVIOUS_SECRET), never in the YAML.
   */
  failsafe: z
    .strictObject({
      secret: z.string().min(16, { error: 'at least 16 characters' }).optional(),
      previous_secret: z.string().min(16, { error: 'at least 16 characters' }).optional(),
    })
    .prefault({}),
  /**
   * pgwarden: the router on this host (issue #17): the endpoint's targets. Writer connections go
   * to the lease holder, reader connections to fresh replicas; during a switchover they wait.
   */
  router: z
    .strictObject({
      enabled: z.boolean({ error: 'true or false' }).default(false),
      /** The address both listeners bind. @default 0.0.0.0 */
      listen: z.string({ error: 'an address' }).min(1).default('0.0.0.0'),
      writer_port: z.number({ error: 'a TCP port' }).int().min(1).max(65535).default(5440),
      reader_port: z.number({ error: 'a TCP port' }).int().min(1).max(65535).default(5441),
      /** Seconds new connections may wait for a primary (a switchover, a promotion) before an error. */
      hold_timeout: z.number({ error: 'seconds' }).positive().max(600).default(15),
      /** Seconds a switchover waits for running transactions to end before the clean stop. */
      drain_timeout: z.number({ error: 'seconds' }).nonnegative().max(60).default(2),
      /**
       * The router runs every login itself (TLS ends at the router; the password proof is checked
       * against pg_authid) so that sessions between transactions move to a new primary. false:
       * bytes pass through untouched and every session is cut at a change of primary.
       */
      move_sessions: z.boolean({ error: 'true or false' }).default(true),
      /** TLS for clients: the host's certificate. @default postgresql.parameters.ssl_cert_file */
      certfile: filePath.optional(),
      /** @default postgresql.parameters.ssl_key_file */
      keyfile: filePath.optional(),
      /** The CA the members' certificates chain to (sessions to them verify it). @default ssl_ca_file */
      cafile: filePath.optional(),
    })
    .refine((r) => r.writer_port !== r.reader_port, {
      message: 'writer_port and reader_port must differ',
      path: ['reader_port'],
    })
    .prefault({}),
  /** pgwarden: the agent's own files (state, action lock, PostgreSQL log and socket). Default: `<data_dir>.pgwarden`. */
  state_dir: z.string().startsWith('/', { error: 'an absolute directory path' }).optional(),
  /** EC2 instance id of this host; the controller fences through it. Read from IMDS when absent on EC2. */
  instance_id: z.string().optional(),
  log: z.strictObject({ level: z.enum(['debug', 'info', 'warn', 'error']).default('info') }).prefault({}),
});

export type AgentConfig = z.output<typeof agentConfigSchema> & {
  /** The tag names the config file set (not filled in by a default), for Patroni's tag display. */
  readonly configured_tags?: readonly string[];
  /** Patroni keys the file set that pgwarden accepts and does not act on, with why. */
  readonly inactive_keys?: Readonly<Record<string, string>>;
};
export type AgentConfigInput = z.input<typeof agentConfigSchema>;

export function parseAgentConfig(input: unknown, source = 'agent config'): AgentConfig {
  const config = parseOrThrow(agentConfigSchema, input, source);
  const tags = (input as { tags?: unknown } | undefined)?.tags;
  return { ...config, configured_tags: tags && typeof tags === 'object' ? Object.keys(tags) : [] };
}

const BOOLEAN_TAGS = new Set(['clonefrom', 'nofailover', 'noloadbalance', 'nosync', 'nostream']);

/**
 * The tags Patroni publishes for a member: every configured tag, boolean ones only when true
 * (nofailover also when failover_priority is set, nosync when sync_priority is).
 */
export function shownTags(config: Pick<AgentConfig, 'tags' | 'configured_tags'>): Record<string, unknown> {
  const configured = new Set(config.configured_tags ?? []);
  const tags = config.tags as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(tags).filter(
      ([key, value]) =>
        configured.has(key) &&
        (!BOOLEAN_TAGS.has(key) ||
          value === true ||
          (key === 'nofailover' && configured.has('failover_priority')) ||
          (key === 'nosync' && configured.has('sync_priority'))),
    ),
  );
}
