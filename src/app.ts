import path from 'node:path';
import express, { type Express } from 'express';
import { docsController } from './controllers/docs.controller';
import { healthController } from './controllers/health.controller';
import { recordingController } from './controllers/recording.controller';
import { roomController } from './controllers/room.controller';
import { streamController } from './controllers/stream.controller';
import { webhookController } from './controllers/webhook.controller';
import { errorHandler, notFoundHandler } from './middlewares/error.middleware';
import { requestContext, requestLog } from './middlewares/observability.middleware';
import { corsPolicy, rateLimits, securityHeaders } from './middlewares/security.middleware';
import type { Services } from './services';

/** The browser client; `src/` and the compiled `dist/` both sit beside it. */
export const PUBLIC_DIR = path.resolve(__dirname, '..', 'public');
/** livekit-client's browser build, served from our own dependencies (no CDN). */
const LIVEKIT_CLIENT_DIR = path.dirname(require.resolve('livekit-client'));

/** Express wiring only: no listen(), no globals. Each router parses only the bodies it expects. */
export function createApp(services: Services): Express {
  const { config } = services;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.set('trust proxy', config.security.trustProxy);
  app.use(requestContext());
  app.use(requestLog(services.log, services.metrics));
  app.use(securityHeaders(config));
  const cors = corsPolicy(config);
  if (cors) app.use(cors);
  const limits = rateLimits(config);
  app.post('/token', limits.token);
  app.use(['/recordings', '/streams', '/rooms', '/join-tokens'], limits.mutations);
  app.use(webhookController(services));
  app.use(healthController(services));
  app.use(roomController(services));
  app.use(recordingController(services));
  app.use(streamController(services));
  app.use(docsController());
  app.use(express.static(PUBLIC_DIR));
  app.use('/vendor/livekit-client', express.static(LIVEKIT_CLIENT_DIR, { index: false }));
  app.use(notFoundHandler);
  app.use(errorHandler(services.log));
  return app;
}
