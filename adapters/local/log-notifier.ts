import type { Logger } from '@aws-lambda-powertools/logger';
import type { NotifyEvent } from '../../core/decide/steps.ts';
import type { Notifier } from '../../core/ports/notifier.ts';

/** The local notifier: every event becomes a WARN log line (and is kept for whoever asks). */
export class LogNotifier implements Notifier {
  readonly events: NotifyEvent[] = [];

  constructor(private readonly logger: Logger) {}

  async notify(event: NotifyEvent): Promise<void> {
    this.events.push(event);
    this.logger.warn(`notification: ${event.message}`, {
      notification: event.type,
      cluster: event.cluster,
      term: event.term,
    });
  }
}
