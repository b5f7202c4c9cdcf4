import type { Logger } from '@aws-lambda-powertools/logger';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { Ec2InstanceFencer } from '../../adapters/ec2/ec2-instance-fencer.ts';
import { LocalCloudClient, type LocalServices } from '../../adapters/local/local-cloud.ts';
import { LogNotifier } from '../../adapters/local/log-notifier.ts';
import { SnsNotifier } from '../../adapters/sns/sns-notifier.ts';
import { SsmCommandBus } from '../../adapters/ssm/ssm-command-bus.ts';

/**
 * The command bus, fencer and notifier of the controller's environment, from its variables:
 * SSM, EC2 and SNS (what the stack sets), or a local topology's stand-ins for them when
 * `PGWARDEN_LOCAL_CLOUD` names its socket.
 */
export function controllerServices(
  env: NodeJS.ProcessEnv,
  aws: { region: string; endpoint?: string },
  logger: Logger,
): LocalServices {
  if (env.PGWARDEN_LOCAL_CLOUD) {
    const local = new LocalCloudClient(env.PGWARDEN_LOCAL_CLOUD);
    return { bus: local, fencer: local, notifier: local };
  }
  return {
    bus: new SsmCommandBus(new SSMClient(aws), {
      ...(env.PGWARDEN_DOCUMENT_NAME ? { documentName: env.PGWARDEN_DOCUMENT_NAME } : {}),
      ...(env.PGWARDEN_COMMAND_LOG_GROUP ? { outputLogGroup: env.PGWARDEN_COMMAND_LOG_GROUP } : {}),
    }),
    fencer: new Ec2InstanceFencer(new EC2Client(aws)),
    notifier: env.PGWARDEN_TOPIC_ARN
      ? new SnsNotifier(new SNSClient(aws), env.PGWARDEN_TOPIC_ARN)
      : new LogNotifier(logger),
  };
}
