import { NotificationReceiver } from './support/notification-receiver';
import { eventually } from './support/eventually';
import { roomMetadata, uniqueRoom, waitForRecording } from './support/recordings';
import { startStack, type TestStack } from './support/stack';

const KEY = 'notification-signing-key-of-the-customer-0123';
const START_TIMEOUT_MS = 1000;

/**
 * A room composite goes ACTIVE only once someone publishes (the LiveKit double's start signal, cited
 * there from livekit/egress); until then the recording says it waits for a publisher, and the
 * service's start timeout ends it with its own reason beside LiveKit's.
 */
describe('a recording in a room where nobody publishes', () => {
  let stack: TestStack;
  let receiver: NotificationReceiver;
  beforeAll(async () => {
    receiver = await NotificationReceiver.start(KEY);
    stack = await startStack({
      livekit: { lifecycle: 'manual' },
      env: { RECORDING_START_TIMEOUT: `${START_TIMEOUT_MS}ms`, NOTIFY_URLS: receiver.url, NOTIFY_SIGNING_KEY: KEY },
    });
  });
  afterAll(async () => {
    await stack.close();
    await receiver.close();
  });

  /** Admitted, in the room, camera and microphone off. */
  async function joinSilently(roomName: string, participantName = 'alice') {
    const { identity } = (await stack.http().post('/token').send({ roomName, participantName }).expect(200)).body as { identity: string };
    stack.livekit.addParticipant(roomName, { identity, name: participantName });
    return identity;
  }

  async function startIn(roomName: string, body: Record<string, unknown> = {}) {
    const { recording } = (
      await stack
        .http()
        .post('/recordings/start')
        .send({ roomName, ...body })
        .expect(200)
    ).body as { recording: { id: string; name: string; waitingForPublisher?: boolean } };
    stack.livekit.recorderJoins(recording.id);
    return recording;
  }

  const listed = async (roomName: string) =>
    ((await stack.http().get('/recordings').query({ roomName }).expect(200)).body as { recordings: Array<Record<string, unknown>> })
      .recordings;

  it('says it waits for a publisher in the room metadata, the listing and its info, until someone publishes', async () => {
    const roomName = uniqueRoom('silent');
    const identity = await joinSilently(roomName);
    const recording = await startIn(roomName);
    expect(recording.waitingForPublisher).toBe(true);
    await eventually(async () => (await roomMetadata(stack, roomName)).recordingWaitingForPublisher === true, {
      what: 'room metadata says waiting',
    });
    expect(await roomMetadata(stack, roomName)).toMatchObject({ recordingStatus: 'STARTING' });
    expect(await listed(roomName)).toEqual([expect.objectContaining({ id: recording.id, status: 'STARTING', waitingForPublisher: true })]);

    stack.livekit.publishTrack(roomName, identity, 'video');
    // Still STARTING (the page has yet to send its start signal), no longer waiting for anyone.
    const published = await waitForRecording(stack, recording.name, (r) => !r.waitingForPublisher);
    expect(published.status).toBe('STARTING');
    await eventually(async () => (await roomMetadata(stack, roomName)).recordingWaitingForPublisher === undefined, {
      what: 'room metadata no longer says waiting',
    });
    expect(await roomMetadata(stack, roomName)).toMatchObject({ recordingStatus: 'STARTING' });

    await stack.livekit.activateEgress(recording.id);
    const active = await waitForRecording(stack, recording.name, (r) => r.status === 'ACTIVE');
    expect(active.waitingForPublisher).toBeUndefined();
  });

  it('does not wait when someone already publishes', async () => {
    const roomName = uniqueRoom('lively');
    const identity = await joinSilently(roomName);
    stack.livekit.publishTrack(roomName, identity, 'audio');
    const recording = await startIn(roomName);
    expect(recording.waitingForPublisher).toBeUndefined();
    expect(await roomMetadata(stack, roomName)).not.toHaveProperty('recordingWaitingForPublisher');
  });

  it('an audio-only recording keeps waiting for a microphone when only a camera is published', async () => {
    const roomName = uniqueRoom('camera only');
    const identity = await joinSilently(roomName);
    const recording = await startIn(roomName, { audioOnly: true });
    expect(recording.waitingForPublisher).toBe(true);
    stack.livekit.publishTrack(roomName, identity, 'video');
    await stack.livekit.webhooks.idle();
    expect((await stack.http().get(`/recordings/${recording.name}/info`).expect(200)).body).toMatchObject({ waitingForPublisher: true });

    stack.livekit.publishTrack(roomName, identity, 'audio');
    await waitForRecording(stack, recording.name, (r) => !r.waitingForPublisher);
  });

  it('a recorder or an agent publishing does not count', async () => {
    const roomName = uniqueRoom('agent only');
    await joinSilently(roomName);
    stack.livekit.addParticipant(roomName, { identity: 'agent-1', kind: 'AGENT', tracks: ['audio'] });
    const recording = await startIn(roomName);
    expect(recording.waitingForPublisher).toBe(true);
    // track_published does not say who published: the service asks who publishes now.
    stack.livekit.publishTrack(roomName, 'agent-1', 'video');
    await stack.livekit.webhooks.idle();
    expect((await stack.http().get(`/recordings/${recording.name}/info`).expect(200)).body).toMatchObject({
      status: 'STARTING',
      waitingForPublisher: true,
    });
  });

  it("ends at the start timeout with noPublisher, the service's reason and LiveKit's error beside it", async () => {
    const roomName = uniqueRoom('nobody came');
    await joinSilently(roomName);
    const recording = await startIn(roomName);
    await new Promise((resolve) => setTimeout(resolve, START_TIMEOUT_MS + 100));
    await stack.services.reconciler.runPass({ full: false });

    const ended = await waitForRecording(stack, recording.name, (r) => r.status === 'ABORTED');
    expect(ended).toMatchObject({
      endReason: 'noPublisher',
      error: 'Nobody published within 1 s',
      livekitError: 'Start signal not received',
      playable: false,
    });
    expect(ended.waitingForPublisher).toBeUndefined();
    expect(await roomMetadata(stack, roomName)).toMatchObject({ recordingStatus: 'FAILED' });
    expect(await roomMetadata(stack, roomName)).not.toHaveProperty('recordingWaitingForPublisher');
    // LiveKit's own egress_ended (ABORTED, "Start signal not received") changes none of it.
    await stack.livekit.webhooks.idle();
    expect((await stack.http().get(`/recordings/${recording.name}/info`).expect(200)).body).toMatchObject({
      status: 'ABORTED',
      endReason: 'noPublisher',
      error: 'Nobody published within 1 s',
      livekitError: 'Start signal not received',
    });
    const failed = await eventually(() => receiver.received.find((r) => r.id === `${recording.id}:failed`), {
      what: 'recording.failed received',
    });
    expect(failed.recording).toMatchObject({
      status: 'ABORTED',
      endReason: 'noPublisher',
      error: 'Nobody published within 1 s',
      livekitError: 'Start signal not received',
    });
  });
});
