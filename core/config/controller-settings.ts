import { z } from 'zod';
import { memberName } from './units.ts';
import { parseOrThrow } from './validation.ts';

/** Settings of the controller function (environment of the Lambda, or the local topology). */
export const controllerSettingsSchema = z.strictObject({
  table: z.string({ error: 'a DynamoDB table name' }).min(3),
  region: z.string().default('us-east-1'),
  endpoint: z.url({ error: 'an http(s) URL' }).optional(),
  /** Seconds between two evaluations of every cluster within one invocation. */
  tick: z.number().positive({ error: 'a positive number of seconds' }).default(1),
  /** Seconds before the invocation deadline at which the loop stops starting new ticks. */
  deadline_margin: z.number().nonnegative().default(5),
  /** Clusters evaluated at once within a tick. */
  cluster_concurrency: z.number().int().positive().default(16),
  /** Clusters to keep beside the registry's (PGWARDEN_CLUSTERS: the stack's), comma-separated. */
  clusters: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean),
    )
    .pipe(z.array(memberName))
    .default([]),
});

export type ControllerSettings = z.output<typeof controllerSettingsSchema>;

export function parseControllerSettings(input: unknown, source = 'controller settings'): ControllerSettings {
  return parseOrThrow(controllerSettingsSchema, input, source);
}
