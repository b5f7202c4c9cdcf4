import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as elbTargets from 'aws-cdk-lib/aws-elasticloadbalancingv2-targets';
import { Construct } from 'constructs';
import {
  DEFAULT_HEALTH_CHECK,
  type HealthCheckProfile,
  readerCheckPath,
} from '../../core/endpoints/health-check-profile.ts';

export interface PgwardenEndpointProps {
  readonly vpc: ec2.IVpc;
  /** EC2 instance ids of the PostgreSQL hosts. */
  readonly instanceIds: readonly string[];
  /** Paths, ports, interval, thresholds: the same profile HAProxy uses locally. @default DEFAULT_HEALTH_CHECK */
  readonly healthCheck?: HealthCheckProfile;
  /** Who may connect to the endpoint. @default - the VPC CIDR */
  readonly clientCidr?: string;
}

/**
 * One writer and one reader endpoint (DESIGN §1, §7): an internal NLB, cross-zone, whose target
 * groups check the agents' `/primary` and `/replica`. Unhealthy targets lose their connections
 * (connection termination), so clients of an old primary reconnect to the new one.
 */
export class PgwardenEndpoint extends Construct {
  readonly loadBalancer: elbv2.NetworkLoadBalancer;
  readonly writerTargetGroup: elbv2.NetworkTargetGroup;
  readonly readerTargetGroup: elbv2.NetworkTargetGroup;

  constructor(scope: Construct, id: string, props: PgwardenEndpointProps) {
    super(scope, id);
    const profile = props.healthCheck ?? DEFAULT_HEALTH_CHECK;
    if (profile.timeoutSeconds < 2 || profile.timeoutSeconds > profile.intervalSeconds) {
      throw new Error(
        `PgwardenEndpoint healthCheck.timeoutSeconds: got ${profile.timeoutSeconds}, expected from 2 to intervalSeconds (${profile.intervalSeconds})`,
      );
    }
    if (props.instanceIds.length === 0)
      throw new Error('PgwardenEndpoint instanceIds: got none, expected the PostgreSQL hosts');
    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'pgwarden writer and reader endpoints',
      allowAllOutbound: true,
    });
    const clients = ec2.Peer.ipv4(props.clientCidr ?? props.vpc.vpcCidrBlock);
    securityGroup.addIngressRule(clients, ec2.Port.tcp(profile.writerPort), 'writer endpoint');
    securityGroup.addIngressRule(clients, ec2.Port.tcp(profile.readerPort), 'reader endpoint');
    this.loadBalancer = new elbv2.NetworkLoadBalancer(this, 'Nlb', {
      vpc: props.vpc,
      internetFacing: false,
      crossZoneEnabled: true,
      securityGroups: [securityGroup],
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    });
    const group = (name: string, path: string) =>
      new elbv2.NetworkTargetGroup(this, name, {
        vpc: props.vpc,
        port: 5432,
        protocol: elbv2.Protocol.TCP,
        targetType: elbv2.TargetType.INSTANCE,
        targets: props.instanceIds.map((id) => new elbTargets.InstanceIdTarget(id, 5432)),
        // deregistration_delay.connection_termination: connections end when a target is deregistered.
        connectionTermination: true,
        deregistrationDelay: Duration.seconds(profile.deregistrationDelaySeconds),
        healthCheck: {
          protocol: elbv2.Protocol.HTTP,
          port: String(profile.apiPort),
          path,
          interval: Duration.seconds(profile.intervalSeconds),
          timeout: Duration.seconds(profile.timeoutSeconds),
          healthyThresholdCount: profile.healthyThreshold,
          unhealthyThresholdCount: profile.unhealthyThreshold,
        },
      });
    this.writerTargetGroup = group('Writer', profile.writerPath);
    this.readerTargetGroup = group('Reader', readerCheckPath(profile));
    // Connections to a target that turns unhealthy are closed (the attribute that does it: not the
    // deregistration one above), so clients of a demoted or fenced primary reconnect at once.
    for (const tg of [this.writerTargetGroup, this.readerTargetGroup])
      tg.setAttribute('target_health_state.unhealthy.connection_termination.enabled', 'true');
    this.loadBalancer.addListener('WriterListener', {
      port: profile.writerPort,
      protocol: elbv2.Protocol.TCP,
      defaultTargetGroups: [this.writerTargetGroup],
    });
    this.loadBalancer.addListener('ReaderListener', {
      port: profile.readerPort,
      protocol: elbv2.Protocol.TCP,
      defaultTargetGroups: [this.readerTargetGroup],
    });
  }
}
