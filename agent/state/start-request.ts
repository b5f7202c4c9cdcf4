import { access } from 'node:fs/promises';

/** Whether an action is waiting for the daemon to start PostgreSQL (`start.request` exists). */
export async function startRequested(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
