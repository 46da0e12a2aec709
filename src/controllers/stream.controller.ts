import { Router, json } from 'express';
import { authenticate, principalOf } from '../middlewares/auth.middleware';
import { parseInput, roomParamsSchema, roomRequestSchema, streamStartSchema, streamUpdateSchema } from '../models/api.model';
import type { Services } from '../services';

/** Live streams of a room to RTMP(S)/SRT destinations; every call needs the `stream` permission in that room. */
export function streamController({ streams, access }: Services): Router {
  const router = Router();
  const body = json({ limit: '16kb' });
  router.use('/streams', authenticate(access));

  router.post('/streams/start', body, async (req, res) => {
    const request = parseInput(streamStartSchema, req.body);
    access.authorize(principalOf(res), 'stream', request.roomName);
    res.json({ message: 'Stream started', stream: await streams.start(request) });
  });

  router.post('/streams/update', body, async (req, res) => {
    const request = parseInput(streamUpdateSchema, req.body);
    access.authorize(principalOf(res), 'stream', request.roomName);
    res.json({ message: 'Stream updated', stream: await streams.update(request) });
  });

  router.post('/streams/stop', body, async (req, res) => {
    const { roomName } = parseInput(roomRequestSchema, req.body);
    access.authorize(principalOf(res), 'stream', roomName);
    res.json({ message: 'Stream stopped', stream: await streams.stop(roomName) });
  });

  /** The room's current stream, running or ended (null when it never streamed), destinations masked. */
  router.get('/streams/:roomName', async (req, res) => {
    const { roomName } = parseInput(roomParamsSchema, req.params);
    access.authorize(principalOf(res), 'stream', roomName);
    res.json({ stream: (await streams.current(roomName)) ?? null });
  });

  return router;
}
