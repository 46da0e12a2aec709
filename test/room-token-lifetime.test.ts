import { SignJWT } from 'jose';
import type { Admission } from '../src/services/rooms/admission.service';
import { uniqueRoom } from './support/recordings';
import { startStack, type TestStack } from './support/stack';

const HOUR = 3600;
const now = () => Math.floor(Date.now() / 1000);

describe('room tokens live no longer than PARTICIPANT_TOKEN_TTL', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ env: { NODE_ENV: 'test', PARTICIPANT_TOKEN_TTL: '1h' } });
  });
  afterAll(async () => {
    await stack.close();
  });

  /** A room token as someone holding the LiveKit secret could mint it: our claims, any lifetime. */
  const roomToken = (roomName: string, times: { nbf?: number; exp?: number }) => {
    const jwt = new SignJWT({ video: { room: roomName, roomJoin: true }, attributes: { 'recording-manager.role': 'moderator' } })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(stack.livekit.apiKey)
      .setSubject('minted#00000000');
    if (times.nbf !== undefined) jwt.setNotBefore(times.nbf);
    if (times.exp !== undefined) jwt.setExpirationTime(times.exp);
    return jwt.sign(new TextEncoder().encode(stack.livekit.apiSecret));
  };
  const listWith = (roomName: string, token: string) =>
    stack.anonymous().get('/recordings').query({ roomName }).set('Authorization', `Bearer ${token}`);

  it('refuses one without exp, or whose lifetime exceeds the TTL plus a minute, and accepts the ones it mints', async () => {
    const roomName = uniqueRoom('lifetime');
    const admitted = (await stack.http().post('/token').send({ roomName, participantName: 'p' }).expect(200)).body as Admission;
    await listWith(roomName, admitted.token).expect(200);
    await listWith(roomName, await roomToken(roomName, { nbf: now(), exp: now() + HOUR + 30 })).expect(200);

    const refused = {
      'no exp': await roomToken(roomName, { nbf: now() }),
      'exp − nbf over the TTL': await roomToken(roomName, { nbf: now(), exp: now() + HOUR + 120 }),
      'no nbf, exp − now over the TTL': await roomToken(roomName, { exp: now() + HOUR + 120 }),
      'a year long': await roomToken(roomName, { nbf: now() - 60, exp: now() + 365 * 24 * HOUR }),
      'long-lived, nearly over': await roomToken(roomName, { nbf: now() - 3 * HOUR, exp: now() + 600 }),
    };
    for (const [label, token] of Object.entries(refused)) {
      const res = await listWith(roomName, token);
      expect({ label, status: res.status }).toEqual({ label, status: 401 });
    }
  });
});
