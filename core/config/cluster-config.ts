import { z } from 'zod';
import { seconds } from './units.ts';
import { parseOrThrow } from './validation.ts';

/** How the controller makes sure an old primary is fenced before it promotes anyone (DESIGN §3). */
export const FencingMode = {
  /** Agent confirms `fence` over the command bus, or the instance is seen not running; else force-stop. */
  safe: 'safe',
  /** Always force-stop the old primary's instance and wait until it is stopped. Slowest, strongest. */
  stopInstance: 'stop_instance',
} as const;
export type FencingMode = (typeof FencingMode)[keyof typeof FencingMode];

const pgParameterValue = z.union([z.string(), z.number(), z.boolean()], {
  error: 'a string, number or boolean PostgreSQL setting',
});

/**
 * The dynamic cluster configuration (the `config` item), with Patroni's key names where the
 * meaning matches. Times are in seconds.
 */
export const clusterConfigSchema = z
  .strictObject({
    ttl: seconds(10),
    loop_wait: seconds(2),
    retry_timeout: seconds(4),
    /** pgwarden: the primary fences itself this long before its lease could be taken over. */
    safety_margin: seconds(2),
    maximum_lag_on_failover: z.number().int().nonnegative({ error: 'a byte count >= 0' }).default(1048576),
    synchronous_mode: z.boolean({ error: 'true or false' }).default(false),
    synchronous_mode_strict: z.boolean({ error: 'true or false' }).default(false),
    synchronous_node_count: z.number().int().min(1, { error: 'an integer >= 1' }).default(1),
    check_timeline: z.boolean({ error: 'true or false' }).default(false),
    /** Seconds the primary may spend restarting a crashed PostgreSQL before it releases the lease; 0 = at once. */
    primary_start_timeout: z.number().nonnegative({ error: 'a number of seconds >= 0' }).default(30),
    /** Seconds a fast shutdown may take before the agent escalates to an immediate one. */
    primary_stop_timeout: seconds(5),
    pause: z.boolean({ error: 'true or false' }).default(false),
    /** Patroni's key: a primary that cannot reach DynamoDB stays primary while every member answers its pings (DESIGN §3). */
    failsafe_mode: z.boolean({ error: 'true or false' }).default(true),
    fencing: z.enum(['safe', 'stop_instance'], { error: 'one of "safe", "stop_instance"' }).default('safe'),
    /** Seconds to wait for an agent's `fence` confirmation before force-stopping its instance. */
    fence_timeout: seconds(10),
    /** Seconds a switchover waits for the candidate to receive the old primary's final LSN. */
    switchover_timeout: seconds(30),
    /** Seconds one controller command (promote, demote, rejoin, ...) may take before it counts as failed. */
    command_timeout: seconds(60),
    /** How many times a failed step is retried before the operation rolls back or moves on. */
    step_retries: z.number().int().nonnegative().default(3),
    postgresql: z
      .strictObject({
        use_pg_rewind: z.boolean({ error: 'true or false' }).default(true),
        use_slots: z.boolean({ error: 'true or false' }).default(true),
        parameters: z.record(z.string(), pgParameterValue).default({}),
        /** Patroni's dynamic pg_hba lines; a member's own postgresql.pg_hba takes their place. */
        pg_hba: z.array(z.string({ error: 'a pg_hba.conf line' })).optional(),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    if (c.loop_wait + 2 * c.retry_timeout > c.ttl) {
      ctx.addIssue({
        code: 'custom',
        path: ['ttl'],
        message: `ttl >= loop_wait + 2*retry_timeout (${c.loop_wait} + 2*${c.retry_timeout} = ${c.loop_wait + 2 * c.retry_timeout})`,
        input: c.ttl,
      });
    }
    if (c.ttl <= c.loop_wait + c.safety_margin) {
      ctx.addIssue({
        code: 'custom',
        path: ['safety_margin'],
        message: `safety_margin < ttl - loop_wait (${c.ttl} - ${c.loop_wait}), or a renewal could never be valid`,
        input: c.safety_margin,
      });
    }
    if (c.synchronous_mode_strict && !c.synchronous_mode) {
      ctx.addIssue({
        code: 'custom',
        path: ['synchronous_mode_strict'],
        message: 'false unless synchronous_mode is true',
        input: c.synchronous_mode_strict,
      });
    }
  });

export type ClusterConfig = z.output<typeof clusterConfigSchema>;
export type ClusterConfigInput = z.input<typeof clusterConfigSchema>;

export function parseClusterConfig(input: unknown, source = 'cluster config'): ClusterConfig {
  return parseOrThrow(clusterConfigSchema, input ?? {}, source);
}

export const DEFAULT_CLUSTER_CONFIG: ClusterConfig = clusterConfigSchema.parse({});

/** The `fast` profile of the local topology and the benchmark: ttl 4 s, loop_wait 1 s. */
export const FAST_PROFILE: ClusterConfigInput = {
  ttl: 4,
  loop_wait: 1,
  retry_timeout: 1.5,
  safety_margin: 1,
};

/**
 * The config a stored `config` item stands for: its data parsed with the defaults, `fallback`
 * when there is none, and `fallback` with `valid: false` when it is malformed (the controller then
 * decides nothing automatic; agents and the CLI keep working with safe defaults).
 */
export function storedClusterConfig(
  data: Record<string, unknown> | undefined,
  fallback: ClusterConfig = DEFAULT_CLUSTER_CONFIG,
): { config: ClusterConfig; valid: boolean } {
  if (!data) return { config: fallback, valid: true };
  const parsed = clusterConfigSchema.safeParse(data);
  return parsed.success ? { config: parsed.data, valid: true } : { config: fallback, valid: false };
}
