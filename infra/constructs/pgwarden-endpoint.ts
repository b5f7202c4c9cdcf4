import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as elbTargets from 'aws-cdk-lib/aws-elasticloadbalancingv2-targets';
import { Construct } from 'constructs';
import {
  DEFAULT_HEALTH_CHECK,
  type HealthCheckProfile,
  ROUTER_CHECK_PATH,
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
  /**
   * Target the router on every host (issue #17), checked on `/router`: every host stays a
   * target, and a change of primary never waits for the health checks. false: target
   * PostgreSQL itself, checked on `/primary` and `/replica`. @default true
   */
  readonly routers?: boolean;
}

/**
 * One writer and one reader endpoint (DESIGN §1, §7): an internal NLB, cross-zone, whose target
 * groups send to the router on every host (checked on `/router`), or, without routers, to
 * PostgreSQL checked on the agents' `/primary` and `/replica`. Unhealthy targets lose their
 * connections (connection termination).
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
    const routers = props.routers ?? true;
    const group = (name: string, path: string, port: number) =>
      new elbv2.NetworkTargetGroup(this, name, {
        vpc: props.vpc,
        port,
        protocol: elbv2.Protocol.TCP,
        targetType: elbv2.TargetType.INSTANCE,
        targets: props.instanceIds.map((id) => new elbTargets.InstanceIdTarget(id, port)),
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
    this.writerTargetGroup = routers
      ? group('Writer', ROUTER_CHECK_PATH, profile.routerWriterPort)
      : group('Writer', profile.writerPath, 5432);
    this.readerTargetGroup = routers
      ? group('Reader', ROUTER_CHECK_PATH, profile.routerReaderPort)
      : group('Reader', readerCheckPath(profile), 5432);
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
