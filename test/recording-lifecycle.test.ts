import { EgressClient, EncodedFileOutput, EncodedFileType, S3Upload } from 'livekit-server-sdk';
import {
  FIXTURE_MP4,
  binary,
  completeRecording,
  joinRoom,
  readObject,
  roomMetadata,
  uniqueRoom,
  waitForRecording,
  waitForRoomStatus,
} from './support/recordings';
import { eventually } from './support/eventually';
import { startStack, type TestStack } from './support/stack';
import type { ErrorAnswer, RecordingAnswer, RecordingPage } from './support/answers';

/** What GET /recordings/:name/url answers. */
interface MediaUrl {
  recordingUrl: string;
  expiresAt: number;
}

describe('recording a room', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ livekit: { lifecycle: 'manual' }, env: { S3_PUBLIC_ENDPOINT: 'http://media.example.test:9000' } });
  });
  afterAll(async () => {
    await stack.close();
  });
  const listRoom = async (roomName: string) =>
    ((await stack.http().get('/recordings').query({ roomName }).expect(200)).body as RecordingPage).recordings;

  it('walks STARTING → STARTED → STOPPING → STOPPED, with a sidecar at every step and a playable MP4 at the end', async () => {
    const roomName = uniqueRoom('walk');
    await joinRoom(stack, roomName);
    const started = (await stack.http().post('/recordings/start').send({ roomName }).expect(200)).body as RecordingAnswer;
    const { recording } = started;
    expect(started.message).toBe('Recording started');
    expect(recording).toMatchObject({ roomName, status: 'STARTING', playable: false });
    expect(recording.id).toMatch(/^EG_/);
    expect(recording.roomId).toBe(stack.livekit.getRoom(roomName)!.sid);
    expect(recording.name).toMatch(new RegExp(`^${roomName}-RM_\\w+-\\d+\\.mp4$`));
    await waitForRoomStatus(stack, roomName, 'STARTING');
    // The sidecar exists from the moment start returns.
    await stack.http().get(`/recordings/${recording.name}/info`).expect(200);

    await stack.livekit.activateEgress(recording.id);
    await waitForRoomStatus(stack, roomName, 'STARTED');
    await waitForRecording(stack, recording.name, (r) => r.status === 'ACTIVE');

    const stopped = await stack.http().post('/recordings/stop').send({ roomName }).expect(200);
    expect(stopped.body).toMatchObject({ message: 'Recording stopped', recording: { id: recording.id, status: 'ENDING' } });
    await waitForRoomStatus(stack, roomName, 'STOPPING');

    const done = await waitForRecording(stack, recording.name, (r) => r.status === 'COMPLETE');
    await waitForRoomStatus(stack, roomName, 'STOPPED');
    expect(done).toMatchObject({ playable: true, size: FIXTURE_MP4.length, endReason: 'stopped' });
    expect(done.duration).toBeGreaterThan(0);
    expect(done.endedAt).toBeGreaterThanOrEqual(done.startedAt);
    expect(await readObject(stack, done.mediaKey)).toEqual(FIXTURE_MP4);
    expect(await roomMetadata(stack, roomName)).toEqual({
      createdBy: 'recording-manager',
      recordingStatus: 'STOPPED',
      streamingStatus: 'STOPPED',
    });
  });

  it('lists in-progress, failed and finished recordings with their status and playability', async () => {
    const roomName = uniqueRoom('mixed');
    await joinRoom(stack, roomName);
    const first = ((await stack.http().post('/recordings/start').send({ roomName }).expect(200)).body as RecordingAnswer).recording;
    await stack.livekit.endEgress(first.id, { status: 'FAILED', error: 'chrome crashed' });
    await waitForRoomStatus(stack, roomName, 'FAILED');
    const second = ((await stack.http().post('/recordings/start').send({ roomName }).expect(200)).body as RecordingAnswer).recording;

    const list = (await stack.http().get('/recordings').query({ roomName }).expect(200)).body as RecordingPage;
    expect(list.nextCursor).toBeNull();
    expect(list.recordings.map((r) => r.id)).toEqual([second.id, first.id]);
    expect(list.recordings[0]).toMatchObject({ status: 'STARTING', playable: false });
    expect(list.recordings[1]).toMatchObject({ status: 'FAILED', playable: false, error: 'chrome crashed' });

    // Not playable: no URL, no media; unknown: 404.
    expect(((await stack.http().get(`/recordings/${first.name}/url`).expect(409)).body as ErrorAnswer).code).toBe('recording_not_playable');
    await stack.http().get(`/recordings/${first.name}`).expect(409);
    await stack.http().get('/recordings/nothing-here.mp4').expect(404);
    await stack.http().get('/recordings/nothing-here.mp4/url').expect(404);
    // An unfinished recording cannot be deleted; a failed one can.
    expect(((await stack.http().delete(`/recordings/${second.name}`).expect(409)).body as ErrorAnswer).code).toBe('recording_in_progress');
    await stack.http().delete(`/recordings/${first.name}`).expect(200);
  });

  it('refuses a second recording while one is active (409), and a stop with nothing active (409)', async () => {
    const roomName = uniqueRoom('busy');
    await joinRoom(stack, roomName);
    await stack.http().post('/recordings/stop').send({ roomName }).expect(409);
    const { recording } = (await stack.http().post('/recordings/start').send({ roomName }).expect(200)).body as RecordingAnswer;
    const again = await stack.http().post('/recordings/start').send({ roomName }).expect(409);
    expect(again.body).toMatchObject({ code: 'recording_active' });
    // Stopping a recording that never started media aborts it.
    const stopped = await stack.http().post('/recordings/stop').send({ roomName }).expect(200);
    expect((stopped.body as RecordingAnswer).recording).toMatchObject({ id: recording.id, status: 'ABORTED' });
    await waitForRoomStatus(stack, roomName, 'FAILED');
    await stack.http().post('/recordings/stop').send({ roomName }).expect(409);
  });

  it("ignores another application's egress in the same room", async () => {
    const roomName = uniqueRoom('shared');
    await joinRoom(stack, roomName);
    const other = new EgressClient(stack.livekit.url, stack.livekit.apiKey, stack.livekit.apiSecret);
    const output = new EncodedFileOutput({
      fileType: EncodedFileType.MP4,
      filepath: `recordings/other-app-{time}.mp4`,
      output: {
        case: 's3',
        value: new S3Upload({
          bucket: stack.s3.bucket,
          endpoint: stack.s3.endpoint,
          accessKey: 'S3RVER',
          secret: 'S3RVER',
          forcePathStyle: true,
        }),
      },
    });
    const foreign = await other.startRoomCompositeEgress(roomName, output);
    await stack.livekit.activateEgress(foreign.egressId);
    await stack.livekit.webhooks.idle();
    // Its webhooks were acknowledged and changed nothing; our own start is not blocked by it.
    expect(
      stack.livekit.deliveries.filter((d) => d.event.egressInfo?.egressId === foreign.egressId).every((d) => d.attempts.at(-1) === 200),
    ).toBe(true);
    expect(await listRoom(roomName)).toEqual([]);
    expect(await roomMetadata(stack, roomName)).toMatchObject({ recordingStatus: 'STOPPED' });
    await stack.http().post('/recordings/start').send({ roomName }).expect(200);
  });

  it('answers 404 for a room that does not exist and 400 for bad input', async () => {
    const missing = await stack
      .http()
      .post('/recordings/start')
      .send({ roomName: uniqueRoom('missing') })
      .expect(404);
    expect((missing.body as ErrorAnswer).errorMessage).toMatch(/does not exist/);
    expect(((await stack.http().post('/recordings/start').send({}).expect(400)).body as ErrorAnswer).errorMessage).toMatch(
      /roomName is required/,
    );
    await stack
      .http()
      .post('/recordings/stop')
      .send({ roomName: ['a'] })
      .expect(400);
  });

  it('survives LiveKit failing during start with a clear 502/503, and starts fine afterwards', async () => {
    const roomName = uniqueRoom('flaky');
    await joinRoom(stack, roomName);
    stack.livekit.failNext('StartRoomCompositeEgress', { code: 'internal', msg: 'egress not connected (redis required)' });
    const failed = await stack.http().post('/recordings/start').send({ roomName }).expect(502);
    expect((failed.body as ErrorAnswer).code).toBe('livekit_error');
    stack.livekit.failNext('StartRoomCompositeEgress', 'network');
    expect(((await stack.http().post('/recordings/start').send({ roomName }).expect(503)).body as ErrorAnswer).code).toBe(
      'livekit_unavailable',
    );
    stack.livekit.failNext('ListEgress', { code: 'unavailable', msg: 'no response from servers' }, 3);
    await stack.http().post('/recordings/start').send({ roomName }).expect(503);
    expect(await listRoom(roomName)).toEqual([]);
    // A single passing failure of a read is asked again, not reported.
    stack.livekit.failNext('ListEgress', 'network');
    await stack.http().post('/recordings/start').send({ roomName }).expect(200);
    expect(stack.livekit.listEgresses().filter((e) => e.roomName === roomName)).toHaveLength(1);
  });

  it('hands out a presigned URL for the public S3 endpoint, valid for the configured time', async () => {
    const { name, recording } = await completeWithManualLifecycle(stack);
    const { recordingUrl } = (await stack.http().get(`/recordings/${name}/url`).expect(200)).body as MediaUrl;
    const url = new URL(recordingUrl);
    expect(url.origin).toBe('http://media.example.test:9000');
    expect(decodeURIComponent(url.pathname)).toBe(`/${stack.s3.bucket}/${recording.mediaKey}`);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('3600');
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('deletes media and sidecar, tells the room, and keeps a late webhook from bringing it back', async () => {
    const { roomName, name, recording } = await completeWithManualLifecycle(stack);
    const deliveriesBefore = stack.livekit.deliveries.length;
    const res = await stack.http().delete(`/recordings/${name}`).expect(200);
    expect(res.body).toEqual({ message: 'Recording deleted' });
    expect(await readObject(stack, recording.mediaKey)).toBeUndefined();
    await stack.http().get(`/recordings/${name}/info`).expect(404);
    await stack.http().delete(`/recordings/${name}`).expect(404);
    const packet = stack.livekit.dataPackets.find((p) => p.room === roomName && p.topic === 'RECORDING_DELETED');
    expect(packet).toMatchObject({ kind: 'RELIABLE', destinationIdentities: [] });
    expect(JSON.parse(packet!.payload.toString('utf8'))).toEqual({ recordingName: name });

    // LiveKit retries the final webhook after the deletion: it must not recreate the recording.
    const ended = stack.livekit.deliveries
      .slice(0, deliveriesBefore)
      .reverse()
      .find((d) => d.event.egressInfo?.egressId === recording.id);
    expect(await stack.livekit.sendWebhook(ended!.event)).toBe(200);
    await stack.http().get(`/recordings/${name}/info`).expect(404);
    expect(await listRoom(roomName)).toEqual([]);
  });

  it('deletes a recording whose room is gone, without telling anyone', async () => {
    const { roomName, name } = await completeWithManualLifecycle(stack);
    await stack.livekit.closeRoom(roomName);
    const packetsBefore = stack.livekit.dataPackets.length;
    await stack.http().delete(`/recordings/${name}`).expect(200);
    expect(stack.livekit.dataPackets.length).toBe(packetsBefore);
  });

  it('uses the proxy URL when RECORDING_PLAYBACK_STRATEGY is PROXY', async () => {
    const proxied = await startStack({ env: { RECORDING_PLAYBACK_STRATEGY: 'PROXY' } });
    try {
      const { name } = await completeRecording(proxied, uniqueRoom('proxy strategy'));
      const { recordingUrl } = (
        await proxied
          .http()
          .get(`/recordings/${encodeURIComponent(name)}/url`)
          .expect(200)
      ).body as MediaUrl;
      expect(recordingUrl).toMatch(new RegExp(`^/recordings/${encodeURIComponent(name)}\\?expires=\\d+&signature=[\\w-]+$`));
      // As a <video> plays it: no bearer token, the signature is the credential.
      const media = await proxied.anonymous().get(recordingUrl).buffer(true).parse(binary).expect(200);
      expect(media.body).toEqual(FIXTURE_MP4);
    } finally {
      await proxied.close();
    }
  });
});

/** The manual lifecycle needs the test to move the egress along. */
async function completeWithManualLifecycle(stack: TestStack) {
  const roomName = uniqueRoom('done');
  await joinRoom(stack, roomName);
  const { recording } = (await stack.http().post('/recordings/start').send({ roomName }).expect(200)).body as RecordingAnswer;
  await stack.livekit.activateEgress(recording.id);
  await stack.http().post('/recordings/stop').send({ roomName }).expect(200);
  const done = await waitForRecording(stack, recording.name, (r) => r.playable);
  await eventually(() => stack.livekit.webhooks.idle().then(() => true));
  return { roomName, name: recording.name, recording: done };
}
