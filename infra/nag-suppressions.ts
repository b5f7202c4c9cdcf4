import { type CfnElement, type Stack, Token, Validations } from 'aws-cdk-lib';
import { TlsAuthority } from './constructs/tls-authority.ts';

/**
 * Every cdk-nag (AwsSolutions) finding pgwarden accepts, each with its reason. Anything not
 * listed here fails the infra tests.
 */
/** Finding ids embed the partition and region when the stack's environment is known. */
function nagIds(stack: Stack) {
  const partition = Token.isUnresolved(stack.partition) ? '<AWS::Partition>' : stack.partition;
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  return { partition, region };
}

export function nagSuppressions(stack: Stack): readonly { id: string; reason: string }[] {
  const { partition, region } = nagIds(stack);
  const fixed = NAG_SUPPRESSIONS.map((s) => ({
    id: s.id.replace('<PARTITION>', partition).replace('<REGION>', region),
    reason: s.reason,
  }));
  // The finding names the function by its logical id: one per cluster's certificate authority.
  const authorities = stack.node
    .findAll()
    .filter((c): c is TlsAuthority => c instanceof TlsAuthority)
    .map((a) => ({
      id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(a.function.node.defaultChild as CfnElement)}.Arn>:*]`,
      reason:
        "CDK's custom-resource Provider may invoke any version of the certificate-authority function it fronts: that one function only.",
    }));
  return [...fixed, ...authorities];
}

const NAG_SUPPRESSIONS = [
  {
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
    reason: 'The documented minimum for SSM Run Command on the hosts (the command path of every action).',
  },
  {
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    reason: 'Only lets the controller function write its own logs.',
  },
  {
    id: 'AwsSolutions-IAM5[Resource::arn:<PARTITION>:ec2:<REGION>:<AWS::AccountId>:instance/*]',
    reason:
      'ssm:SendCommand and ec2:StopInstances on instances are conditioned on the pgwarden:cluster tag: only the cluster hosts match.',
  },
  {
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason: 'ssm:GetCommandInvocation and ec2:DescribeInstances have no resource-level permissions.',
  },
  {
    id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
    reason:
      'Publishing to the encrypted events topic needs a data key from its own customer-managed key (Topic.grantPublish, that key only).',
  },
  {
    id: 'AwsSolutions-EC23',
    reason:
      'Ingress is limited to the VPC CIDR (or the clientCidr prop), which is a token at synth time, so the rule cannot evaluate it.',
  },
  {
    id: 'AwsSolutions-L1',
    reason:
      'pgwarden targets the nodejs22.x runtime: its dependencies (middy 6, Powertools 2) and tests are pinned to it.',
  },
  {
    id: 'AwsSolutions-SMG4',
    reason:
      'Rotating the superuser/replication passwords needs a coordinated ALTER ROLE on the primary and new agent.env files on every host; not automated yet (docs/operations.md).',
  },
  {
    id: 'AwsSolutions-ELB2',
    reason:
      'NLB access logs only record TLS listeners; the PostgreSQL listeners are TCP (PostgreSQL negotiates TLS itself), so there is nothing to log.',
  },
] as const;

export function applyNagSuppressions(stack: Stack): void {
  for (const { id, reason } of nagSuppressions(stack)) Validations.of(stack).acknowledge({ id, reason });
}
