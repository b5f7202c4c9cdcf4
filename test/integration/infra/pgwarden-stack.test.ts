import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { actionArgv } from '../../../core/actions/action-parameters.ts';
import {
  ACTION_COMMAND_TEMPLATE,
  AGENT_COMMAND,
  actionDocument,
  renderActionCommand,
} from '../../../core/actions/ssm-document.ts';
import { CONTROLLER_SCHEDULE } from '../../../core/controller/invocation-schedule.ts';
import { DEFAULT_HEALTH_CHECK } from '../../../core/endpoints/health-check-profile.ts';
import { ActionDocument } from '../../../infra/constructs/action-document.ts';
import { CoordinationTable } from '../../../infra/constructs/coordination-table.ts';
import { PgwardenController } from '../../../infra/constructs/pgwarden-controller.ts';
import { PgwardenEndpoint } from '../../../infra/constructs/pgwarden-endpoint.ts';
import { PostgresHosts } from '../../../infra/constructs/postgres-hosts.ts';
import { applyNagSuppressions, nagSuppressions } from '../../../infra/nag-suppressions.ts';
import { PgwardenStack } from '../../../infra/pgwarden-stack.ts';
import { parseStackContext } from '../../../infra/stack-context.ts';
import { buildAgentBundle } from '../../../scripts/build-agent.ts';

const ROOT = new URL('../../..', import.meta.url).pathname;
let bundle: string;
let app: App;
let stack: PgwardenStack;
let template: Template;

beforeAll(async () => {
  bundle = await buildAgentBundle();
  app = new App();
  stack = new PgwardenStack(app, 'Pgwarden', { agentBundlePath: bundle, clusterName: 'demo' });
  applyNagSuppressions(stack);
  template = Template.fromStack(stack);
});

describe('the pgwarden stack', () => {
  it('creates the table on demand, with PITR, deletion protection and TTL only for history', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      TableName: 'pgwarden',
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      Replicas: [
        Match.objectLike({
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          DeletionProtectionEnabled: true,
        }),
      ],
    });
  });

  const targetGroup = (port: number, path: string) => ({
    Port: port,
    Protocol: 'TCP',
    HealthCheckProtocol: 'HTTP',
    HealthCheckPort: String(DEFAULT_HEALTH_CHECK.apiPort),
    HealthCheckPath: path,
    HealthCheckIntervalSeconds: 5,
    HealthCheckTimeoutSeconds: 3,
    HealthyThresholdCount: 2,
    UnhealthyThresholdCount: 2,
    TargetGroupAttributes: Match.arrayWith([
      { Key: 'deregistration_delay.timeout_seconds', Value: '5' },
      { Key: 'deregistration_delay.connection_termination.enabled', Value: 'true' },
      // The attribute that really closes connections to a target that turned unhealthy.
      { Key: 'target_health_state.unhealthy.connection_termination.enabled', Value: 'true' },
    ]),
  });

  it("targets every host's router (writer 5440, reader 5441), checked on /router, and runs the routers", () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', targetGroup(5440, '/router'));
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', targetGroup(5441, '/router'));
    for (const port of [5440, 5441])
      template.hasResourceProperties('AWS::EC2::SecurityGroup', {
        SecurityGroupIngress: Match.arrayWith([Match.objectLike({ FromPort: port, ToPort: port })]),
      });
    const userData = JSON.stringify(template.findResources('AWS::EC2::LaunchTemplate'));
    expect(userData).toContain('writer_port: 5440');
  });

  it('without routers, gives the target groups the health checks of the shared profile', () => {
    const plain = new App();
    const s = new PgwardenStack(plain, 'Plain', {
      agentBundlePath: bundle,
      clusterName: 'demo',
      routers: false,
    });
    const t = Template.fromStack(s);
    // The reader leaves replicas behind by more than maximum_lag_on_failover (1 MiB by default).
    for (const path of ['/primary', '/replica?lag=1048576'])
      t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', targetGroup(5432, path));
    expect(JSON.stringify(t.findResources('AWS::EC2::LaunchTemplate'))).not.toContain('writer_port');
  });

  it('puts the writer on 5432 and the reader on 5433 of an internal, cross-zone NLB', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internal',
      Type: 'network',
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'load_balancing.cross_zone.enabled', Value: 'true' }]),
    });
    const ports = Object.values(template.findResources('AWS::ElasticLoadBalancingV2::Listener'))
      .map((l) => l.Properties.Port)
      .sort();
    expect(ports).toEqual([5432, 5433]);
  });

  it('lets agents touch only their own cluster partition, not the shared registry (LeadingKeys)', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: [
              'dynamodb:GetItem',
              'dynamodb:Query',
              'dynamodb:PutItem',
              'dynamodb:UpdateItem',
              'dynamodb:DeleteItem',
            ],
            Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['demo'] } },
          }),
        ]),
      },
    });
  });

  it('lets only the controller send commands: this document, on instances tagged with its cluster', () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement,
    );
    const sends = statements.filter((s) => [s.Action].flat().includes('ssm:SendCommand'));
    expect(sends.map((s) => s.Sid).sort()).toEqual([
      'SendOnlyTheActionDocument',
      'SendOnlyToClusterInstances',
    ]);
    expect(JSON.stringify(sends.find((s) => s.Sid === 'SendOnlyTheActionDocument').Resource)).toContain(
      'document/Pgwarden-action',
    );
    expect(sends.find((s) => s.Sid === 'SendOnlyToClusterInstances').Condition).toEqual({
      StringEquals: { 'ssm:resourceTag/pgwarden:cluster': ['demo'] },
    });
    const stops = statements.filter((s) => [s.Action].flat().includes('ec2:StopInstances'));
    expect(stops).toHaveLength(1);
    expect(stops[0].Condition).toEqual({ StringEquals: { 'aws:ResourceTag/pgwarden:cluster': ['demo'] } });
  });

  it('renders the SSM document from the same data the local command bus runs', () => {
    const doc = Object.values(template.findResources('AWS::SSM::Document'))[0]!.Properties;
    // Named after the stack: a second stack in the region has its own.
    expect(doc).toMatchObject({ Name: 'Pgwarden-action', DocumentType: 'Command', DocumentFormat: 'JSON' });
    expect(doc.Content).toEqual(JSON.parse(JSON.stringify(actionDocument(600))));
    expect(doc.Content.mainSteps).toHaveLength(1);
    expect(doc.Content.mainSteps[0].inputs.runCommand).toEqual([ACTION_COMMAND_TEMPLATE]);
    const argv = renderActionCommand({
      action: 'rejoin',
      cluster: 'demo',
      term: '4',
      leader: 'node1',
      standbys: '',
      bundle: '',
    });
    expect(argv).toEqual([
      AGENT_COMMAND,
      ...actionArgv({ action: 'rejoin', cluster: 'demo', term: 4, leader: 'node1' }),
    ]);
    for (const [name, spec] of Object.entries(
      doc.Content.parameters as Record<string, { allowedPattern?: string; allowedValues?: string[] }>,
    )) {
      expect(spec.allowedPattern ?? spec.allowedValues, name).toBeDefined();
    }
  });

  it('runs the controller on arm64 Node.js 22 every minute, each invocation overlapping the next', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Timeout: CONTROLLER_SCHEDULE.timeoutSeconds,
      Environment: {
        Variables: Match.objectLike({
          PGWARDEN_TICK_SECONDS: '1',
          PGWARDEN_DEADLINE_MARGIN_SECONDS: String(CONTROLLER_SCHEDULE.deadlineMarginSeconds),
          PGWARDEN_DOCUMENT_NAME: 'Pgwarden-action',
          // The stack names its clusters to the controller (hosts cannot write the registry).
          PGWARDEN_CLUSTERS: 'demo',
        }),
      },
    });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
    // The last tick of one invocation comes after the first of the next: no minute without a controller.
    const fn = Object.values(template.findResources('AWS::Lambda::Function')).find(
      (f) => f.Properties.Environment?.Variables?.PGWARDEN_TABLE,
    )!;
    const margin = Number(fn.Properties.Environment.Variables.PGWARDEN_DEADLINE_MARGIN_SECONDS);
    expect(fn.Properties.Timeout - margin).toBeGreaterThan(60);
  });

  it('reserves no concurrency: overlapping invocations are safe, and a small account quota must not fail the deploy', () => {
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function')))
      expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it("turns off Lambda's asynchronous retries: the schedule is the retry", () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 } })],
    });
  });

  it('alarms when no controller invocation ran for a minute, and on throttles', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Invocations',
      Namespace: 'AWS/Lambda',
      Period: 60,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Throttles',
      Namespace: 'AWS/Lambda',
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('spreads the hosts over at least two AZs with encrypted gp3 volumes and IMDSv2', () => {
    const instances = Object.values(template.findResources('AWS::EC2::Instance'));
    expect(instances).toHaveLength(3);
    // An environment-agnostic stack sees two AZs; with an account and region, up to three.
    expect(new Set(instances.map((i) => JSON.stringify(i.Properties.SubnetId))).size).toBeGreaterThanOrEqual(
      2,
    );
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        MetadataOptions: { HttpTokens: 'required' },
        BlockDeviceMappings: [
          { DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeSize: 100, VolumeType: 'gp3' } },
        ],
      }),
    });
  });

  it('writes no plaintext secret anywhere in the template', () => {
    const text = JSON.stringify(template.toJSON());
    expect(text).not.toMatch(/"SecretString"\s*:/);
    expect(text).not.toMatch(/password:\s*[^\s"\\]/i);
    expect(text).toContain('secretsmanager get-secret-value');
    for (const secret of Object.values(template.findResources('AWS::SecretsManager::Secret'))) {
      expect(secret.Properties.GenerateSecretString).toBeDefined();
    }
  });

  it('alarms on no primary, failover, refusal, lag and controller errors, to the SNS topic', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    expect(alarms.map((a) => a.MetricName).sort()).toEqual([
      'Errors',
      'EvaluationFailed',
      'FailoverRefused',
      'FailsafeActive',
      'HealthyHostCount',
      'Invocations',
      'MaxReplicaLagBytes',
      'PrimaryChanged',
      'Throttles',
    ]);
    for (const a of alarms) expect(a.AlarmActions).toHaveLength(1);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('passes cdk-nag AwsSolutions with every suppression explained', () => {
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
    for (const s of nagSuppressions(stack)) expect(s.reason.length, s.id).toBeGreaterThan(30);
  });
});

describe('the stack as it behaves in an account (issue #13)', () => {
  const synth = (overrides: Partial<ConstructorParameters<typeof PgwardenStack>[2]> = {}, agent = bundle) => {
    const app2 = new App();
    const st = new PgwardenStack(app2, 'Pgwarden', {
      agentBundlePath: agent,
      clusterName: 'demo',
      ...overrides,
    });
    return Template.fromStack(st);
  };
  const instances = (t: Template) => t.findResources('AWS::EC2::Instance');
  const userData = (t: Template) =>
    JSON.stringify(
      Object.values(t.findResources('AWS::EC2::LaunchTemplate'))[0]!.Properties.LaunchTemplateData.UserData,
    );

  it('a redeploy with a new agent bundle or a new image touches no database host', () => {
    const dir = mkdtempSync('/tmp/pgwarden-bundle-');
    const newer = join(dir, 'pgwarden-agent.mjs');
    writeFileSync(newer, `${readFileSync(bundle, 'utf8')}\n// a new release\n`);
    try {
      const before = synth();
      const newBundle = synth({}, newer);
      const newImage = synth({
        machineImage: ec2.MachineImage.genericLinux({ 'us-east-1': 'ami-0123456789abcdef0' }),
      });
      // The hosts are the same resources with the same properties: CloudFormation leaves them alone.
      expect(instances(newBundle)).toEqual(instances(before));
      expect(instances(newImage)).toEqual(instances(before));
      // The bundle is not in the user data (a new bundle would be a new launch-template version):
      // hosts read its location from an SSM parameter at boot.
      expect(userData(newBundle)).toEqual(userData(before));
      for (const i of Object.values(instances(before))) expect(i.Properties.LaunchTemplate.Version).toBe('1');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('moves one host at a time to a newer launch-template version when asked', () => {
    const t = synth({ hostTemplateVersions: [1, 1, 'latest'] });
    const versions = Object.entries(instances(t))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([, i]) => i.Properties.LaunchTemplate.Version);
    expect(versions.slice(0, 2)).toEqual(['1', '1']);
    expect(versions[2]).toMatchObject({ 'Fn::GetAtt': [expect.any(String), 'LatestVersionNumber'] });
  });

  it('lets the host role read only the bundle object, not the asset bucket', () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement,
    );
    const reads = statements.filter((st) => [st.Action].flat().some((a: string) => a.startsWith('s3:Get')));
    expect(reads.length).toBeGreaterThan(0);
    for (const st of reads) expect(JSON.stringify(st.Resource)).toMatch(/\.mjs"/);
  });

  it('reaches SSM, Secrets Manager and CloudWatch Logs through interface endpoints: failover does not need the NAT', () => {
    const services = Object.values(template.findResources('AWS::EC2::VPCEndpoint')).map((e) =>
      JSON.stringify(e.Properties.ServiceName),
    );
    for (const name of [
      '.ssm"',
      '.ssmmessages"',
      '.ec2messages"',
      '.secretsmanager"',
      '.logs"',
      's3',
      'dynamodb',
    ])
      expect(
        services.some((s) => s.includes(name)),
        name,
      ).toBe(true);
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    // The documented alternative: no interface endpoints, one NAT gateway per AZ.
    synth({ interfaceEndpoints: false, natGateways: 2 }).resourceCountIs('AWS::EC2::VPCEndpoint', 2);
    synth({ natGateways: 2 }).resourceCountIs('AWS::EC2::NatGateway', 2);
    expect(() => synth({ natGateways: 0 })).toThrow('PgwardenStack natGateways: got 0, expected 1 to 3');
  });

  it('encrypts the events topic with a key CloudWatch alarms may use to publish', () => {
    const topic = Object.values(template.findResources('AWS::SNS::Topic'))[0]!;
    expect(JSON.stringify(topic.Properties.KmsMasterKeyId)).not.toContain('alias/aws/sns');
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
        ]),
      },
    });
  });

  it('waits for each new host to answer /health (creation policy), after its subnet has egress', () => {
    for (const [id, i] of Object.entries(instances(template))) {
      expect(i.CreationPolicy, id).toEqual({ ResourceSignal: { Count: 1, Timeout: 'PT60M' } });
      expect(i.DependsOn?.length ?? 0, id).toBeGreaterThan(0);
    }
    const data = userData(template);
    expect(data).toContain('signal-resource');
    expect(data).toContain('/health');
    expect(data).toContain('retry dnf install');
    expect(data).toContain('retry aws s3 cp');
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        MetadataOptions: Match.objectLike({ InstanceMetadataTags: 'enabled' }),
      }),
    });
  });

  it('gives PostgreSQL TLS from a CA the stack provisions; replication verifies it; the superuser stays on the socket', () => {
    const authorities = template.findResources('Custom::PgwardenTlsAuthority');
    const [[authorityId, authority]] = Object.entries(authorities) as [
      [string, { Properties: { SecretArn: unknown } }],
    ];
    const caSecret = (authority.Properties.SecretArn as { Ref: string }).Ref;
    expect(template.findResources('AWS::SecretsManager::Secret')[caSecret]).toBeDefined();
    // Every host boots after the authority is in its secret.
    for (const [id, i] of Object.entries(instances(template))) expect(i.DependsOn, id).toContain(authorityId);
    const data = userData(template);
    expect(data).toContain(
      'issue-certificate --authority /run/pgwarden-authority.json --out /etc/pgwarden/tls',
    );
    expect(data).toContain('rm -f /run/pgwarden-authority.json');
    expect(data).toContain(caSecret);
    // The agent config (YAML in the user data): TLS on, verify-full replication and rewind, the
    // rewind role (so pg_hba rejects the superuser over the network), the post_bootstrap script.
    expect(data).toContain('ssl: on');
    expect(data).toContain('sslmode: verify-full');
    expect(data).toContain('sslrootcert: /etc/pgwarden/tls/ca.crt');
    expect(data).toContain('username: rewind');
    expect(data).toContain('post_bootstrap: /etc/pgwarden/post-bootstrap.sh');
    expect(data).toContain('PGWARDEN_APP_PASSWORD=$APP');
    // Hosts may read the CA; only the CA function may write it.
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) =>
      p.Properties.PolicyDocument.Statement.map((st: Record<string, unknown>) => ({
        ...st,
        roles: p.Properties.Roles,
      })),
    );
    const refersTo = (st: { Resource?: unknown }) => JSON.stringify(st.Resource ?? '').includes(caSecret);
    const writers = statements.filter(
      (st) => refersTo(st) && JSON.stringify(st.Action).includes('secretsmanager:PutSecretValue'),
    );
    expect(writers).toHaveLength(1);
    expect(JSON.stringify(writers[0].roles)).toContain('TlsAuthorityFunction');
    const hostReads = statements.filter(
      (st) =>
        refersTo(st) &&
        JSON.stringify(st.Action).includes('secretsmanager:GetSecretValue') &&
        JSON.stringify(st.roles).includes('HostsRole'),
    );
    expect(hostReads).toHaveLength(1);
    const outputs = template.toJSON().Outputs;
    expect(outputs.AppRoleSecretArn.Value).toEqual({ Ref: expect.stringMatching(/^HostsAppRolePassword/) });
    expect(outputs.CertificateAuthoritySecretArn.Value).toEqual({ Ref: caSecret });
  });

  it('names its document and dashboards after the stack: a second stack in the region does not collide', () => {
    const other = Template.fromStack(
      new PgwardenStack(new App(), 'Second', {
        agentBundlePath: bundle,
        clusterName: 'demo',
        tableName: 'pgwarden-second',
      }),
    );
    const names = (t: Template, type: string, key: string) =>
      Object.values(t.findResources(type)).map((r) => r.Properties[key]);
    expect(names(other, 'AWS::SSM::Document', 'Name')).toEqual(['Second-action']);
    expect(names(template, 'AWS::CloudWatch::Dashboard', 'DashboardName')).toEqual(['Pgwarden-demo']);
    expect(names(other, 'AWS::CloudWatch::Dashboard', 'DashboardName')).toEqual(['Second-demo']);
  });
});

describe('one table and one controller for several clusters', () => {
  it('gives each cluster its hosts, endpoint and alarms, and the controller every cluster tag', () => {
    const multi = new PgwardenStack(new App(), 'Multi', {
      agentBundlePath: bundle,
      clusters: ['orders', 'billing'],
    });
    const t = Template.fromStack(multi);
    t.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
    // One controller; per cluster a certificate authority function and its provider's.
    t.resourceCountIs('AWS::Lambda::Function', 1 + 2 * 2);
    t.resourceCountIs('Custom::PgwardenTlsAuthority', 2);
    t.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 2);
    t.resourceCountIs('AWS::EC2::Instance', 6);
    const statements = Object.values(t.findResources('AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement,
    );
    const send = statements.find((s) => s.Sid === 'SendOnlyToClusterInstances');
    expect(send.Condition).toEqual({
      StringEquals: { 'ssm:resourceTag/pgwarden:cluster': ['orders', 'billing'] },
    });
    const agentKeys = statements
      .filter((s) => s.Condition?.['ForAllValues:StringEquals'])
      .map((s) => s.Condition['ForAllValues:StringEquals']['dynamodb:LeadingKeys']);
    expect(agentKeys).toEqual(expect.arrayContaining([['orders'], ['billing']]));
    // Not one cluster's host may write the registry another cluster's presence depends on.
    expect(agentKeys.flat()).not.toContain('#clusters');
    expect(Object.keys(t.toJSON().Outputs)).toEqual(
      expect.arrayContaining(['WriterEndpoint', 'WriterEndpointbilling']),
    );
    expect(
      () => new PgwardenStack(new App(), 'Dup', { agentBundlePath: bundle, clusters: ['a', 'a'] }),
    ).toThrow('PgwardenStack clusters: got ["a","a"]');
  });
});

describe('construct validation', () => {
  const vpcStack = () => {
    const s = new Stack(new App(), 'S');
    return { s, vpc: new ec2.Vpc(s, 'Vpc', { maxAzs: 2 }) };
  };

  it.each([
    [{ nodeCount: 1 }, 'PostgresHosts nodeCount: got 1, expected a whole number from 2 to 9'],
    [{ clusterName: 'bad name' }, 'PostgresHosts clusterName: got "bad name"'],
    [{ postgresVersion: 14 }, 'PostgresHosts postgresVersion: got 14, expected one of 15'],
    [{ volumeSizeGiB: 5 }, 'PostgresHosts volumeSizeGiB: got 5'],
    [{ clusterConfig: { ttl: 3 } }, 'ttl: got 3, expected ttl >= loop_wait + 2*retry_timeout'],
    [{ hostTemplateVersions: [1, 0] }, 'PostgresHosts hostTemplateVersions[1]: got 0'],
    [{ hostTemplateVersions: [1, 1, 1, 1] }, 'PostgresHosts hostTemplateVersions: got 4 entries'],
  ])('PostgresHosts refuses %j', (patch, message) => {
    const { s, vpc } = vpcStack();
    const table = new CoordinationTable(s, 'T');
    expect(
      () => new PostgresHosts(s, 'H', { vpc, clusterName: 'demo', table, agentBundlePath: bundle, ...patch }),
    ).toThrow(message);
  });

  it('the other constructs name the prop and the bad value', () => {
    const { s, vpc } = vpcStack();
    expect(() => new CoordinationTable(s, 'T', { tableName: 'x' })).toThrow(
      'CoordinationTable tableName: got "x"',
    );
    expect(() => new ActionDocument(s, 'D', { documentName: 'aws-mine' })).toThrow(
      'ActionDocument documentName: got "aws-mine"',
    );
    expect(() => new ActionDocument(s, 'D2', { executionTimeoutSeconds: 5 })).toThrow(
      'ActionDocument executionTimeoutSeconds: got 5',
    );
    const table = new CoordinationTable(s, 'T2');
    const document = new ActionDocument(s, 'D3');
    expect(
      () =>
        new PgwardenController(s, 'C', { table, document, clusters: ['demo'], tick: Duration.millis(100) }),
    ).toThrow('PgwardenController tick: got 100 milli');
    expect(
      () =>
        new PgwardenController(s, 'C3', {
          table,
          document,
          clusters: ['demo'],
          timeout: Duration.seconds(60),
        }),
    ).toThrow('PgwardenController timeout: got 1 minute, expected more than 68 seconds');
    expect(() => new PgwardenController(s, 'C2', { table, document, clusters: [] })).toThrow(
      'PgwardenController clusters: got none',
    );
    expect(
      () =>
        new PgwardenEndpoint(s, 'E', {
          vpc,
          instanceIds: ['i-1'],
          healthCheck: { ...DEFAULT_HEALTH_CHECK, timeoutSeconds: 9 },
        }),
    ).toThrow('PgwardenEndpoint healthCheck.timeoutSeconds: got 9');
  });

  it('reads CDK context values, as -c passes them (strings), and refuses bad ones by name', () => {
    const ctx = {
      clusterName: 'prod',
      nodeCount: '5',
      retainTable: 'false',
      clusterConfig: '{"ttl":20,"loop_wait":2,"retry_timeout":4}',
      hostTemplateVersions: '1,1,latest',
      natGateways: '3',
    } as Record<string, unknown>;
    expect(parseStackContext((k) => ctx[k])).toMatchObject({
      stackName: 'Pgwarden',
      props: {
        clusterName: 'prod',
        nodeCount: 5,
        retainTable: false,
        clusterConfig: { ttl: 20 },
        hostTemplateVersions: [1, 1, 'latest'],
        natGateways: 3,
      },
    });
    expect(() => parseStackContext((k) => ({ hostTemplateVersions: '1,0' })[k])).toThrow(
      /hostTemplateVersions/,
    );
    const bad: Record<string, unknown> = { nodeCount: '1', vpcId: 'vpc-x' };
    expect(() => parseStackContext((k) => bad[k])).toThrow(/vpcId: got "vpc-x", expected a VPC id/);
    expect(() => parseStackContext((k) => bad[k])).toThrow(/nodeCount: got "1"/);
  });
});

describe('cdk synth of the app', () => {
  it('synthesizes offline, without AWS credentials, with cdk-nag passing', () => {
    const out = mkdtempSync('/tmp/pgwarden-cdk-');
    try {
      const run = spawnSync(
        process.execPath,
        [join(ROOT, 'node_modules/aws-cdk/bin/cdk'), 'synth', '--quiet', '--no-notices', '-o', out],
        {
          cwd: ROOT,
          encoding: 'utf8',
          env: {
            ...process.env,
            AWS_ACCESS_KEY_ID: '',
            AWS_SECRET_ACCESS_KEY: '',
            AWS_PROFILE: '',
            CDK_DISABLE_VERSION_CHECK: 'true',
          },
          timeout: 240_000,
        },
      );
      expect(run.status, run.stderr).toBe(0);
      const synthesized = JSON.parse(readFileSync(join(out, 'Pgwarden.template.json'), 'utf8'));
      expect(Object.keys(synthesized.Outputs)).toEqual(
        expect.arrayContaining(['WriterEndpoint', 'ReaderEndpoint', 'TableName']),
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 300_000);
});
