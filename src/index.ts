import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import dotenv from 'dotenv';
import { createApp } from './app';
import { ConfigError, configWarnings, loadConfig } from './config';
import { createLogger, type Logger } from './services/platform/logger';
import { runAsJob } from './services/platform/request-context';
import { createServices } from './services';

/** Stops taking connections, lets in-flight requests finish, and gives up after the time limit. */
function shutDownGracefully(server: Server, log: Logger, timeoutMs: number, stopWork: () => Promise<void>) {
  let stopping = false;
  return (signal: NodeJS.Signals) =>
    runAsJob('shutdown', () => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down: finishing in-flight requests');
      const force = setTimeout(() => {
        log.warn('in-flight requests did not finish in time; exiting');
        process.exit(1);
      }, timeoutMs);
      force.unref();
      server.close(() => {
        void stopWork().finally(() => {
          log.info('stopped');
          process.exit(0);
        });
      });
      server.closeIdleConnections();
    });
}

async function main() {
  dotenv.config({ quiet: true });
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  for (const warning of configWarnings(config)) log.warn(warning);
  // A failed call must never take the process down; it is logged and the request already answered.
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled promise rejection'));

  const services = createServices(config, log);
  await services.connect();
  const app = createApp(services);
  const server = app.listen(config.port, () => {
    const { port } = server.address() as AddressInfo;
    log.info({ port, livekit: config.livekit.url, bucket: config.s3.bucket }, 'recording-manager listening');
  });
  services.reconciler.start();
  services.notifications.start();
  const shutDown = shutDownGracefully(server, log, config.shutdownTimeoutMs, () => services.close());
  process.on('SIGTERM', shutDown);
  process.on('SIGINT', shutDown);
}

runAsJob('process', main).catch((error: unknown) => {
  console.error('recording-manager could not start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
