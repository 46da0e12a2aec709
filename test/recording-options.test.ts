import type { RecordingView } from '../src/services/recordings/recording.model';
import type { Stream } from '../src/services/streams/stream.model';
import { eventually } from './support/eventually';
import { joinRoom, uniqueRoom, waitForRecording } from './support/recordings';
import { startStack, type TestStack } from './support/stack';
import type { ErrorAnswer, RecordingAnswer, RecordingPage } from './support/answers';

/** The StartRoomCompositeEgress request LiveKit received for a room (as the SDK put it on the wire). */
function startRequestFor(stack: TestStack, roomName: string) {
  const call = stack.livekit.calls
    .filter((c) => c.method === 'StartRoomCompositeEgress' && (c.request as { roomName?: string }).roomName === roomName)
    .at(-1);
  return call?.request as Record<string, unknown> | undefined;
}

/** What POST /recordings/start and /recordings/layout answer. */

describe('recording options, metadata and layout', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ env: { RECORDING_LAYOUT: 'speaker', RECORDING_PRESET: 'H264_1080P_30' } });
  });
  afterAll(async () => {
    await stack.close();
  });

  async function start(body: Record<string, unknown>) {
    const roomName = (body.roomName as string | undefined) ?? uniqueRoom('options');
    await joinRoom(stack, roomName);
    const res = await stack
      .http()
      .post('/recordings/start')
      .send({ roomName, ...body });
    return { roomName, res };
  }

  it('records with the configured defaults when the request names none', async () => {
    const { roomName, res } = await start({});
    expect(res.status).toBe(200);
    expect((res.body as RecordingAnswer).recording.options).toEqual({ layout: 'speaker', preset: 'H264_1080P_30', audioOnly: false });
    expect(startRequestFor(stack, roomName)).toMatchObject({ layout: 'speaker', preset: 'H264_1080P_30' });
  });

  it('streams with the same defaults (RECORDING_LAYOUT, RECORDING_PRESET) when a live stream names none, and with what it names', async () => {
    const roomName = uniqueRoom('stream defaults');
    await joinRoom(stack, roomName);
    const urls = ['rtmps://ingest.example.com:443/app/sk_defaults_0123456789'];
    const res = await stack.http().post('/streams/start').send({ roomName, urls }).expect(200);
    expect((res.body as { stream: Stream }).stream.options).toEqual({ layout: 'speaker', preset: 'H264_1080P_30' });
    expect(startRequestFor(stack, roomName)).toMatchObject({ layout: 'speaker', preset: 'H264_1080P_30' });
    await stack.http().post('/streams/stop').send({ roomName }).expect(200);

    const named = uniqueRoom('stream named');
    await joinRoom(stack, named);
    await stack.http().post('/streams/start').send({ roomName: named, urls, layout: 'grid', preset: 'H264_1080P_60' }).expect(200);
    expect(startRequestFor(stack, named)).toMatchObject({ layout: 'grid', preset: 'H264_1080P_60' });
  });

  it('sends the layout, explicit encoding and metadata asked for, keeps them, lists them and filters by metadata', async () => {
    const metadata = { meetingId: 'mtg-42', startedBy: 'Zoë', attendees: 7, external: false };
    const { roomName, res } = await start({ layout: 'single-speaker', width: 1920, height: 1080, fps: 25, videoBitrate: 4000, metadata });
    expect(res.status).toBe(200);
    const request = startRequestFor(stack, roomName)!;
    expect(request).toMatchObject({ layout: 'single-speaker', advanced: { width: 1920, height: 1080, framerate: 25, videoBitrate: 4000 } });
    expect(request.preset).toBeUndefined();
    const { name } = (res.body as RecordingAnswer).recording;
    const listed = await waitForRecording(stack, name, (r) => r.status === 'ACTIVE');
    expect(listed).toMatchObject({
      metadata,
      options: { layout: 'single-speaker', encoding: { width: 1920, height: 1080, fps: 25, videoBitrate: 4000 } },
    });

    await start({ metadata: { meetingId: 'mtg-43' } });
    const page = await stack.http().get('/recordings').query({ 'metadata.meetingId': 'mtg-42' }).expect(200);
    expect((page.body as RecordingPage).recordings.map((r) => r.name)).toEqual([name]);
    const both = await stack.http().get('/recordings').query({ 'metadata.meetingId': 'mtg-42', 'metadata.attendees': '7' }).expect(200);
    expect((both.body as RecordingPage).recordings).toHaveLength(1);
    expect(
      ((await stack.http().get('/recordings').query({ 'metadata.attendees': '8' }).expect(200)).body as RecordingPage).recordings,
    ).toEqual([]);
  });

  it('takes metadata from the host application only: a room token that sends it gets 403 and starts nothing', async () => {
    const roomName = uniqueRoom('metadata-host');
    const { token: moderator } = (
      await stack.http().post('/token').send({ roomName, participantName: 'chair', role: 'moderator' }).expect(200)
    ).body as { token: string };
    const startAs = (body: Record<string, unknown>) =>
      stack
        .anonymous()
        .post('/recordings/start')
        .set('Authorization', `Bearer ${moderator}`)
        .send({ roomName, ...body });
    // The host's filter and notifications trust these fields: a person in the room may not forge them.
    expect(((await startAs({ metadata: { meetingId: 'forged' } }).expect(403)).body as ErrorAnswer).code).toBe('forbidden');
    expect(startRequestFor(stack, roomName)).toBeUndefined();
    expect(
      ((await stack.http().get('/recordings').query({ 'metadata.meetingId': 'forged' }).expect(200)).body as RecordingPage).recordings,
    ).toEqual([]);
    // Without metadata the moderator records as before.
    const { recording } = (await startAs({}).expect(200)).body as RecordingAnswer;
    expect(recording.metadata).toBeUndefined();
    await stack.http().post('/recordings/stop').send({ roomName }).expect(200);
  });

  it('records audio only without any video setting', async () => {
    const { roomName, res } = await start({ audioOnly: true });
    expect(res.status).toBe(200);
    expect((res.body as RecordingAnswer).recording.options).toEqual({ layout: 'speaker', audioOnly: true });
    expect(startRequestFor(stack, roomName)).toMatchObject({ audioOnly: true });
    expect(startRequestFor(stack, roomName)!.preset).toBeUndefined();
  });

  it.each([
    [{ layout: 'mosaic' }, /layout must be one of grid, speaker, single-speaker/],
    [{ preset: 'H264_4K' }, /preset must be one of/],
    [{ preset: 'H264_720P_60', width: 1280 }, /a preset or explicit width, height, fps and bitrates, not both/],
    [{ audioOnly: true, fps: 30 }, /an audio-only recording takes no video settings/],
    [{ width: 1281 }, /width must be even/],
    [{ fps: 120 }, /fps is at most 60/],
    [{ maxDuration: 0 }, /maxDuration is at least 1 second/],
    [{ metadata: { nested: { a: 1 } } }, /metadata values must be strings, numbers or booleans/],
    [{ metadata: { big: 'x'.repeat(300) } }, /at most 256 characters/],
    [{ maxDurationn: 60 }, /maxDurationn/],
  ])('refuses %j with a clear 400 and starts nothing', async (body, message) => {
    const roomName = uniqueRoom('refused');
    await joinRoom(stack, roomName);
    const res = await stack
      .http()
      .post('/recordings/start')
      .send({ roomName, ...body })
      .expect(400);
    expect((res.body as ErrorAnswer).errorMessage).toMatch(message);
    expect(startRequestFor(stack, roomName)).toBeUndefined();
  });

  it('changes the layout of the running recording and remembers it; 409 when nothing runs', async () => {
    const { roomName, res } = await start({ layout: 'grid' });
    const { id, name } = (res.body as RecordingAnswer).recording;
    await waitForRecording(stack, name, (r) => r.status === 'ACTIVE');
    const changed = await stack.http().post('/recordings/layout').send({ roomName, layout: 'speaker' }).expect(200);
    expect((changed.body as RecordingAnswer).recording.options!.layout).toBe('speaker');
    // LiveKit tells the recorder through its participant metadata.
    const recorder = stack.livekit.listParticipants(roomName).find((p) => p.identity === id);
    expect(JSON.parse(recorder!.metadata)).toEqual({ layout: 'speaker' });
    expect(((await stack.http().get(`/recordings/${name}/info`).expect(200)).body as RecordingView).options!.layout).toBe('speaker');

    await stack.http().post('/recordings/stop').send({ roomName }).expect(200);
    const res409 = await stack.http().post('/recordings/layout').send({ roomName, layout: 'grid' }).expect(409);
    expect((res409.body as ErrorAnswer).code).toBe('recording_not_active');
    await stack.http().post('/recordings/layout').send({ roomName, layout: 'tiles' }).expect(400);
  });
});

describe('a layout change while the recording is STARTING', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ livekit: { lifecycle: 'manual' } });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('keeps the layout before the recorder has joined (LiveKit: 404) and tells the recorder once it has', async () => {
    const roomName = uniqueRoom('layout-starting');
    await joinRoom(stack, roomName);
    const { id, name } = (
      (await stack.http().post('/recordings/start').send({ roomName, layout: 'grid' }).expect(200)).body as RecordingAnswer
    ).recording;
    const early = await stack.http().post('/recordings/layout').send({ roomName, layout: 'speaker' }).expect(200);
    expect((early.body as RecordingAnswer).recording).toMatchObject({ status: 'STARTING', options: { layout: 'speaker' } });
    expect(((await stack.http().get(`/recordings/${name}/info`).expect(200)).body as RecordingView).options!.layout).toBe('speaker');

    stack.livekit.recorderJoins(id);
    const joined = await stack.http().post('/recordings/layout').send({ roomName, layout: 'single-speaker' }).expect(200);
    expect((joined.body as RecordingAnswer).recording).toMatchObject({ status: 'STARTING', options: { layout: 'single-speaker' } });
    const recorder = stack.livekit.listParticipants(roomName).find((p) => p.identity === id);
    expect(JSON.parse(recorder!.metadata)).toEqual({ layout: 'single-speaker' });
  });
});

describe('maximum duration', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ env: { RECONCILE_INTERVAL: '200ms' } });
    stack.services.reconciler.start();
  });
  afterAll(async () => {
    await stack.close();
  });

  it('stops a recording once its maxDuration has passed, and it ends with endReason maxDuration', async () => {
    const roomName = uniqueRoom('bounded');
    await joinRoom(stack, roomName);
    const started = Date.now();
    const { recording } = (await stack.http().post('/recordings/start').send({ roomName, maxDuration: 1 }).expect(200))
      .body as RecordingAnswer;
    expect(recording).toMatchObject({ maxDuration: 1 });
    expect(recording.deadline).toBeGreaterThanOrEqual(started + 1000);
    const done = await waitForRecording(stack, recording.name, (r) => r.status === 'COMPLETE');
    expect(done.endReason).toBe('maxDuration');
    expect(done.playable).toBe(true);
    expect(stack.livekit.getEgress(recording.id)!.endedAt).toBeGreaterThanOrEqual(BigInt(recording.deadline!) * 1_000_000n);
    await eventually(() => stack.livekit.getRoom(roomName)?.metadata.includes('"recordingStatus":"STOPPED"'), { what: 'room STOPPED' });
  });

  it('applies RECORDING_MAX_DURATION when the request gives none', async () => {
    const bounded = await startStack({ env: { RECONCILE_INTERVAL: '200ms', RECORDING_MAX_DURATION: '1s' } });
    bounded.services.reconciler.start();
    try {
      const roomName = uniqueRoom('default-bound');
      await joinRoom(bounded, roomName);
      const { recording } = (await bounded.http().post('/recordings/start').send({ roomName }).expect(200)).body as RecordingAnswer;
      expect(recording.maxDuration).toBe(1);
      expect((await waitForRecording(bounded, recording.name, (r) => r.status === 'COMPLETE')).endReason).toBe('maxDuration');
    } finally {
      await bounded.close();
    }
  });
});
