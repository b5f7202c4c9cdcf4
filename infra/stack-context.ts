import { z } from 'zod';
import { clusterConfigSchema } from '../core/config/cluster-config.ts';
import { memberName } from '../core/config/units.ts';
import { parseOrThrow } from '../core/config/validation.ts';
import type { PgwardenStackProps } from './pgwarden-stack.ts';

const numberish = z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]);
const booleanish = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

/** CDK context values (cdk.json, or `-c key=value` which arrive as strings). */
const contextSchema = z.object({
  stackName: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, { error: 'a CloudFormation stack name' })
    .default('Pgwarden'),
  clusterName: memberName.default('demo'),
  /** Several clusters sharing one table and controller: a comma-separated list or an array. */
  clusters: z
    .union([z.string().transform((v) => v.split(',').map((x) => x.trim())), z.array(z.string())])
    .pipe(z.array(memberName).min(1))
    .optional(),
  vpcId: z
    .string()
    .regex(/^vpc-[0-9a-f]{8,17}$/, { error: 'a VPC id like vpc-0123456789abcdef0' })
    .optional(),
  nodeCount: numberish.pipe(z.number().int().min(2).max(9)).optional(),
  instanceType: z
    .string()
    .regex(/^[a-z0-9]+\.[a-z0-9]+$/, { error: 'an EC2 instance type like t4g.medium' })
    .optional(),
  postgresVersion: numberish.pipe(z.literal(15, { error: '15 (the version pgwarden supports)' })).optional(),
  tableName: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{3,255}$/)
    .optional(),
  volumeSizeGiB: numberish.pipe(z.number().int().min(20).max(16384)).optional(),
  retainTable: booleanish.optional(),
  natGateways: numberish.pipe(z.number().int().min(1).max(3)).optional(),
  interfaceEndpoints: booleanish.optional(),
  routers: booleanish.optional(),
  /** Launch-template version per host, e.g. `1,1,latest` (replace host 3 alone). */
  hostTemplateVersions: z
    .union([
      z.string().transform((v) => v.split(',').map((x) => x.trim())),
      z.array(z.union([z.string(), z.number()])),
    ])
    .pipe(
      z.array(
        z.union([
          z.literal('latest'),
          numberish.pipe(
            z.number().int().min(1, { error: 'a launch-template version number >= 1, or latest' }),
          ),
        ]),
      ),
    )
    .optional(),
  clusterConfig: z
    .union([z.string().transform((s) => JSON.parse(s) as unknown), z.record(z.string(), z.unknown())])
    .pipe(clusterConfigSchema)
    .optional(),
});

export function parseStackContext(get: (key: string) => unknown): {
  stackName: string;
  props: Omit<PgwardenStackProps, 'agentBundlePath'>;
} {
  const raw = Object.fromEntries(
    Object.keys(contextSchema.shape)
      .map((k) => [k, get(k)])
      .filter(([, v]) => v !== undefined),
  );
  const { stackName, ...props } = parseOrThrow(contextSchema, raw, 'CDK context');
  return { stackName, props: props as Omit<PgwardenStackProps, 'agentBundlePath'> };
}
