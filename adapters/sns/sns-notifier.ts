import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { NotifyEvent } from '../../core/decide/steps.ts';
import type { Notifier } from '../../core/ports/notifier.ts';

/** Publishes each event to the SNS topic: a short subject, the event as JSON. */
export class SnsNotifier implements Notifier {
  constructor(
    private readonly sns: SNSClient,
    private readonly topicArn: string,
  ) {}

  async notify(event: NotifyEvent): Promise<void> {
    await this.sns.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Subject: `pgwarden ${event.cluster}: ${event.type.replace(/_/g, ' ')}`.slice(0, 100),
        Message: JSON.stringify(event),
        MessageAttributes: {
          cluster: { DataType: 'String', StringValue: event.cluster },
          type: { DataType: 'String', StringValue: event.type },
        },
      }),
    );
  }
}
