import { EgressStatus } from 'livekit-server-sdk';
import type { RecordingView } from '../src/services/recordings/recording.model';
import type { Stream } from '../src/services/streams/stream.model';
import { eventually } from './support/eventually';
import { NotificationReceiver } from './support/notification-receiver';
import { joinRoom, readObject, roomMetadata, uniqueRoom, waitForRecording } from './support/recordings';
import { startStack, type TestStack } from './support/stack';
import type { ErrorAnswer, StreamAnswer } from './support/answers';

const IVS_KEY = 'sk_us-west-2_aBcDeFgHiJkLmNoPqRsTuV';
const YOUTUBE_KEY = 'yt-live-7h2k-9x4m-q8w1-zz90';
const TWITCH_KEY = 'live_123456789_AbCdEfGhIjKlMn';
const IVS = `rtmps://a1b2c3.global-contribute.live-video.net:443/app/${IVS_KEY}`;
const YOUTUBE = `rtmp://a.rtmp.youtube.com/live2/${YOUTUBE_KEY}`;
const TWITCH = `rtmp://live.twitch.tv/app/${TWITCH_KEY}`;
const KEYS = [IVS_KEY, YOUTUBE_KEY, TWITCH_KEY];

/** What the /streams routes answer; GET /streams/:roomName has null when nothing streams. */
type TokenAnswer = { token: string };

/** The stream keys appear nowhere in `value` (an answer body, a stored record, a notification). */
function expectNoKeys(value: unknown) {
  const text = JSON.stringify(value);
  for (const key of KEYS) expect(text.includes(key) ? key : 'masked').toBe('masked');
}

describe('live streaming to RTMP destinations', () => {
  let stack: TestStack;
  let receiver: NotificationReceiver;
  const signingKey = 'stream-notification-signing-key-0123456789';

  beforeAll(async () => {
    receiver = await NotificationReceiver.start(signingKey);
    stack = await startStack({
      env: { NOTIFY_URLS: receiver.url, NOTIFY_SIGNING_KEY: signingKey, NOTIFY_RETRY_BASE: '50ms', AUTO_STOP_GRACE: '1s' },
      // What egress's own network resolves them to (a compose service, the loopback).
      dns: { localhost: ['127.0.0.1', '::1'], minio: ['172.18.0.4'] },
    });
  });
  afterAll(async () => {
    await stack.close();
    await receiver.close();
  });
  afterEach(() => stack.livekit.clearFaults());

  async function currentStream(roomName: string): Promise<Stream | null> {
    const res = await stack
      .http()
      .get(`/streams/${encodeURIComponent(roomName)}`)
      .expect(200);
    return (res.body as { stream: Stream | null }).stream;
  }

  async function waitForStream(roomName: string, check: (stream: Stream) => boolean): Promise<Stream> {
    return eventually(
      async () => {
        const stream = await currentStream(roomName);
        return stream && check(stream) ? stream : undefined;
      },
      { what: `the stream of ${roomName}` },
    );
  }

  async function streamingRoom(urls = [IVS, YOUTUBE], label = 'live') {
    const roomName = uniqueRoom(label);
    const { identity: host } = await joinRoom(stack, roomName);
    const res = await stack.http().post('/streams/start').send({ roomName, urls, layout: 'speaker' }).expect(200);
    const body = res.body as StreamAnswer;
    return { roomName, host, started: body.stream, body };
  }

  it('goes live to Amazon IVS and YouTube at once, showing STARTED beside the recording status, and stops', async () => {
    const { roomName, started, body } = await streamingRoom();
    expectNoKeys(body);
    expect(started).toMatchObject({ roomName, status: 'STARTING', options: { layout: 'speaker' } });

    // LiveKit was given the real URLs; everything we show has the keys masked.
    const request = stack.livekit.calls.find(
      (call) => call.method === 'StartRoomCompositeEgress' && (call.request as { roomName?: string }).roomName === roomName,
    )!;
    expect(JSON.stringify(request.request)).toContain(IVS_KEY);
    const live = await waitForStream(roomName, (s) => s.status === 'ACTIVE');
    expect(live.destinations.map((d) => d.url).sort()).toEqual([
      'rtmp://a.rtmp.youtube.com/live2/{yt-...z90}',
      'rtmps://a1b2c3.global-contribute.live-video.net:443/app/{sk_...TuV}',
    ]);
    expect(live.destinations.every((d) => d.status === 'ACTIVE')).toBe(true);
    await eventually(async () => (await roomMetadata(stack, roomName)).streamingStatus === 'STARTED', { what: 'streamingStatus STARTED' });
    expect(await roomMetadata(stack, roomName)).toMatchObject({ recordingStatus: 'STOPPED', streamingStatus: 'STARTED' });

    const { stream: stopped } = (await stack.http().post('/streams/stop').send({ roomName }).expect(200)).body as StreamAnswer;
    expect(stopped.id).toBe(started.id);
    const done = await waitForStream(roomName, (s) => s.status === 'COMPLETE');
    expect(done.endReason).toBe('stopped');
    expect(done.destinations.map((d) => d.status)).toEqual(['FINISHED', 'FINISHED']);
    await eventually(async () => (await roomMetadata(stack, roomName)).streamingStatus === 'STOPPED', { what: 'streamingStatus STOPPED' });
    await stack.http().post('/streams/stop').send({ roomName }).expect(409);

    const record = await readObject(stack, `${stack.config.recordings.path}.streams/${started.id}.json`);
    expect(JSON.parse(record!.toString())).toMatchObject({ id: started.id, status: 'COMPLETE' });
    expectNoKeys(record!.toString());

    await eventually(() => receiver.of('stream.ended').some((n) => n.id === `${started.id}:ended`), { what: 'stream.ended' });
    const notices = receiver.received.filter((n) => n.id.startsWith(started.id));
    expect(notices.map((n) => n.type)).toEqual(['stream.started', 'stream.ended']);
    expect(notices.every((n) => n.signatureValid)).toBe(true);
    expect((notices[1] as unknown as { stream: Stream }).stream).toMatchObject({
      id: started.id,
      status: 'COMPLETE',
      endReason: 'stopped',
    });
    expectNoKeys(notices);
  });

  it('streams and records the same room at once: each has its own status and stops alone', async () => {
    const { roomName, started } = await streamingRoom([YOUTUBE]);
    const { recording } = (await stack.http().post('/recordings/start').send({ roomName }).expect(200)).body as {
      recording: RecordingView;
    };
    await waitForRecording(stack, recording.name, (r) => r.status === 'ACTIVE');
    await waitForStream(roomName, (s) => s.status === 'ACTIVE');
    await eventually(
      async () => {
        const metadata = await roomMetadata(stack, roomName);
        return metadata.recordingStatus === 'STARTED' && metadata.streamingStatus === 'STARTED';
      },
      { what: 'both STARTED' },
    );

    await stack.http().post('/recordings/stop').send({ roomName }).expect(200);
    await waitForRecording(stack, recording.name, (r) => r.status === 'COMPLETE');
    expect(stack.livekit.getEgress(started.id)!.status).toBe(EgressStatus.EGRESS_ACTIVE);
    await eventually(async () => (await roomMetadata(stack, roomName)).recordingStatus === 'STOPPED', { what: 'recording STOPPED' });
    expect((await roomMetadata(stack, roomName)).streamingStatus).toBe('STARTED');

    // A second stream is refused while one runs; the recording's listing never shows the stream.
    const again = await stack
      .http()
      .post('/streams/start')
      .send({ roomName, urls: [TWITCH] })
      .expect(409);
    expect((again.body as ErrorAnswer).code).toBe('stream_active');
    const listed = (await stack.http().get('/recordings').query({ roomName }).expect(200)).body as { recordings: RecordingView[] };
    expect(listed.recordings.map((r) => r.id)).toEqual([recording.id]);
    await stack.http().post('/streams/stop').send({ roomName }).expect(200);
  });

  it('adds and removes destinations while live; a removal names the URL as it was added', async () => {
    const { roomName, started } = await streamingRoom([IVS]);
    await waitForStream(roomName, (s) => s.status === 'ACTIVE');

    const added = await stack
      .http()
      .post('/streams/update')
      .send({ roomName, addUrls: [YOUTUBE, TWITCH] })
      .expect(200);
    expectNoKeys(added.body);
    expect((added.body as StreamAnswer).stream.destinations).toHaveLength(3);

    const removed = await stack
      .http()
      .post('/streams/update')
      .send({ roomName, removeUrls: [IVS] })
      .expect(200);
    const ivs = (removed.body as StreamAnswer).stream.destinations.find((d) => d.url.includes('live-video.net'))!;
    expect(ivs.status).toBe('FINISHED');
    expect(stack.livekit.getEgress(started.id)!.status).toBe(EgressStatus.EGRESS_ACTIVE);

    // A masked URL is not a destination LiveKit knows: 404, and the answer quotes no key.
    const masked = await stack
      .http()
      .post('/streams/update')
      .send({ roomName, removeUrls: [ivs.url.replace('{', '').replace('}', '')] })
      .expect(404);
    const unknown = await stack
      .http()
      .post('/streams/update')
      .send({ roomName, removeUrls: [`rtmp://a.rtmp.youtube.com/live2/${YOUTUBE_KEY}x`] })
      .expect(404);
    expectNoKeys([masked.body, unknown.body]);
    expect((unknown.body as ErrorAnswer).errorMessage).toContain('a.rtmp.youtube.com');

    // An SRT destination on an RTMP stream: LiveKit refuses it, the answer says why.
    const srt = await stack
      .http()
      .post('/streams/update')
      .send({ roomName, addUrls: ['srt://ingest.example.com:9000?streamid=secret-srt-id'] })
      .expect(400);
    expect((srt.body as ErrorAnswer).errorMessage).not.toContain('secret-srt-id');

    const live = await waitForStream(roomName, (s) => s.destinations.length === 3 && s.status === 'ACTIVE');
    expect(live.destinations.filter((d) => d.status === 'ACTIVE')).toHaveLength(2);
    await stack.http().post('/streams/stop').send({ roomName }).expect(200);
    await stack
      .http()
      .post('/streams/update')
      .send({ roomName, addUrls: [IVS] })
      .expect(409);
  });

  it('keeps streaming when one destination fails, and shows FAILED when the last one does', async () => {
    stack.livekit.failStreamUrl(TWITCH, 'Could not connect to RTMP stream');
    const { roomName, started } = await streamingRoom([YOUTUBE, TWITCH]);
    const degraded = await waitForStream(roomName, (s) => s.destinations.some((d) => d.status === 'FAILED'));
    expect(degraded.status).toBe('ACTIVE');
    expect(degraded.destinations.find((d) => d.url.includes('twitch'))).toMatchObject({
      status: 'FAILED',
      error: 'Could not connect to RTMP stream',
    });
    expect((await roomMetadata(stack, roomName)).streamingStatus).toBe('STARTED');

    await stack.livekit.failStream(started.id, YOUTUBE, 'Connection reset by peer');
    const failed = await waitForStream(roomName, (s) => s.status === 'FAILED');
    expect(failed.error).toBe('Connection reset by peer');
    await eventually(async () => (await roomMetadata(stack, roomName)).streamingStatus === 'FAILED', { what: 'streamingStatus FAILED' });
    await eventually(() => receiver.of('stream.ended').some((n) => n.id === `${started.id}:ended`), { what: 'stream.ended on failure' });
  });

  it('stops the stream with roomEmpty once everyone has left and the grace period is over', async () => {
    const { roomName, host } = await streamingRoom([YOUTUBE]);
    await waitForStream(roomName, (s) => s.status === 'ACTIVE');
    stack.livekit.removeParticipant(roomName, host);
    const marked = await waitForStream(roomName, (s) => (s.autoStopAt ?? 0) > 0);
    expect(marked.status).toBe('ACTIVE');
    const done = await waitForStream(roomName, (s) => s.status === 'COMPLETE');
    expect(done.endReason).toBe('roomEmpty');
  });

  it('refuses what is not a destination, without quoting it back', async () => {
    const roomName = uniqueRoom('refused');
    await joinRoom(stack, roomName);
    const cases: Array<[unknown, string]> = [
      [{ roomName }, 'urls'],
      [{ roomName, urls: [] }, 'at least 1'],
      [{ roomName, urls: [`https://example.com/live/${IVS_KEY}`] }, 'rtmp(s)://'],
      [{ roomName, urls: [`rtmp://example.com/${IVS_KEY}`] }, 'rtmp(s)://'],
      [{ roomName, urls: [IVS, 'srt://ingest.example.com:9000?streamid=abc'] }, 'all RTMP(S) or all SRT'],
      [{ roomName, urls: [IVS, IVS] }, 'each URL once'],
      [{ roomName, urls: [`rtmp://127.0.0.1/live/${IVS_KEY}`] }, 'must be a public address'],
      [{ roomName, urls: [`rtmp://[::1]:1935/live/${IVS_KEY}`] }, 'must be a public address'],
      [{ roomName, urls: [`rtmp://10.1.2.3/live/${IVS_KEY}`] }, 'must be a public address'],
      [{ roomName, urls: [`rtmp://localhost/live/${IVS_KEY}`] }, 'must be a public address'],
      // Other spellings of loopback, and a name on egress's own network (a compose service).
      [{ roomName, urls: [`rtmp://127.1/live/${IVS_KEY}`] }, 'must be a public address'],
      [{ roomName, urls: [`rtmp://0x7f000001/live/${IVS_KEY}`] }, 'must be a public address'],
      [{ roomName, urls: [`rtmp://localhost./live/${IVS_KEY}`] }, 'must be a public address'],
      [{ roomName, urls: [`rtmp://minio:1935/live/${IVS_KEY}`] }, 'must be a public address'],
      [{ roomName, urls: [IVS], layout: 'mosaic' }, 'layout'],
      [{ roomName, urls: [IVS], maxDuration: 10 }, 'maxDuration'],
    ];
    for (const [body, message] of cases) {
      const res = await stack
        .http()
        .post('/streams/start')
        .send(body as object)
        .expect(400);
      expect((res.body as ErrorAnswer).errorMessage).toContain(message);
      expectNoKeys(res.body);
    }
    await stack.http().post('/streams/update').send({ roomName }).expect(400);
    expect(stack.livekit.listEgresses().filter((info) => info.roomName === roomName)).toEqual([]);
  });

  it('streams to a public address given by number, and answers 400 when LiveKit refuses a destination', async () => {
    const roomName = uniqueRoom('numeric');
    await joinRoom(stack, roomName);
    const srt = 'srt://93.184.215.14:9000?streamid=publish:live/numeric-secret-id';
    const { stream: started } = (
      await stack
        .http()
        .post('/streams/start')
        .send({ roomName, urls: [srt] })
        .expect(200)
    ).body as StreamAnswer;
    expect(JSON.stringify(started)).not.toContain('numeric-secret-id');
    await stack.http().post('/streams/stop').send({ roomName }).expect(200);

    stack.livekit.failNext('StartRoomCompositeEgress', {
      code: 'invalid_argument',
      msg: `invalid url ${YOUTUBE}: rtmp urls must be of format …`,
    });
    const refused = await stack
      .http()
      .post('/streams/start')
      .send({ roomName, urls: [YOUTUBE] })
      .expect(400);
    expect((refused.body as ErrorAnswer).errorMessage).toContain('LiveKit refused a destination');
    expectNoKeys(refused.body);
  });

  it('stops a stream whose start LiveKit did not answer in time, rather than let it broadcast unseen', async () => {
    const slow = await startStack({ env: { LIVEKIT_REQUEST_TIMEOUT: '1s' } });
    try {
      const roomName = uniqueRoom('unanswered');
      await joinRoom(slow, roomName);
      // LiveKit starts the egress at once but answers only after the service gave up waiting.
      slow.livekit.failNext('StartRoomCompositeEgress', { delayMs: 2500 });
      await slow
        .http()
        .post('/streams/start')
        .send({ roomName, urls: [YOUTUBE] })
        .expect(503);
      const started = slow.livekit.listEgresses().filter((info) => info.roomName === roomName);
      expect(started).toHaveLength(1);
      await eventually(() => slow.livekit.getEgress(started[0].egressId)!.status >= EgressStatus.EGRESS_ENDING, {
        what: 'the unanswered stream stopped',
      });
      // The room can go live again at once.
      await slow
        .http()
        .post('/streams/start')
        .send({ roomName, urls: [TWITCH] })
        .expect(200);
      await slow.http().post('/streams/stop').send({ roomName }).expect(200);
    } finally {
      await slow.close();
    }
  });

  it('needs the stream permission in the room: a moderator may, a participant and a stranger may not', async () => {
    const roomName = uniqueRoom('rights');
    const { token: moderator } = (
      await stack.http().post('/token').send({ roomName, participantName: 'mod', role: 'moderator' }).expect(200)
    ).body as TokenAnswer;
    const { token: participant } = (await stack.http().post('/token').send({ roomName, participantName: 'guest' }).expect(200))
      .body as TokenAnswer;
    await stack
      .anonymous()
      .post('/streams/start')
      .send({ roomName, urls: [YOUTUBE] })
      .expect(401);
    await stack.anonymous().get(`/streams/${roomName}`).expect(401);
    await stack
      .anonymous()
      .post('/streams/start')
      .set('Authorization', `Bearer ${participant}`)
      .send({ roomName, urls: [YOUTUBE] })
      .expect(403);
    await stack
      .anonymous()
      .post('/streams/start')
      .set('Authorization', `Bearer ${moderator}`)
      .send({ roomName: uniqueRoom('other'), urls: [YOUTUBE] })
      .expect(403);
    expect(stack.livekit.listEgresses().filter((info) => info.roomName === roomName)).toEqual([]);
    await stack
      .anonymous()
      .post('/streams/start')
      .set('Authorization', `Bearer ${moderator}`)
      .send({ roomName, urls: [YOUTUBE] })
      .expect(200);
    await stack.anonymous().post('/streams/stop').set('Authorization', `Bearer ${moderator}`).send({ roomName }).expect(200);
  });

  it('repairs what webhooks missed and settles a stream LiveKit forgot', async () => {
    stack.livekit.webhooks.drop((event) => event.egressInfo?.roomName?.startsWith('missed') ?? false);
    try {
      const { roomName, started } = await streamingRoom([YOUTUBE], 'missed');
      expect((await currentStream(roomName))!.status).toBe('STARTING');
      await eventually(() => stack.livekit.getEgress(started.id)!.status === EgressStatus.EGRESS_ACTIVE, { what: 'egress active' });
      await stack.services.reconciler.runPass({ full: false });
      expect((await currentStream(roomName))!.status).toBe('ACTIVE');

      stack.livekit.forgetEgress(started.id);
      await stack.services.reconciler.runPass({ full: false });
      const settled = (await currentStream(roomName))!;
      expect(settled).toMatchObject({ status: 'FAILED', error: 'LiveKit no longer knows this stream' });
      expect((await roomMetadata(stack, roomName)).streamingStatus).toBe('FAILED');
    } finally {
      stack.livekit.webhooks.clear();
    }
  });
});
