import { execFileSync } from 'node:child_process';
import { startEmbeddedDynamoDb } from '../../adapters/dynamodb/embedded-dynamodb.ts';
import { freePort } from '../../local/free-port.ts';
import { spawnGroup } from './child-process.ts';

/** A DynamoDB wire-protocol backend the contract suite runs against. */
export interface DynamoBackend {
  readonly name: string;
  readonly endpoint: string;
  stop(): Promise<void>;
}

export interface BackendFactory {
  readonly name: string;
  /** Why this backend cannot run here, or undefined when it can. */
  readonly skipReason: string | undefined;
  /** Why concurrent conditional writes are not atomic on this backend (races are not tested), if so. */
  readonly raceSkipReason?: string;
  start(): Promise<DynamoBackend>;
}

function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return;
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`${url} did not answer within ${timeoutMs} ms: ${String(error)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export const dynaliteBackend: BackendFactory = {
  name: 'dynalite',
  skipReason: undefined,
  async start() {
    const db = await startEmbeddedDynamoDb();
    return { name: 'dynalite', endpoint: db.endpoint, stop: db.stop };
  },
};

export const motoBackend: BackendFactory = {
  name: 'moto',
  skipReason: hasCommand('moto_server')
    ? undefined
    : 'moto_server is not installed (pip install "moto[server]")',
  raceSkipReason:
    'moto serves requests on threads without locking items: two concurrent conditional writes can both succeed ' +
    '(seen here: 2 of 20 takeovers won). Races are verified on dynalite and DynamoDB; moto checks request shapes.',
  start: () => startMoto(),
};

/** moto_server on a free loopback port; `env` tunes it (e.g. INITIAL_NO_AUTH_ACTION_COUNT). */
export async function startMoto(env: Record<string, string> = {}): Promise<DynamoBackend> {
  const port = await freePort();
  const child = spawnGroup('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
    env: { ...process.env, ...env },
  });
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${endpoint}/moto-api/`, 30_000);
  } catch (error) {
    await child.stop();
    throw new Error(`moto_server did not start: ${String(error)}\n${child.output()}`);
  }
  return { name: 'moto', endpoint, stop: () => child.stop() };
}

const external = process.env.PGWARDEN_TEST_AWS_ENDPOINT;
export const externalBackend: BackendFactory = {
  name: `external (${external ?? 'PGWARDEN_TEST_AWS_ENDPOINT unset'})`,
  skipReason: external ? undefined : 'PGWARDEN_TEST_AWS_ENDPOINT is not set (point it at LocalStack to run)',
  async start() {
    return { name: 'external', endpoint: external!, stop: async () => {} };
  },
};

export const ALL_BACKENDS: readonly BackendFactory[] = [dynaliteBackend, motoBackend, externalBackend];
