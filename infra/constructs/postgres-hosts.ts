import { Duration, Fn, Stack, Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { stringify } from 'yaml';
import {
  APP_ROLE,
  EC2_HOST_LAYOUT,
  hostDirectories,
  hostFiles,
  hostSecurityConfig,
} from '../../agent/host/host-layout.ts';
import type { AgentConfigInput } from '../../core/config/agent-config.ts';
import { type ClusterConfigInput, parseClusterConfig } from '../../core/config/cluster-config.ts';
import { NAME_PATTERN } from '../../core/config/units.ts';
import { DEFAULT_HEALTH_CHECK } from '../../core/endpoints/health-check-profile.ts';
import type { CoordinationTable } from './coordination-table.ts';
import { CLUSTER_TAG } from './pgwarden-controller.ts';
import { TlsAuthority } from './tls-authority.ts';

export const SUPPORTED_POSTGRES_VERSIONS = [15] as const;

export interface PostgresHostsProps {
  readonly vpc: ec2.IVpc;
  readonly clusterName: string;
  readonly table: CoordinationTable;
  /** The agent bundle file (dist/pgwarden-agent.mjs), shipped as an S3 asset. */
  readonly agentBundlePath: string;
  /** Where SSM writes the output of each action. */
  readonly commandLogGroup?: logs.ILogGroup;
  /** One host per subnet, round robin over the AZs. @default 3 */
  readonly nodeCount?: number;
  /** @default t4g.medium (Graviton) */
  readonly instanceType?: ec2.InstanceType;
  /** @default 15 */
  readonly postgresVersion?: number;
  /** Root volume (holds PGDATA), gp3, encrypted. @default 100 */
  readonly volumeSizeGiB?: number;
  /** Initial dynamic configuration (`bootstrap.dcs`), validated here. @default - pgwarden's defaults */
  readonly clusterConfig?: ClusterConfigInput;
  /** Who may connect to PostgreSQL (5432) and to the health API (8008). @default - the VPC CIDR */
  readonly clientCidr?: string;
  /** Run the router on every host (issue #17) on 5440 (writer) and 5441 (reader). @default true */
  readonly routers?: boolean;
  /** @default - private subnets with egress */
  readonly subnets?: ec2.SubnetSelection;
  /**
   * The image. A host keeps the image of the launch-template version it was created from, so a
   * newer image never replaces a running host (see hostTemplateVersions).
   * @default - the latest Amazon Linux 2023 arm64 image (SSM public parameter) at each deploy
   */
  readonly machineImage?: ec2.IMachineImage;
  /**
   * The launch-template version each host runs (index 0 is host 1): a new image or user data makes
   * a new version, never a new host. Moving one host to a newer version (a number, or `latest`)
   * replaces that host alone; its empty volume then joins as a replica by itself.
   * @default - version 1 for every host
   */
  readonly hostTemplateVersions?: readonly (number | 'latest')[];
  /** How long CloudFormation waits for a new host's agent to answer /health. @default 60 minutes */
  readonly bootTimeout?: Duration;
}

/**
 * The PostgreSQL hosts: one instance per subnet over ≥ 2 AZs from one launch template, each with
 * PostgreSQL, Node.js 22, the agent bundle and its systemd unit, and the passwords from Secrets
 * Manager (never in user data or the template).
 */
export class PostgresHosts extends Construct {
  readonly role: iam.Role;
  readonly securityGroup: ec2.SecurityGroup;
  readonly secret: secretsmanager.Secret;
  /** The application role's name and password (JSON username, password). */
  readonly appSecret: secretsmanager.Secret;
  readonly authority: TlsAuthority;
  readonly instances: ec2.CfnInstance[] = [];
  readonly bundleParameter: ssm.StringParameter;

  constructor(scope: Construct, id: string, props: PostgresHostsProps) {
    super(scope, id);
    const nodeCount = props.nodeCount ?? 3;
    const version = props.postgresVersion ?? 15;
    const volume = props.volumeSizeGiB ?? 100;
    if (!NAME_PATTERN.test(props.clusterName)) {
      throw new Error(
        `PostgresHosts clusterName: got ${JSON.stringify(props.clusterName)}, expected 1-63 letters, digits, "_", "." or "-"`,
      );
    }
    if (!Number.isInteger(nodeCount) || nodeCount < 2 || nodeCount > 9) {
      throw new Error(`PostgresHosts nodeCount: got ${nodeCount}, expected a whole number from 2 to 9`);
    }
    if (!(SUPPORTED_POSTGRES_VERSIONS as readonly number[]).includes(version)) {
      throw new Error(
        `PostgresHosts postgresVersion: got ${version}, expected one of ${SUPPORTED_POSTGRES_VERSIONS.join(', ')}`,
      );
    }
    if (!Number.isInteger(volume) || volume < 20 || volume > 16384) {
      throw new Error(`PostgresHosts volumeSizeGiB: got ${volume}, expected a whole number from 20 to 16384`);
    }
    const versions = props.hostTemplateVersions ?? [];
    for (const [i, v] of versions.entries()) {
      if (v !== 'latest' && !(Number.isInteger(v) && v >= 1))
        throw new Error(
          `PostgresHosts hostTemplateVersions[${i}]: got ${JSON.stringify(v)}, expected a launch-template version number >= 1 or "latest"`,
        );
    }
    if (versions.length > nodeCount)
      throw new Error(
        `PostgresHosts hostTemplateVersions: got ${versions.length} entries, expected at most nodeCount (${nodeCount})`,
      );
    const bootTimeout = props.bootTimeout ?? Duration.minutes(60);
    const dcs = parseClusterConfig(props.clusterConfig ?? {}, 'PostgresHosts clusterConfig');
    const subnets = props.vpc.selectSubnets(
      props.subnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    );
    if (new Set(subnets.availabilityZones).size < 2) {
      throw new Error(
        `PostgresHosts subnets: got ${subnets.subnets.length} subnet(s) in ${new Set(subnets.availabilityZones).size} AZ, expected subnets in at least 2 AZs`,
      );
    }

    this.secret = new secretsmanager.Secret(this, 'Passwords', {
      description: `pgwarden ${props.clusterName}: PostgreSQL superuser and replication passwords`,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ superuser: 'postgres', replication_user: 'replicator' }),
        generateStringKey: 'superuser_password',
        excludePunctuation: true,
        passwordLength: 32,
      },
    });
    const replicationSecret = new secretsmanager.Secret(this, 'ReplicationPassword', {
      description: `pgwarden ${props.clusterName}: replication password`,
      generateSecretString: { excludePunctuation: true, passwordLength: 32 },
    });
    const rewindSecret = new secretsmanager.Secret(this, 'RewindPassword', {
      description: `pgwarden ${props.clusterName}: password of the rewind role (pg_rewind between members)`,
      generateSecretString: { excludePunctuation: true, passwordLength: 32 },
    });
    // What applications log in as (Patroni's admin: CREATEDB, CREATEROLE): the superuser has no
    // network login. Created by the post_bootstrap script from agent.env.
    this.appSecret = new secretsmanager.Secret(this, 'AppRolePassword', {
      description: `pgwarden ${props.clusterName}: the application role (${APP_ROLE}) and its password`,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ username: APP_ROLE }),
        generateStringKey: 'password',
        excludePunctuation: true,
        passwordLength: 32,
      },
    });
    this.authority = new TlsAuthority(this, 'TlsAuthority', { clusterName: props.clusterName });
    // Signs the primary's failsafe pings (DESIGN §3); hosts read it at boot, like the passwords.
    const failsafeSecret = new secretsmanager.Secret(this, 'FailsafeSecret', {
      description: `pgwarden ${props.clusterName}: shared secret that signs failsafe pings between members`,
      generateSecretString: { excludePunctuation: true, passwordLength: 48 },
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: `pgwarden ${props.clusterName} PostgreSQL hosts`,
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    props.table.grantAgent(this.role, props.clusterName);
    this.secret.grantRead(this.role);
    replicationSecret.grantRead(this.role);
    failsafeSecret.grantRead(this.role);
    rewindSecret.grantRead(this.role);
    this.appSecret.grantRead(this.role);
    this.authority.secret.grantRead(this.role);
    props.commandLogGroup?.grantWrite(this.role);
    const bundle = new Asset(this, 'AgentBundle', { path: props.agentBundlePath });
    // The bundle's object only, not the whole asset bucket.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [
          Fn.join('', [
            'arn:',
            Stack.of(this).partition,
            ':s3:::',
            bundle.s3BucketName,
            '/',
            bundle.s3ObjectKey,
          ]),
        ],
      }),
    );
    // Where the current bundle is: hosts read it at boot, so a new bundle changes this parameter and
    // never the user data (which would make a new launch-template version).
    this.bundleParameter = new ssm.StringParameter(this, 'AgentBundleLocation', {
      description: `pgwarden ${props.clusterName}: the S3 location of the agent bundle hosts install`,
      stringValue: Fn.join('', ['s3://', bundle.s3BucketName, '/', bundle.s3ObjectKey]),
    });
    this.bundleParameter.grantRead(this.role);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['cloudformation:SignalResource'],
        resources: [Stack.of(this).stackId],
      }),
    );

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `pgwarden ${props.clusterName}: PostgreSQL and the agent health API`,
      allowAllOutbound: true,
    });
    const clients = ec2.Peer.ipv4(props.clientCidr ?? props.vpc.vpcCidrBlock);
    this.securityGroup.addIngressRule(clients, ec2.Port.tcp(5432), 'PostgreSQL from clients and the NLB');
    this.securityGroup.addIngressRule(
      clients,
      ec2.Port.tcp(DEFAULT_HEALTH_CHECK.apiPort),
      'agent health API (NLB health checks)',
    );
    this.securityGroup.addIngressRule(this.securityGroup, ec2.Port.tcp(5432), 'replication between members');
    if (props.routers ?? true) {
      this.securityGroup.addIngressRule(
        clients,
        ec2.Port.tcp(DEFAULT_HEALTH_CHECK.routerWriterPort),
        'router, writer (the NLB targets)',
      );
      this.securityGroup.addIngressRule(
        clients,
        ec2.Port.tcp(DEFAULT_HEALTH_CHECK.routerReaderPort),
        'router, reader (the NLB targets)',
      );
    }

    const userData = ec2.UserData.forLinux();
    userData.addCommands(
      ...this.bootstrapScript({
        props,
        dcs,
        version,
        replicationSecret,
        failsafeSecret,
        rewindSecret,
        bootTimeoutMinutes: bootTimeout.toMinutes(),
      }),
    );
    const template = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      machineImage:
        props.machineImage ??
        ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.ARM_64 }),
      instanceType: props.instanceType ?? ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MEDIUM),
      role: this.role,
      securityGroup: this.securityGroup,
      userData,
      requireImdsv2: true,
      // The user data reads its own logical id from the instance tags (for the boot signal).
      instanceMetadataTags: true,
      detailedMonitoring: true,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(volume, {
            volumeType: ec2.EbsDeviceVolumeType.GP3,
            encrypted: true,
          }),
        },
      ],
    });
    for (let i = 0; i < nodeCount; i += 1) {
      const subnet = subnets.subnets[i % subnets.subnets.length]!;
      const pinned = versions[i] ?? 1;
      const instance = new ec2.CfnInstance(this, `Host${i + 1}`, {
        launchTemplate: {
          launchTemplateId: template.launchTemplateId!,
          // A fixed number: a new launch-template version (image, user data) leaves this host alone.
          version: pinned === 'latest' ? template.latestVersionNumber : String(pinned),
        },
        subnetId: subnet.subnetId,
        disableApiTermination: true,
        monitoring: true,
      });
      // CloudFormation waits for the agent to answer /health (the user data signals it).
      instance.cfnOptions.creationPolicy = {
        resourceSignal: { count: 1, timeout: `PT${Math.round(bootTimeout.toMinutes())}M` },
      };
      // No boot before the subnet's egress (NAT route) exists: packages and secrets come through it.
      instance.node.addDependency(subnet.internetConnectivityEstablished);
      // The authority is in its secret before any host boots (each issues its certificate from it).
      instance.node.addDependency(this.authority.resource);
      Tags.of(instance).add(CLUSTER_TAG, props.clusterName);
      Tags.of(instance).add('Name', `pgwarden-${props.clusterName}-${i + 1}`);
      this.instances.push(instance);
    }
  }

  /** The user data: packages, the agent, its config (instance id and IP from IMDSv2), secrets, the unit. */
  private bootstrapScript(input: {
    props: PostgresHostsProps;
    dcs: ReturnType<typeof parseClusterConfig>;
    version: number;
    replicationSecret: secretsmanager.Secret;
    failsafeSecret: secretsmanager.Secret;
    rewindSecret: secretsmanager.Secret;
    bootTimeoutMinutes: number;
  }): string[] {
    const { props, dcs, version } = input;
    const region = Stack.of(this).region;
    const layout = EC2_HOST_LAYOUT;
    const security = hostSecurityConfig(layout);
    const config: AgentConfigInput = {
      scope: props.clusterName,
      name: '__NAME__',
      restapi: {
        listen: `0.0.0.0:${DEFAULT_HEALTH_CHECK.apiPort}`,
        connect_address: `__IP__:${DEFAULT_HEALTH_CHECK.apiPort}`,
      },
      postgresql: {
        listen: '0.0.0.0:5432',
        connect_address: '__IP__:5432',
        data_dir: EC2_HOST_LAYOUT.dataDir,
        bin_dir: '/usr/bin',
        parameters: security.parameters,
        authentication: security.authentication,
        pg_hba: [],
      },
      tags: {},
      ...((props.routers ?? true)
        ? {
            router: {
              enabled: true,
              writer_port: DEFAULT_HEALTH_CHECK.routerWriterPort,
              reader_port: DEFAULT_HEALTH_CHECK.routerReaderPort,
            },
          }
        : {}),
      dynamodb: { table: props.table.table.tableName, region },
      bootstrap: { dcs, post_bootstrap: security.post_bootstrap },
      instance_id: '__NAME__',
      state_dir: EC2_HOST_LAYOUT.stateDir,
    };
    // The same directories and files the local topology gives its hosts (agent/host/host-layout.ts).
    const directories = hostDirectories(layout).map(
      (d) =>
        `install -d -o ${d.owner === 'run_as' ? 'postgres' : 'root'} -g ${d.owner === 'run_as' ? 'postgres' : 'root'} -m ${d.mode.toString(8).padStart(4, '0')} ${d.path}`,
    );
    const files = hostFiles(layout, {
      config: stringify(config),
      secrets: {
        superuser: '$SU',
        replication: '$REPL',
        rewind: '$REWIND',
        app: '$APP',
        failsafe: '$FAILSAFE',
      },
      expandsShell: true,
    }).map((f) => {
      const marker = f.expandsShell ? 'PGWARDEN_EOF' : "'PGWARDEN_EOF'";
      const owner = f.owner === 'run_as' ? 'postgres:postgres' : 'root:root';
      return `cat > ${f.path} <<${marker}\n${f.content}PGWARDEN_EOF\nchmod ${f.mode.toString(8).padStart(4, '0')} ${f.path} && chown ${owner} ${f.path}`;
    });
    const stack = Stack.of(this).stackName;
    const secret = (arn: string, jq = '') =>
      Fn.join('', [
        `retry aws secretsmanager get-secret-value --region `,
        region,
        ' --secret-id ',
        arn,
        ` --query SecretString --output text${jq}`,
      ]);
    return [
      'set -euo pipefail',
      // Every network call at boot is retried (an endpoint or the NAT may still be warming up).
      'retry() { local n; for n in 1 2 3 4 5 6 7 8; do "$@" && return 0; sleep $((n * 5)); done; "$@"; }',
      'TOKEN=$(retry curl -sfX PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 300")',
      'IMDS() { curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" "http://169.254.169.254/latest/meta-data/$1"; }',
      'NAME=$(retry IMDS instance-id); IP=$(retry IMDS local-ipv4)',
      // Which host of the stack this is (its logical id, an instance tag), for the signal.
      'RESOURCE=$(retry IMDS tags/instance/aws:cloudformation:logical-id)',
      // A failed first boot is reported to CloudFormation at once, not after the creation timeout.
      Fn.join('', [
        'signal() { aws cloudformation signal-resource --region ',
        region,
        " --stack-name '",
        stack,
        '\' --logical-resource-id "$RESOURCE" --unique-id "$NAME" --status "$1" || true; }',
      ]),
      "trap 'signal FAILURE' ERR",
      `retry dnf install -y postgresql${version}-server postgresql${version}-contrib nodejs22 jq`,
      'NODE=$(command -v node-22 || command -v node)',
      ...directories,
      Fn.join('', [
        'BUNDLE=$(retry aws ssm get-parameter --region ',
        region,
        ' --name ',
        this.bundleParameter.parameterName,
        ' --query Parameter.Value --output text)',
      ]),
      `retry aws s3 cp "$BUNDLE" ${layout.bundle}`,
      Fn.join('', ['SU=$(', secret(this.secret.secretArn, ' | jq -r .superuser_password'), ')']),
      Fn.join('', ['REPL=$(', secret(input.replicationSecret.secretArn), ')']),
      Fn.join('', ['FAILSAFE=$(', secret(input.failsafeSecret.secretArn), ')']),
      Fn.join('', ['REWIND=$(', secret(input.rewindSecret.secretArn), ')']),
      Fn.join('', ['APP=$(', secret(this.appSecret.secretArn, ' | jq -r .password'), ')']),
      'umask 077',
      ...files,
      `sed -i "s#__NAME__#$NAME#g; s#__IP__#$IP#g" ${layout.configFile}`,
      `sed -i "s#^exec ${layout.node} #exec $NODE #" ${layout.launcher}`,
      // This host's certificate (its IP and name), from the cluster's authority; the authority's
      // key is on disk only for this step.
      Fn.join('', [secret(this.authority.secret.secretArn), ' > /run/pgwarden-authority.json']),
      `${layout.launcher} issue-certificate --authority /run/pgwarden-authority.json --out ${layout.tlsDir} --name "$NAME" --ip "$IP" --dns "$(hostname)" --owner postgres`,
      'rm -f /run/pgwarden-authority.json',
      'systemctl daemon-reload && systemctl enable --now pgwarden-agent',
      // Signal success only once the agent answers /health (PostgreSQL running in its role).
      `for i in $(seq 1 ${Math.round(input.bootTimeoutMinutes * 6)}); do curl -sf http://127.0.0.1:${DEFAULT_HEALTH_CHECK.apiPort}/health >/dev/null && break; sleep 10; done`,
      `curl -sf http://127.0.0.1:${DEFAULT_HEALTH_CHECK.apiPort}/health >/dev/null && signal SUCCESS || signal FAILURE`,
    ];
  }
}
