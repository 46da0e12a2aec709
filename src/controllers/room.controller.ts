import { Router, json } from 'express';
import { parseInput, tokenRequestSchema } from '../models/api.model';
import type { Services } from '../services';

/** POST /token: admits a participant, creating the room with our metadata on first use. */
export function roomController({ rooms, config }: Services): Router {
  const router = Router();
  router.post('/token', json({ limit: '16kb' }), async (req, res) => {
    const { roomName, participantName } = parseInput(tokenRequestSchema, req.body);
    await rooms.ensureRoom(roomName);
    const token = await rooms.participantToken(roomName, participantName);
    res.json({ token, livekitUrl: config.livekit.publicUrl });
  });
  router.get('/config', (_req, res) => {
    res.json({ livekitUrl: config.livekit.publicUrl });
  });
  return router;
}
