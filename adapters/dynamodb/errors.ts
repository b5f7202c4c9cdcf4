import { ConditionFailedError, StoreUnavailableError } from '../../core/errors.ts';

/** Maps an SDK error to the store port's typed errors (a failed condition, or unavailable). */
export function translateStoreError(operation: string, error: unknown, condition: string): Error {
  const name = (error as { name?: string } | null)?.name;
  if (name === 'ConditionalCheckFailedException') {
    return new ConditionFailedError(operation, condition, { cause: error });
  }
  return new StoreUnavailableError(operation, { cause: error });
}
