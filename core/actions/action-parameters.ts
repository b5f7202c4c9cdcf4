import { z } from 'zod';
import { NAME_PATTERN } from '../config/units.ts';
import { parseOrThrow } from '../config/validation.ts';
import { AGENT_ACTIONS, type AgentAction } from '../decide/steps.ts';
import { CommandDeliveryError } from '../errors.ts';

const NAME = NAME_PATTERN.source.slice(1, -1);

/**
 * The parameters of `pgwarden-agent action`, as regular expressions: the SSM document restricts
 * each parameter with them (`allowedPattern`), and the agent validates its arguments with the
 * same ones, so the two cannot drift. Empty `leader`/`standbys` mean "not given".
 */
export const ACTION_PARAMETER_PATTERNS = {
  cluster: `^${NAME}$`,
  term: '^[0-9]{1,10}$',
  leader: `^(${NAME})?$`,
  standbys: `^(\\*|${NAME}(,${NAME}){0,15})?$`,
  /** An agent bundle to install: an S3 object, or an absolute path on the host. */
  bundle: '^((s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/|/)[A-Za-z0-9/._+-]{1,1024})?$',
} as const;

export const actionArgsSchema = z
  .object({
    action: z.enum(AGENT_ACTIONS, { error: `one of ${AGENT_ACTIONS.join(', ')}` }),
    cluster: z.string().regex(new RegExp(ACTION_PARAMETER_PATTERNS.cluster), { error: 'a cluster name' }),
    term: z
      .string()
      .regex(new RegExp(ACTION_PARAMETER_PATTERNS.term), {
        error: 'a term: a whole number of at most 10 digits',
      })
      .transform(Number),
    leader: z
      .string()
      .regex(new RegExp(ACTION_PARAMETER_PATTERNS.leader), { error: 'a member name' })
      .optional()
      .transform((v) => (v ? v : undefined)),
    standbys: z
      .string()
      .regex(new RegExp(ACTION_PARAMETER_PATTERNS.standbys), {
        error: 'member names separated by commas, or *',
      })
      .optional()
      .transform((v) => (v === undefined ? undefined : v === '' ? [] : v.split(','))),
    bundle: z
      .string()
      .regex(new RegExp(ACTION_PARAMETER_PATTERNS.bundle), {
        error: 'an agent bundle: s3://bucket/key or an absolute path',
      })
      .optional()
      .transform((v) => (v ? v : undefined)),
  })
  .superRefine((args, ctx) => {
    if (args.action === 'rejoin' && !args.leader) {
      ctx.addIssue({
        code: 'custom',
        path: ['leader'],
        message: 'the member to follow (rejoin needs --leader)',
        input: args.leader,
      });
    }
    if (args.action === 'upgrade-agent' && !args.bundle) {
      ctx.addIssue({
        code: 'custom',
        path: ['bundle'],
        message: 'the bundle to install (upgrade-agent needs --bundle)',
        input: args.bundle,
      });
    }
    if (args.action === 'set-sync' && args.standbys === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['standbys'],
        message: 'the standbys, comma separated (set-sync needs --standbys; "" clears)',
        input: args.standbys,
      });
    }
  });

export type ActionArgs = z.output<typeof actionArgsSchema>;

export function parseActionArgs(input: {
  action: string;
  cluster?: string;
  term?: string;
  leader?: string;
  standbys?: string;
  bundle?: string;
}): ActionArgs {
  return parseOrThrow(actionArgsSchema, input, 'action arguments');
}

/** One agent action as the words of its command line: what SSM and the local bus both run. */
export function actionArgv(args: {
  action: AgentAction;
  cluster: string;
  term: number;
  leader?: string;
  standbys?: readonly string[];
  bundle?: string;
}): string[] {
  return [
    'action',
    args.action,
    '--cluster',
    args.cluster,
    '--term',
    String(args.term),
    '--leader',
    args.leader ?? '',
    '--standbys',
    args.standbys?.join(',') ?? '',
    '--bundle',
    args.bundle ?? '',
  ];
}

/** One JSON line an action prints, and what the controller reads back. */
export const actionResultSchema = z.object({
  ok: z.boolean(),
  action: z.string(),
  member: z.string().default(''),
  term: z.number().default(0),
  changed: z.boolean().default(false),
  message: z.string(),
  lsn: z.number().optional(),
  timeline: z.number().optional(),
  code: z.string().optional(),
  /** upgrade-agent: the version of the agent now installed. */
  version: z.string().optional(),
});
export type ActionResult = z.output<typeof actionResultSchema>;

/** The last `{"ok":...}` line of an action's output. */
export function parseActionOutput(member: string, output: string | undefined): ActionResult {
  const line = (output ?? '')
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{"ok"'));
  if (!line) throw new CommandDeliveryError(member, 'the action printed no result line');
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new CommandDeliveryError(member, `unreadable result line: ${line.slice(0, 200)}`);
  }
  const parsed = actionResultSchema.safeParse(json);
  if (!parsed.success)
    throw new CommandDeliveryError(member, `unreadable result line: ${line.slice(0, 200)}`);
  return parsed.data;
}
