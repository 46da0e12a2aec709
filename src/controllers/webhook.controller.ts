import { Router, raw } from 'express';
import { AppError, timedOut } from '../services/platform/app-error';
import type { Services } from '../services';
import { withTimeout } from '../services/platform/concurrency';

/**
 * POST /livekit/webhook: the raw body is verified against LiveKit's signature before anything else.
 * 2xx only once the event is durably applied, so that LiveKit retries whatever failed.
 */
export function webhookController({ webhookReceiver, webhooks, config, metrics }: Services): Router {
  const router = Router();
  router.post('/livekit/webhook', raw({ type: () => true, limit: '1mb' }), async (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    const event = await webhookReceiver.receive(body, req.get('Authorization')).catch(() => {
      metrics.webhooks.inc({ event: 'unknown', outcome: 'rejected' });
      throw new AppError(401, 'invalid_webhook', 'The webhook is not signed by LiveKit');
    });
    try {
      const outcome = await withTimeout(webhooks.handle(event), config.webhookTimeoutMs, () =>
        timedOut('The webhook could not be applied in time; LiveKit will retry it'),
      );
      metrics.webhooks.inc({ event: event.event, outcome });
    } catch (error) {
      metrics.webhooks.inc({ event: event.event, outcome: 'failed' });
      throw error;
    }
    res.status(200).json({ received: true });
  });
  return router;
}
