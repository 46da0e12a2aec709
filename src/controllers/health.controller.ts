import { Router } from 'express';
import type { Services } from '../services';
import { bearer, sameSecret, unauthenticated } from '../services/rooms/access.service';
import { checkReadiness } from '../services/platform/health.service';

/** GET /healthz (the process is alive), GET /readyz (LiveKit and S3 answer) and GET /metrics. */
export function healthController({ dependencies, metrics, config, log }: Services): Router {
  const router = Router();
  /** Prometheus text format: behind `METRICS_TOKEN` when it is set, and only with it in production. */
  router.get('/metrics', async (req, res) => {
    const { metricsToken } = config.security;
    const refused = metricsToken ? !sameSecret(bearer(req.get('Authorization')), metricsToken) : config.env === 'production';
    if (refused)
      throw unauthenticated('GET /metrics wants Authorization: Bearer <METRICS_TOKEN> (production without one serves it to nobody)');
    res.set('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const { ready, checks } = await checkReadiness(dependencies, log);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });
  return router;
}
