import { readFileSync } from 'node:fs';
import type { ServerOptions } from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import type { AgentConfig } from '../../core/config/agent-config.ts';

type RestApi = AgentConfig['restapi'];

/** The REST API serves HTTPS (Patroni's restapi.certfile). */
export function restapiIsHttps(restapi: RestApi): boolean {
  return restapi.certfile !== undefined;
}

/** The HTTPS server's options, read from the files the config names (errors name the key). */
export function restapiServerOptions(restapi: RestApi): ServerOptions | undefined {
  if (!restapi.certfile) return undefined;
  const read = (key: 'certfile' | 'keyfile' | 'cafile') => {
    const path = restapi[key]!;
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      throw new Error(`restapi.${key}: cannot read ${path} (${(error as NodeJS.ErrnoException).code})`);
    }
  };
  const cert = read('certfile');
  return {
    cert,
    // Patroni: without keyfile, the key is in the certificate file.
    key: restapi.keyfile ? read('keyfile') : cert,
    ...(restapi.keyfile_password ? { passphrase: restapi.keyfile_password } : {}),
    ...(restapi.cafile ? { ca: read('cafile') } : {}),
    ...(restapi.ciphers ? { ciphers: restapi.ciphers } : {}),
    requestCert: restapi.verify_client !== 'none',
    rejectUnauthorized: restapi.verify_client === 'required',
  };
}

/**
 * How a member reaches the other members' REST APIs (the failsafe pings): their certificates
 * verified against restapi.cafile, its own certificate presented when they ask for one.
 */
export function restapiClientOptions(restapi: RestApi): ConnectionOptions {
  const server = restapiServerOptions(restapi);
  if (!server) return {};
  return {
    ...(server.ca ? { ca: server.ca } : {}),
    ...(restapi.verify_client !== 'none' ? { cert: server.cert, key: server.key } : {}),
    ...(server.passphrase ? { passphrase: server.passphrase } : {}),
  };
}

/** The Authorization header for restapi.authentication, or undefined. */
export function restapiAuthorization(restapi: RestApi): string | undefined {
  const auth = restapi.authentication;
  return auth ? `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` : undefined;
}
