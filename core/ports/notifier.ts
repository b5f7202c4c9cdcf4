import type { NotifyEvent } from '../decide/steps.ts';

/**
 * Tells people about changes of primary and refusals to fail over (SNS on AWS; the local
 * notifier logs). Best effort: throws on failure; the controller logs it and goes on.
 */
export interface Notifier {
  notify(event: NotifyEvent): Promise<void>;
}
