import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import path from 'node:path';
import { eventually } from './eventually';
import { TEST_S3_CREDENTIALS } from './s3-server';

const ENTRY = path.join(__dirname, '..', '..', 'dist', 'index.js');

export interface ServiceProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code once the process has ended. */
  exited: () => Promise<number | null>;
}

/** The compiled service (`npm run build`) in its own process, as `npm start` runs it. */
export function runService(env: Record<string, string>): ServiceProcess {
  return spawnService([process.execPath, ENTRY], {
    env: { PATH: process.env.PATH!, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
  });
}

/** Any command that runs the service (the Dockerfile's CMD too), its output collected. */
export function spawnService([command, ...args]: string[], options: { env: Record<string, string>; cwd?: string }): ServiceProcess {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  return { child, output: () => output, exited: () => exit };
}

/** Whether the process exits (with its code) or starts listening, whichever comes first. */
export function startOrExit(service: ServiceProcess): Promise<number | null | 'listening'> {
  const listening = eventually(() => /"port":\d+/.test(service.output()) && ('listening' as const), {
    timeoutMs: 15_000,
    what: 'listening or exit',
  });
  return Promise.race([service.exited(), listening]);
}

/** The host application's key in every test: earlier tests act as the host application, with a real credential. */
export const TEST_ADMIN_KEY = 'test-admin-key-of-the-host-application';
export const HOST_HEADERS = { Authorization: `Bearer ${TEST_ADMIN_KEY}` };

/** The settings that point a service process at its test peers (the LiveKit double and an S3 server), in test mode. */
export function peerEnv(
  livekit: { url: string },
  s3: { endpoint: string; bucket: string },
  s3Endpoint = s3.endpoint,
): Record<string, string> {
  return { NODE_ENV: 'test', ...peerSettings(livekit, s3, s3Endpoint) };
}

/** A LiveKit key pair that is not LiveKit's development one, as a deployment has (start the double with it). */
export const DEPLOYMENT_LIVEKIT_KEYS = { apiKey: 'APIdeploymentkey', apiSecret: 'the-livekit-secret-of-this-deployment' };

/**
 * What production wants, and no NODE_ENV (unset means production): the peers, the LiveKit double's own
 * key pair (start it with DEPLOYMENT_LIVEKIT_KEYS) and the service's own keys.
 */
export function deploymentEnv(
  livekit: { url: string; apiKey: string; apiSecret: string },
  s3: { endpoint: string; bucket: string },
  s3Endpoint = s3.endpoint,
): Record<string, string> {
  return {
    ...peerSettings(livekit, s3, s3Endpoint),
    LIVEKIT_API_KEY: livekit.apiKey,
    LIVEKIT_API_SECRET: livekit.apiSecret,
    MEDIA_URL_SIGNING_KEY: 'the-media-url-signing-key-of-this-deployment',
  };
}

function peerSettings(livekit: { url: string }, s3: { endpoint: string; bucket: string }, s3Endpoint: string): Record<string, string> {
  return {
    LIVEKIT_URL: livekit.url,
    S3_ENDPOINT: s3Endpoint,
    S3_ACCESS_KEY: TEST_S3_CREDENTIALS.accessKeyId,
    S3_SECRET_KEY: TEST_S3_CREDENTIALS.secretAccessKey,
    S3_BUCKET: s3.bucket,
    ADMIN_API_KEY: TEST_ADMIN_KEY,
  };
}

/** Waits until the process answers /readyz on `port`. */
export async function waitReady(service: ServiceProcess, port: number) {
  await eventually(() => fetch(`http://127.0.0.1:${port}/readyz`).then((res) => res.ok), {
    timeoutMs: 15_000,
    what: `service ready on ${port} (${service.output().slice(-500)})`,
  });
}

/** A port nothing listens on now, so a restarted process can take the same one. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
