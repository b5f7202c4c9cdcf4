import { Fn, Stack, Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { stringify } from 'yaml';
import { EC2_HOST_LAYOUT, hostDirectories, hostFiles } from '../../agent/host/host-layout.ts';
import type { AgentConfigInput } from '../../core/config/agent-config.ts';
import { type ClusterConfigInput, parseClusterConfig } from '../../core/config/cluster-config.ts';
import { NAME_PATTERN } from '../../core/config/units.ts';
import { DEFAULT_HEALTH_CHECK } from '../../core/endpoints/health-check-profile.ts';
import type { CoordinationTable } from './coordination-table.ts';
import { CLUSTER_TAG } from './pgwarden-controller.ts';

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
  /** @default - private subnets with egress */
  readonly subnets?: ec2.SubnetSelection;
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
  readonly instances: ec2.CfnInstance[] = [];

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
    props.commandLogGroup?.grantWrite(this.role);
    const bundle = new Asset(this, 'AgentBundle', { path: props.agentBundlePath });
    bundle.grantRead(this.role);

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

    const userData = ec2.UserData.forLinux();
    userData.addCommands(
      ...this.bootstrapScript({ props, dcs, version, bundle, replicationSecret, failsafeSecret }),
    );
    const template = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.ARM_64 }),
      instanceType: props.instanceType ?? ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MEDIUM),
      role: this.role,
      securityGroup: this.securityGroup,
      userData,
      requireImdsv2: true,
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
      const instance = new ec2.CfnInstance(this, `Host${i + 1}`, {
        launchTemplate: {
          launchTemplateId: template.launchTemplateId!,
          version: template.latestVersionNumber,
        },
        subnetId: subnet.subnetId,
        disableApiTermination: true,
        monitoring: true,
      });
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
    bundle: Asset;
    replicationSecret: secretsmanager.Secret;
    failsafeSecret: secretsmanager.Secret;
  }): string[] {
    const { props, dcs, version, bundle } = input;
    const region = Stack.of(this).region;
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
        pg_hba: [],
      },
      tags: {},
      dynamodb: { table: props.table.table.tableName, region },
      bootstrap: { dcs },
      instance_id: '__NAME__',
      state_dir: EC2_HOST_LAYOUT.stateDir,
    };
    const layout = EC2_HOST_LAYOUT;
    // The same directories and files the local topology gives its hosts (agent/host/host-layout.ts).
    const directories = hostDirectories(layout).map(
      (d) =>
        `install -d -o ${d.owner === 'run_as' ? 'postgres' : 'root'} -g ${d.owner === 'run_as' ? 'postgres' : 'root'} -m ${d.mode.toString(8).padStart(4, '0')} ${d.path}`,
    );
    const files = hostFiles(layout, {
      config: stringify(config),
      secrets: { superuser: '$SU', replication: '$REPL', failsafe: '$FAILSAFE' },
      expandsShell: true,
    }).map((f) => {
      const marker = f.expandsShell ? 'PGWARDEN_EOF' : "'PGWARDEN_EOF'";
      const owner = f.owner === 'run_as' ? 'postgres:postgres' : 'root:root';
      return `cat > ${f.path} <<${marker}\n${f.content}PGWARDEN_EOF\nchmod ${f.mode.toString(8).padStart(4, '0')} ${f.path} && chown ${owner} ${f.path}`;
    });
    return [
      'set -euo pipefail',
      `dnf install -y postgresql${version}-server postgresql${version}-contrib nodejs22 jq`,
      'NODE=$(command -v node-22 || command -v node)',
      'TOKEN=$(curl -sfX PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 300")',
      'IMDS() { curl -sf -H "X-aws-ec2-metadata-token: $TOKEN" "http://169.254.169.254/latest/meta-data/$1"; }',
      'NAME=$(IMDS instance-id); IP=$(IMDS local-ipv4)',
      ...directories,
      Fn.join('', ['aws s3 cp s3://', bundle.s3BucketName, '/', bundle.s3ObjectKey, ` ${layout.bundle}`]),
      Fn.join('', [
        'SU=$(aws secretsmanager get-secret-value --region ',
        region,
        ' --secret-id ',
        this.secret.secretArn,
        ' --query SecretString --output text | jq -r .superuser_password)',
      ]),
      Fn.join('', [
        'REPL=$(aws secretsmanager get-secret-value --region ',
        region,
        ' --secret-id ',
        input.replicationSecret.secretArn,
        ' --query SecretString --output text)',
      ]),
      Fn.join('', [
        'FAILSAFE=$(aws secretsmanager get-secret-value --region ',
        region,
        ' --secret-id ',
        input.failsafeSecret.secretArn,
        ' --query SecretString --output text)',
      ]),
      'umask 077',
      ...files,
      `sed -i "s#__NAME__#$NAME#g; s#__IP__#$IP#g" ${layout.configFile}`,
      `sed -i "s#^exec ${layout.node} #exec $NODE #" ${layout.launcher}`,
      'systemctl daemon-reload && systemctl enable --now pgwarden-agent',
    ];
  }
}
