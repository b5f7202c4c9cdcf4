import { AGENT_ACTIONS } from '../decide/steps.ts';
import { ACTION_PARAMETER_PATTERNS } from './action-parameters.ts';

/** Name of the SSM document (CDK creates it; the SSM command bus sends it). */
export const ACTION_DOCUMENT_NAME = 'pgwarden-action';

/** Where the agent's launcher is installed on hosts (user data puts it there). */
export const AGENT_COMMAND = '/usr/local/bin/pgwarden-agent';

/** The one command line the document runs; every parameter is restricted by a pattern below. */
export const ACTION_COMMAND_TEMPLATE =
  `${AGENT_COMMAND} action {{ action }} --cluster {{ cluster }} --term {{ term }} ` +
  '--leader "{{ leader }}" --standbys "{{ standbys }}" --bundle "{{ bundle }}"';

export type ActionDocumentParameters = Record<
  'action' | 'cluster' | 'term' | 'leader' | 'standbys' | 'bundle',
  string
>;

/**
 * The `pgwarden-action` Command document (schema 2.2): one `aws:runShellScript` step with one
 * command and no shell operators. CDK renders it; the local command bus runs the same line.
 */
export function actionDocument(timeoutSeconds = 600) {
  return {
    schemaVersion: '2.2',
    description:
      'pgwarden: run one agent action (promote, demote, fence, rejoin, reinit, restart, reload, set-sync, upgrade-agent) on this host',
    parameters: {
      action: { type: 'String', description: 'the action', allowedValues: [...AGENT_ACTIONS] },
      cluster: {
        type: 'String',
        description: 'cluster (scope)',
        allowedPattern: ACTION_PARAMETER_PATTERNS.cluster,
      },
      term: {
        type: 'String',
        description: 'term the controller acts at',
        allowedPattern: ACTION_PARAMETER_PATTERNS.term,
      },
      leader: {
        type: 'String',
        description: 'member to follow',
        default: '',
        allowedPattern: ACTION_PARAMETER_PATTERNS.leader,
      },
      standbys: {
        type: 'String',
        description: 'synchronous standbys, comma separated',
        default: '',
        allowedPattern: ACTION_PARAMETER_PATTERNS.standbys,
      },
      bundle: {
        type: 'String',
        description: 'agent bundle to install (upgrade-agent): s3://bucket/key',
        default: '',
        allowedPattern: ACTION_PARAMETER_PATTERNS.bundle,
      },
    },
    mainSteps: [
      {
        action: 'aws:runShellScript',
        name: 'pgwardenAction',
        inputs: { runCommand: [ACTION_COMMAND_TEMPLATE], timeoutSeconds: String(timeoutSeconds) },
      },
    ],
  } as const;
}

/**
 * The document's command line with parameters substituted, as argv (no shell): what the local
 * command bus executes. Parameters are checked against the document's patterns first.
 */
export function renderActionCommand(parameters: ActionDocumentParameters): string[] {
  const doc = actionDocument();
  for (const [name, spec] of Object.entries(doc.parameters)) {
    const value =
      parameters[name as keyof ActionDocumentParameters] ?? ('default' in spec ? spec.default : undefined);
    const ok =
      'allowedValues' in spec
        ? (spec.allowedValues as readonly string[]).includes(value ?? '')
        : new RegExp(spec.allowedPattern).test(value ?? '');
    if (value === undefined || !ok) {
      throw new TypeError(
        `SSM parameter ${name}: got ${JSON.stringify(value)}, expected ${'allowedValues' in spec ? `one of ${spec.allowedValues.join(', ')}` : spec.allowedPattern}`,
      );
    }
  }
  const line = ACTION_COMMAND_TEMPLATE.replace(
    /\{\{ (\w+) \}\}/g,
    (_, name: string) => parameters[name as keyof ActionDocumentParameters] ?? '',
  );
  return splitCommandLine(line);
}

/** Splits on spaces, honouring double quotes (the only quoting the template uses). */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  const pattern = /"([^"]*)"|(\S+)/g;
  for (const match of line.matchAll(pattern)) words.push(match[1] ?? match[2]!);
  return words;
}
