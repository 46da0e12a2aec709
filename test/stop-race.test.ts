import { eventually } from './support/eventually';
import { joinRoom, uniqueRoom, waitForRecording } from './support/recordings';
import { startStack, type TestStack } from './support/stack';

/**
 * A stop or a stream update racing the egress's end, against LiveKit's slow answers (the double's
 * handler search, scaled 1:10 here: a handler that never answers holds a call 1.5 s, and
 * LIVEKIT_EGRESS_TIMEOUT is 2 s, above it, as the 20 s default is above LiveKit's 15 s).
 */

const HANDLER_SEARCH = { unclaimedMs: 300, unansweredMs: 1500 };

interface Body {
  id: string;
  name: string;
  status: string;
  endReason?: string;
}

/** What the start, stop and stream routes answer. */
type RecordingAnswer = { recording: Body };
type StreamAnswer = { stream: Body };
type ErrorAnswer = { code: string };

const stopCalls = (stack: TestStack, egressId: string) =>
  stack.livekit.calls.filter((c) => c.method === 'StopEgress' && (c.request as { egressId?: string }).egressId === egressId);

/** Settles with the response, and tells meanwhile whether it has. */
function pending<T>(promise: Promise<T>) {
  const state = { settled: false, value: promise };
  void promise.finally(() => {
    state.settled = true;
  });
  return state;
}

/** The egress goes ACTIVE and completes, and the service is told nothing of it. */
async function startsAndCompletesUnseen(stack: TestStack, egressId: string) {
  stack.livekit.webhooks.drop((e) => e.egressInfo?.egressId === egressId);
  await stack.livekit.activateEgress(egressId);
  await stack.livekit.endEgress(egressId, { status: 'COMPLETE', skipEnding: true });
}

/** A reconcile pass whose ListEgress is answered as things were, while `meanwhile` changes them. */
async function passThatLooksEarly(stack: TestStack, meanwhile: () => Promise<void>) {
  const release = stack.livekit.holdNext('ListEgress');
  const pass = stack.services.reconciler.runPass({ full: false });
  await eventually(() => stack.livekit.calls.some((c) => c.method === 'ListEgress' && c.status === 0), { what: 'the held ListEgress' });
  await meanwhile();
  release();
  await pass;
}

describe('stopping and updating while the egress ends', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({
      env: { LIVEKIT_EGRESS_TIMEOUT: '2s', AUTO_STOP_GRACE: '300ms' },
      livekit: { lifecycle: 'manual', handlerSearch: HANDLER_SEARCH },
    });
  });
  afterEach(() => {
    stack.livekit.webhooks.clear();
    stack.livekit.clearFaults();
  });
  afterAll(async () => {
    await stack.close();
  });

  async function activeRecording(roomName = uniqueRoom('race')) {
    stack.livekit.addParticipant(roomName, { identity: 'alice', name: 'Alice' });
    const { recording } = (await stack.http().post('/recordings/start').send({ roomName }).expect(200)).body as RecordingAnswer;
    await stack.livekit.activateEgress(recording.id);
    await waitForRecording(stack, recording.name, (r) => r.status === 'ACTIVE');
    return { roomName, recording };
  }

  /** The egress ends by itself and the service is not told (its egress_ended webhook is lost). */
  async function endsUnseen(egressId: string) {
    stack.livekit.webhooks.drop((e) => e.egressInfo?.egressId === egressId);
    await stack.livekit.endEgress(egressId, { status: 'COMPLETE', skipEnding: true });
  }

  it('a stop that LiveKit holds while the egress ends answers 409, and a new recording in the room starts meanwhile', async () => {
    const { roomName, recording } = await activeRecording();
    stack.livekit.hangEgressHandler(recording.id);
    const stop = pending(
      stack
        .http()
        .post('/recordings/stop')
        .send({ roomName })
        .then((res) => res),
    );
    await eventually(() => stopCalls(stack, recording.id).length > 0, { what: 'the StopEgress call' });
    await stack.livekit.endEgress(recording.id, { status: 'COMPLETE', skipEnding: true });

    const next = await stack.http().post('/recordings/start').send({ roomName });
    expect(next.status).toBe(200);
    expect(stop.settled).toBe(false);

    const stopped = await stop.value;
    expect(stopped.status).toBe(409);
    expect((stopped.body as ErrorAnswer).code).toBe('recording_not_active');
    await stack.http().post('/recordings/stop').send({ roomName }).expect(200);
  });

  it('a stop LiveKit does not answer within LIVEKIT_EGRESS_TIMEOUT is checked with ListEgress: ended meanwhile → 409, not a 5xx', async () => {
    const quick = await startStack({
      env: { LIVEKIT_EGRESS_TIMEOUT: '500ms' },
      livekit: { lifecycle: 'manual', handlerSearch: HANDLER_SEARCH },
    });
    try {
      const roomName = uniqueRoom('timeout');
      await joinRoom(quick, roomName);
      const { recording } = (await quick.http().post('/recordings/start').send({ roomName }).expect(200)).body as RecordingAnswer;
      await quick.livekit.activateEgress(recording.id);
      quick.livekit.hangEgressHandler(recording.id);
      const began = Date.now();
      const stop = quick
        .http()
        .post('/recordings/stop')
        .send({ roomName })
        .then((res) => res);
      await eventually(() => quick.livekit.calls.some((c) => c.method === 'StopEgress'), { what: 'the StopEgress call' });
      await quick.livekit.endEgress(recording.id, { status: 'COMPLETE', skipEnding: true });
      const stopped = await stop;
      expect(stopped.status).toBe(409);
      expect(Date.now() - began).toBeLessThan(HANDLER_SEARCH.unansweredMs);
    } finally {
      await quick.close();
    }
  });

  it('auto-stop of an egress that ended unseen records its end, once, without asking LiveKit to stop it', async () => {
    const { roomName, recording } = await activeRecording(uniqueRoom('auto-stop'));
    stack.livekit.removeParticipant(roomName, 'alice');
    await waitForRecording(stack, recording.name, (r) => ((r as { autoStopAt?: number }).autoStopAt ?? 0) > 0);
    await endsUnseen(recording.id);
    const done = await waitForRecording(stack, recording.name, (r) => r.status === 'COMPLETE');
    expect(done.endReason).not.toBe('roomEmpty');
    expect(stopCalls(stack, recording.id)).toEqual([]);
  });

  it('maxDuration on an egress that ended after the reconciler looked: recorded as ended in the same pass, no StopEgress', async () => {
    const roomName = uniqueRoom('max-duration');
    await joinRoom(stack, roomName);
    const { recording } = (await stack.http().post('/recordings/start').send({ roomName, maxDuration: 1 }).expect(200))
      .body as RecordingAnswer;
    await stack.livekit.activateEgress(recording.id);
    const { deadline } = (await waitForRecording(stack, recording.name, (r) => r.status === 'ACTIVE')) as { deadline?: number };
    expect(deadline).toBeDefined();
    await eventually(() => Date.now() > deadline!, { what: 'the deadline' });
    // The pass's ListEgress sees it ACTIVE; it ends before the pass acts on the deadline.
    await passThatLooksEarly(stack, () => endsUnseen(recording.id));
    const after = (await stack.http().get(`/recordings/${recording.name}/info`).expect(200)).body as Body;
    expect(after.status).toBe('COMPLETE');
    expect(after.endReason).not.toBe('maxDuration');
    expect(stopCalls(stack, recording.id)).toEqual([]);
  });

  it('a start timeout on an egress that went on and completed after the reconciler looked: recorded as LiveKit reports it, not FAILED', async () => {
    const slowStart = await startStack({
      env: { RECORDING_START_TIMEOUT: '300ms' },
      livekit: { lifecycle: 'manual', handlerSearch: HANDLER_SEARCH },
    });
    try {
      const roomName = uniqueRoom('start-timeout');
      slowStart.livekit.addParticipant(roomName, { identity: 'alice', name: 'Alice' });
      const { recording } = (await slowStart.http().post('/recordings/start').send({ roomName }).expect(200)).body as RecordingAnswer;
      await eventually(() => Date.now() - Number(slowStart.livekit.getEgress(recording.id)!.startedAt / 1_000_000n) > 400, {
        what: 'the start timeout',
      });
      // The pass sees it STARTING; it goes on and completes before the pass acts on the timeout.
      await passThatLooksEarly(slowStart, () => startsAndCompletesUnseen(slowStart, recording.id));
      const after = (await slowStart.http().get(`/recordings/${recording.name}/info`).expect(200)).body as Body;
      expect(after.status).toBe('COMPLETE');
      expect(after.endReason).not.toBe('startTimeout');
      expect(stopCalls(slowStart, recording.id)).toEqual([]);
    } finally {
      await slowStart.close();
    }
  });

  it('a start timeout on a stream that went on and completed after the reconciler looked: recorded as LiveKit reports it, not FAILED', async () => {
    const slowStart = await startStack({
      env: { RECORDING_START_TIMEOUT: '300ms' },
      livekit: { lifecycle: 'manual', handlerSearch: HANDLER_SEARCH },
    });
    try {
      const roomName = uniqueRoom('stream-start-timeout');
      slowStart.livekit.addParticipant(roomName, { identity: 'host', name: 'Host' });
      const started = await slowStart
        .http()
        .post('/streams/start')
        .send({ roomName, urls: ['rtmp://a.rtmp.youtube.com/live2/key-late'] })
        .expect(200);
      const streamId = (started.body as StreamAnswer).stream.id;
      await eventually(() => Date.now() - Number(slowStart.livekit.getEgress(streamId)!.startedAt / 1_000_000n) > 400, {
        what: 'the start timeout',
      });
      await passThatLooksEarly(slowStart, () => startsAndCompletesUnseen(slowStart, streamId));
      const { stream: after } = (await slowStart.http().get(`/streams/${roomName}`).expect(200)).body as StreamAnswer;
      expect(after.status).toBe('COMPLETE');
      expect(after.endReason).not.toBe('startTimeout');
      expect(stopCalls(slowStart, streamId)).toEqual([]);
    } finally {
      await slowStart.close();
    }
  });

  it('a stream update LiveKit holds while the stream ends answers 409, and the room can stream again meanwhile', async () => {
    const roomName = uniqueRoom('stream-race');
    stack.livekit.addParticipant(roomName, { identity: 'host', name: 'Host' });
    const started = await stack
      .http()
      .post('/streams/start')
      .send({ roomName, urls: ['rtmp://a.rtmp.youtube.com/live2/key-one'] });
    expect(started.status).toBe(200);
    const streamId = (started.body as StreamAnswer).stream.id;
    await stack.livekit.activateEgress(streamId);
    stack.livekit.hangEgressHandler(streamId);
    const update = pending(
      stack
        .http()
        .post('/streams/update')
        .send({ roomName, addUrls: ['rtmp://a.rtmp.youtube.com/live2/key-two'] })
        .then((res) => res),
    );
    await eventually(() => stack.livekit.calls.some((c) => c.method === 'UpdateStream'), { what: 'the UpdateStream call' });
    await stack.livekit.endEgress(streamId, { status: 'COMPLETE', skipEnding: true });

    const again = await stack
      .http()
      .post('/streams/start')
      .send({ roomName, urls: ['rtmp://a.rtmp.youtube.com/live2/key-three'] });
    expect(again.status).toBe(200);
    expect(update.settled).toBe(false);
    const updated = await update.value;
    expect(updated.status).toBe(409);
    expect((updated.body as ErrorAnswer).code).toBe('stream_not_active');
    await stack.http().post('/streams/stop').send({ roomName }).expect(200);
  });
});
