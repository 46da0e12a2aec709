import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createApp } from '../../src/app';
import { type Config, loadConfig } from '../../src/config';
import { createLogger } from '../../src/services/platform/logger';
import { createServices, type Services } from '../../src/services';
import type { ResolveHost } from '../../src/services/streams/host-resolver';
import { type DnsTable, PUBLIC_DNS, tableResolver } from './dns';
import { LiveKitDouble, type LiveKitDoubleOptions } from './livekit-double';
import { S3FaultProxy } from './s3-fault-proxy';
import { S3TestServer, TEST_S3_CREDENTIALS } from './s3-server';
import { HOST_HEADERS, TEST_ADMIN_KEY } from './service-process';

/** Requests as the host application (its admin key); `anonymous` sends no credential at all. */
type Requests = ReturnType<typeof request.agent>;
const asHost = (baseUrl: string): Requests => request.agent(baseUrl).set(HOST_HEADERS);

export interface TestStack {
  s3: S3TestServer;
  /** Sits between the service and s3rver: counts requests and injects faults. */
  s3Proxy: S3FaultProxy;
  livekit: LiveKitDouble;
  config: Config;
  services: Services;
  /** The service's DNS: PUBLIC_DNS and the stack's own `dns` entries; `asked` lists the names looked up. */
  resolveHost: ResolveHost & { asked: string[] };
  baseUrl: string;
  http: () => Requests;
  anonymous: () => ReturnType<typeof request>;
  /** A second instance of the service on the same S3 and LiveKit (not LiveKit's webhook target). */
  startPeer(): Promise<ServiceInstance>;
  close(): Promise<void>;
}

/** LiveKit's 3 s / 15 s handler search (LIVEKIT_HANDLER_SEARCH) scaled down 1:50 so the suite stays fast. */
export const STACK_HANDLER_SEARCH = { unclaimedMs: 60, unansweredMs: 300 };

/**
 * The real service on a random loopback port, against s3rver (through the fault proxy) and the LiveKit
 * double, whose signed webhooks reach the service over HTTP as LiveKit's would.
 */
export async function startStack(
  options: { env?: Record<string, string>; livekit?: LiveKitDoubleOptions; dns?: DnsTable } = {},
): Promise<TestStack> {
  const s3 = await S3TestServer.start();
  const s3Proxy = await S3FaultProxy.start(s3.endpoint);
  const livekit = await LiveKitDouble.start({
    webhookRetry: { initialDelayMs: 20, maxDelayMs: 200 },
    handlerSearch: STACK_HANDLER_SEARCH,
    ...options.livekit,
  });
  const config = loadConfig({
    NODE_ENV: 'test',
    LIVEKIT_URL: livekit.url,
    LIVEKIT_API_KEY: livekit.apiKey,
    LIVEKIT_API_SECRET: livekit.apiSecret,
    S3_ENDPOINT: s3Proxy.endpoint,
    EGRESS_S3_ENDPOINT: s3.endpoint,
    S3_ACCESS_KEY: TEST_S3_CREDENTIALS.accessKeyId,
    S3_SECRET_KEY: TEST_S3_CREDENTIALS.secretAccessKey,
    S3_BUCKET: s3.bucket,
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // A stalled S3 request fails fast enough for a test's poll to try again.
    S3_REQUEST_TIMEOUT: '2s',
    // Above the scaled handler search (STACK_HANDLER_SEARCH), as the 20 s default is above LiveKit's 15 s.
    LIVEKIT_EGRESS_TIMEOUT: '1s',
    ...options.env,
  });
  const resolveHost = tableResolver({ ...PUBLIC_DNS, ...options.dns });
  const instance = await serve(config, resolveHost);
  livekit.webhookUrls = [`${instance.baseUrl}/livekit/webhook`];
  return {
    s3,
    s3Proxy,
    livekit,
    config,
    services: instance.services,
    resolveHost,
    baseUrl: instance.baseUrl,
    http: () => asHost(instance.baseUrl),
    anonymous: () => request(instance.baseUrl),
    startPeer: () => serve(config, resolveHost),
    async close() {
      await instance.close();
      await livekit.close();
      await s3Proxy.close();
      await s3.close();
    },
  };
}

export interface ServiceInstance {
  services: Services;
  baseUrl: string;
  http: () => Requests;
  close(): Promise<void>;
}

/** One instance of the service, listening on a random loopback port. */
async function serve(config: Config, resolveHost: ResolveHost): Promise<ServiceInstance> {
  const services = createServices(config, createLogger(config.logLevel), { resolveHost });
  await services.connect();
  const server: Server = await new Promise((resolve) => {
    const listening = createApp(services).listen(0, '127.0.0.1', () => resolve(listening));
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    services,
    baseUrl,
    http: () => asHost(baseUrl),
    async close() {
      await services.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
