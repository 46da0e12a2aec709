import { decodeJwt } from 'jose';
import { RoomServiceClient } from 'livekit-server-sdk';
import { LAYOUTS, PRESETS } from '../src/services/recordings/recording-options.model';
import { ROOM_RECORDING_STATUSES } from '../src/services/recordings/recording.model';
import type { Admission } from '../src/services/rooms/admission.service';
import { startStack, type TestStack } from './support/stack';
import { roomMetadata, uniqueRoom } from './support/recordings';
import type { ErrorAnswer } from './support/answers';

describe('POST /token', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  it('admits a participant with a token for that room only, without Egress or admin rights', async () => {
    const roomName = uniqueRoom();
    const res = await stack.http().post('/token').send({ roomName, participantName: 'Zoë' }).expect(200);
    const admitted = res.body as Admission;
    expect(admitted.livekitUrl).toBe(stack.config.livekit.publicUrl);
    const claims = decodeJwt(admitted.token) as { sub: string; name: string; iss: string; video: Record<string, unknown> };
    // The name is what people see; the identity is made unique so that a namesake does not replace anyone.
    expect(claims.name).toBe('Zoë');
    expect(claims.sub).toMatch(/^Zoë#[0-9a-f]{8}$/);
    expect(res.body).toMatchObject({ identity: claims.sub, participantName: 'Zoë', role: 'participant', permissions: ['list', 'play'] });
    expect(claims.iss).toBe(stack.livekit.apiKey);
    expect(claims.video).toMatchObject({ room: roomName, roomJoin: true, canPublish: true, canSubscribe: true });
    expect(claims.video.roomRecord).toBeUndefined();
    expect(claims.video.roomAdmin).toBeUndefined();
  });

  it('creates the room on first use with our metadata and leaves it alone afterwards', async () => {
    const roomName = uniqueRoom('created');
    await stack.http().post('/token').send({ roomName, participantName: 'a' }).expect(200);
    expect(await roomMetadata(stack, roomName)).toEqual({
      createdBy: 'recording-manager',
      recordingStatus: 'STOPPED',
      streamingStatus: 'STOPPED',
    });
    const admin = new RoomServiceClient(stack.livekit.url, stack.livekit.apiKey, stack.livekit.apiSecret);
    await admin.updateRoomMetadata(roomName, JSON.stringify({ createdBy: 'recording-manager', recordingStatus: 'STARTED' }));
    await stack.http().post('/token').send({ roomName, participantName: 'b' }).expect(200);
    expect(await roomMetadata(stack, roomName)).toMatchObject({ recordingStatus: 'STARTED' });
  });

  it('admits people to a room someone else created, whatever its metadata', async () => {
    const roomName = uniqueRoom('foreign');
    stack.livekit.createRoom(roomName, 'not json at all');
    await stack.http().post('/token').send({ roomName, participantName: 'c' }).expect(200);
    expect(stack.livekit.getRoom(roomName)!.metadata).toBe('not json at all');
  });

  it('takes room and participant names in any language', async () => {
    const roomName = `会議 ${uniqueRoom()} — ünïcödé`;
    await stack.http().post('/token').send({ roomName, participantName: 'Łukasz 🎥' }).expect(200);
    expect(stack.livekit.getRoom(roomName)).toBeDefined();
  });

  it.each([
    [{}, /roomName is required/],
    [{ roomName: 'r' }, /participantName is required/],
    [{ roomName: '', participantName: 'p' }, /roomName is required/],
    [{ roomName: 'x'.repeat(257), participantName: 'p' }, /at most 256/],
    [{ roomName: 'a\nb', participantName: 'p' }, /control characters/],
    [{ roomName: 42, participantName: 'p' }, /roomName/],
  ])('answers 400 with a clear message for %j', async (body, message) => {
    const error = (await stack.http().post('/token').send(body).expect(400)).body as ErrorAnswer;
    expect(error.code).toBe('invalid_request');
    expect(error.errorMessage).toMatch(message);
  });

  it('answers malformed JSON with a JSON 400, never a stack trace', async () => {
    const res = await stack.http().post('/token').set('Content-Type', 'application/json').send('{"roomName":').expect(400);
    expect(res.body).toEqual({ errorMessage: 'The request body is not valid JSON', code: 'invalid_json' });
    expect(res.text).not.toMatch(/at .*\.js/);
  });

  it('rides out a passing LiveKit failure by asking again', async () => {
    const roomName = uniqueRoom();
    stack.livekit.failNext('CreateRoom', 'network');
    stack.livekit.failNext('CreateRoom', { code: 'unavailable', msg: 'no response from servers' });
    await stack.http().post('/token').send({ roomName, participantName: 'p' }).expect(200);
    expect(stack.livekit.getRoom(roomName)).toBeDefined();
  });

  it('answers 503 when LiveKit stays unreachable, and keeps serving', async () => {
    stack.livekit.failNext('CreateRoom', 'network', 3);
    const res = await stack.http().post('/token').send({ roomName: uniqueRoom(), participantName: 'p' }).expect(503);
    expect((res.body as ErrorAnswer).code).toBe('livekit_unavailable');
    await stack.http().post('/token').send({ roomName: uniqueRoom(), participantName: 'p' }).expect(200);
  });

  it('GET /config gives the client the layouts, presets and room statuses it offers and reads', async () => {
    const res = await stack.http().get('/config').expect(200);
    expect(res.body).toMatchObject({ layouts: [...LAYOUTS], presets: [...PRESETS], roomStatuses: [...ROOM_RECORDING_STATUSES] });
  });

  it('answers unknown routes with JSON 404', async () => {
    const res = await stack.http().get('/nope').expect(404);
    expect((res.body as ErrorAnswer).code).toBe('not_found');
  });
});
