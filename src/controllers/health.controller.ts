import { Router } from 'express';
import type { Services } from '../services';
import { checkReadiness } from '../services/health.service';

/** GET /healthz (the process is alive) and GET /readyz (LiveKit and S3 answer). */
export function healthController({ dependencies }: Services): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const { ready, checks } = await checkReadiness(dependencies);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });
  return router;
}
