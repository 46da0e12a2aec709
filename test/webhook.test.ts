import { EgressStatus, WebhookEvent } from '@livekit/protocol';
import type { RecordingView } from '../src/services/recordings/recording.model';
import { eventually } from './support/eventually';
import { joinRoom, roomMetadata, sidecarsOf, uniqueRoom, waitForRecording, waitForRoomStatus } from './support/recordings';
import { startStack, type TestStack } from './support/stack';

/** What POST /recordings/start answers. */
type StartAnswer = { recording: RecordingView };

describe('POST /livekit/webhook', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ livekit: { lifecycle: 'manual' } });
  });
  afterAll(async () => {
    await stack.close();
  });
  afterEach(() => {
    stack.livekit.webhooks.clear();
    stack.livekit.clearFaults();
  });

  async function startRecording(roomName = uniqueRoom()) {
    await joinRoom(stack, roomName);
    const { recording } = (await stack.http().post('/recordings/start').send({ roomName }).expect(200)).body as StartAnswer;
    await stack.livekit.webhooks.idle();
    return { roomName, recording };
  }

  /** An egress_updated event for one of our recordings, as LiveKit would send it. */
  function activeEvent(egressId: string) {
    const info = stack.livekit.getEgress(egressId)!.clone();
    info.status = 1; // EGRESS_ACTIVE
    return new WebhookEvent({
      event: 'egress_updated',
      id: 'EV_forgedforged',
      egressInfo: info,
      createdAt: BigInt(Math.floor(Date.now() / 1000)),
    });
  }

  const post = (body: string, authorization?: string) => {
    const req = stack.http().post('/livekit/webhook').set('Content-Type', 'application/webhook+json');
    return (authorization ? req.set('Authorization', authorization) : req).send(body);
  };

  it('refuses forged, tampered and unsigned webhooks with 401 and changes nothing', async () => {
    const { recording } = await startRecording();
    const body = JSON.stringify(activeEvent(recording.id).toJson());

    const forged = await stack.livekit.signWebhook(body, { apiSecret: 'not-the-secret' });
    expect(((await post(body, forged).expect(401)).body as { code: string }).code).toBe('invalid_webhook');
    const otherKey = await stack.livekit.signWebhook(body, { apiKey: 'otherkey' });
    await post(body, otherKey).expect(401);
    const genuine = await stack.livekit.signWebhook(body);
    await post(body.replace('"EGRESS_ACTIVE"', '"EGRESS_COMPLETE"'), genuine).expect(401);
    await post(body).expect(401);
    await post(body, `Bearer ${genuine}`).expect(401);

    expect(((await stack.http().get(`/recordings/${recording.name}/info`).expect(200)).body as RecordingView).status).toBe('STARTING');
    // The genuine one is accepted.
    await post(body, genuine).expect(200);
    await waitForRecording(stack, recording.name, (r) => r.status === 'ACTIVE');
  });

  it('acknowledges events it does not act on', async () => {
    const event = new WebhookEvent({ event: 'participant_joined', id: 'EV_participant01', room: { name: 'r', sid: 'RM_r' } });
    expect(await stack.livekit.sendWebhook(event)).toBe(200);
  });

  it('reaches the same state whatever the order, and with every event delivered twice', async () => {
    const { roomName, recording } = await startRecording();
    stack.livekit.webhooks.duplicate();
    stack.livekit.webhooks.hold();
    await stack.livekit.activateEgress(recording.id);
    await stack.http().post('/recordings/stop').send({ roomName }).expect(200);
    await eventually(() => stack.livekit.getEgress(recording.id)?.status === EgressStatus.EGRESS_COMPLETE, { what: 'egress complete' });
    await stack.livekit.webhooks.release({ reverse: true });
    await stack.livekit.webhooks.idle();

    const done = await waitForRecording(stack, recording.name, (r) => r.status === 'COMPLETE');
    expect(done.playable).toBe(true);
    await waitForRoomStatus(stack, roomName, 'STOPPED');
    const ours = stack.livekit.deliveries.filter((d) => d.event.egressInfo?.egressId === recording.id);
    expect(ours.every((d) => d.delivered && d.attempts.at(-1) === 200)).toBe(true);
    expect(await sidecarsOf(stack, recording.id)).toHaveLength(1);
  });

  it('reaches the same state when the start notice is held back until after the end', async () => {
    const { roomName, recording } = await startRecording();
    stack.livekit.webhooks.hold();
    await stack.livekit.activateEgress(recording.id);
    await stack.livekit.endEgress(recording.id, { status: 'LIMIT_REACHED' });
    // The delayed events arrive late, in order: the recording must end LIMIT_REACHED, not go back to ACTIVE.
    await stack.livekit.webhooks.release();
    await stack.livekit.webhooks.idle();
    const done = await waitForRecording(stack, recording.name, (r) => r.status === 'LIMIT_REACHED');
    expect(done).toMatchObject({ playable: true });
    expect(done.size).toBeGreaterThan(0);
    await waitForRoomStatus(stack, roomName, 'STOPPED');
    expect(await sidecarsOf(stack, recording.id)).toHaveLength(1);
  });

  it('records an egress whose start signal never came as ABORTED with the reason, and the room shows FAILED', async () => {
    const { roomName, recording } = await startRecording();
    await stack.livekit.endEgress(recording.id, { status: 'ABORTED', error: 'Start signal not received' });
    const aborted = await waitForRecording(stack, recording.name, (r) => r.status === 'ABORTED');
    expect(aborted).toMatchObject({ playable: false, error: 'Start signal not received' });
    await waitForRoomStatus(stack, roomName, 'FAILED');
  });

  it('takes egress_started arriving before the start call has returned', async () => {
    const roomName = uniqueRoom('race');
    await joinRoom(stack, roomName);
    stack.livekit.failNext('StartRoomCompositeEgress', { delayMs: 300 });
    const start = stack.http().post('/recordings/start').send({ roomName });
    const { recording } = (await start.expect(200)).body as StartAnswer;
    await stack.livekit.webhooks.idle();
    expect(stack.livekit.deliveries.filter((d) => d.event.egressInfo?.egressId === recording.id).map((d) => d.attempts.at(-1))).toEqual([
      200,
    ]);
    await stack.livekit.activateEgress(recording.id);
    await waitForRecording(stack, recording.name, (r) => r.status === 'ACTIVE');
  });

  it('writes the final state when the room is gone before egress_ended', async () => {
    const { roomName, recording } = await startRecording(uniqueRoom('gone'));
    await stack.livekit.activateEgress(recording.id);
    await waitForRoomStatus(stack, roomName, 'STARTED');
    await stack.livekit.closeRoom(roomName);
    const done = await waitForRecording(stack, recording.name, (r) => r.status === 'COMPLETE');
    expect(done).toMatchObject({ playable: true, endReason: 'roomClosed' });
    await stack.livekit.webhooks.idle();
    const ended = stack.livekit.deliveries.find((d) => d.event.event === 'egress_ended' && d.event.egressInfo?.egressId === recording.id);
    expect(ended?.attempts).toEqual([200]);
  });

  it('records an egress that ends FAILED, and the room shows FAILED', async () => {
    const { roomName, recording } = await startRecording();
    await stack.livekit.activateEgress(recording.id);
    await stack.livekit.endEgress(recording.id, { status: 'FAILED', error: 'upload failed' });
    const failed = await waitForRecording(stack, recording.name, (r) => r.status === 'FAILED');
    expect(failed).toMatchObject({ playable: false, error: 'upload failed' });
    await waitForRoomStatus(stack, roomName, 'FAILED');
  });

  it('answers 5xx when it cannot persist, so LiveKit retries until it can', async () => {
    const { recording } = await startRecording();
    // More failures than the S3 client retries by itself: the first delivery must fail.
    for (let i = 0; i < 3; i++) {
      stack.s3Proxy.inject((method, path) => method === 'PUT' && path.includes('/.metadata/'), { kind: 'status', status: 503 });
    }
    await stack.livekit.activateEgress(recording.id);
    await stack.livekit.webhooks.idle();
    const delivery = stack.livekit.deliveries.find(
      (d) => d.event.event === 'egress_updated' && d.event.egressInfo?.egressId === recording.id,
    );
    expect(delivery?.attempts[0]).toBeGreaterThanOrEqual(500);
    expect(delivery?.attempts.at(-1)).toBe(200);
    await waitForRecording(stack, recording.name, (r) => r.status === 'ACTIVE');
  });

  it("never lets an event about an older recording change the room's status", async () => {
    const roomName = uniqueRoom('older');
    const { recording: first } = await startRecording(roomName);
    await stack.livekit.activateEgress(first.id);
    await stack.http().post('/recordings/stop').send({ roomName }).expect(200);
    await waitForRecording(stack, first.name, (r) => r.status === 'COMPLETE');
    const { recording: second } = (await stack.http().post('/recordings/start').send({ roomName }).expect(200)).body as StartAnswer;
    await stack.livekit.activateEgress(second.id);
    await waitForRoomStatus(stack, roomName, 'STARTED');

    const late = stack.livekit.deliveries.filter((d) => d.event.egressInfo?.egressId === first.id).at(-1)!.event;
    expect(await stack.livekit.sendWebhook(late)).toBe(200);
    expect(await roomMetadata(stack, roomName)).toMatchObject({ recordingStatus: 'STARTED' });
  });

  it("keeps other applications' metadata keys, and leaves non-JSON metadata untouched", async () => {
    const jsonRoom = uniqueRoom('themed');
    stack.livekit.createRoom(jsonRoom, JSON.stringify({ theme: 'dark' }));
    const { recording } = await startRecording(jsonRoom);
    await stack.livekit.activateEgress(recording.id);
    await waitForRoomStatus(stack, jsonRoom, 'STARTED');
    expect(await roomMetadata(stack, jsonRoom)).toEqual({ theme: 'dark', recordingStatus: 'STARTED' });

    const textRoom = uniqueRoom('text');
    stack.livekit.createRoom(textRoom, 'owned by someone else');
    const { recording: other } = await startRecording(textRoom);
    await stack.livekit.activateEgress(other.id);
    await waitForRecording(stack, other.name, (r) => r.status === 'ACTIVE');
    expect(stack.livekit.getRoom(textRoom)!.metadata).toBe('owned by someone else');
  });
});
