import { Router, json } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import { requireAdmin } from '../middlewares/auth.middleware';
import { joinTokenRequestSchema, parseInput, roomParamsSchema, roomSettingsSchema, tokenRequestSchema } from '../models/api.model';
import type { Services } from '../services';
import { LAYOUTS, PRESETS } from '../services/recordings/recording-options.model';
import { ROOM_RECORDING_STATUSES } from '../services/recordings/recording.model';

/**
 * POST /token admits a person (see AdmissionService); the host application, with its key, sets who
 * may come into a room and mints join tokens.
 */
export function roomController({ admission, access, config }: Services): Router {
  const router = Router();
  const body = json({ limit: '16kb' });

  router.post('/token', body, async (req, res) => {
    const request = parseInput(tokenRequestSchema, req.body);
    const clientAddress = ipKeyGenerator(req.ip ?? '');
    const admitted = await admission.admit({ ...request, authorization: req.get('Authorization'), clientAddress });
    res.json(admitted);
  });

  // The client builds its pickers and reads room statuses from these, rather than keeping copies.
  router.get('/config', (_req, res) => {
    res.json({
      livekitUrl: config.livekit.publicUrl,
      openAdmission: config.security.openAdmission,
      layouts: LAYOUTS,
      presets: PRESETS,
      roomStatuses: ROOM_RECORDING_STATUSES,
    });
  });

  router.post('/join-tokens', requireAdmin(access), body, async (req, res) => {
    const { roomName, participantName, role, ttl } = parseInput(joinTokenRequestSchema, req.body);
    const ttlMs = (ttl ?? 3600) * 1000;
    const minted = await access.mintJoinToken({ roomName, participantName, role: role ?? 'participant' }, ttlMs);
    res.json({ ...minted, joinUrl: `/#join=${encodeURIComponent(minted.joinToken)}` });
  });

  router.get('/rooms/:roomName', requireAdmin(access), async (req, res) => {
    res.json(await admission.describe(parseInput(roomParamsSchema, req.params).roomName));
  });

  router.put('/rooms/:roomName', requireAdmin(access), body, async (req, res) => {
    const { roomName } = parseInput(roomParamsSchema, req.params);
    const settings = parseInput(roomSettingsSchema, req.body);
    res.json(await admission.configure(roomName, settings));
  });

  return router;
}
