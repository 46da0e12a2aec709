import type { RecordingView } from '../src/services/recordings/recording.model';
import { joinRoom, listAll, roomMetadata, uniqueRoom, waitForRecording } from './support/recordings';
import { startStack, type TestStack } from './support/stack';

/** What POST /recordings/start answers. */
type StartAnswer = { recording: RecordingView };

/**
 * A start that no egress takes: the double's egress has 4 cores, room for one recording (cost 4; beside
 * it 4 x 0.8 - 4 is left, support/egress-admission.ts), and LiveKit gives up on an unclaimed start
 * after its retries (6-9 s, scaled here to 300 ms).
 */
describe('a start that no recorder takes', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ livekit: { cores: 4, handlerSearch: { startUnclaimedMs: 300 } } });
  });
  afterAll(async () => {
    await stack.close();
  });

  async function startedRecording() {
    const roomName = uniqueRoom('capacity');
    await joinRoom(stack, roomName);
    const { name } = ((await stack.http().post('/recordings/start').send({ roomName }).expect(200)).body as StartAnswer).recording;
    await waitForRecording(stack, name, (r) => r.status === 'ACTIVE');
    return { roomName, name };
  }

  async function expectNoRecorder(path: string, body: Record<string, unknown>) {
    const res = await stack.http().post(path).send(body);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: 'recorder_unavailable', errorMessage: 'no recorder available (egress busy or not running)' });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  }

  it('answers 503 with Retry-After for a recording and a stream, leaves nothing STARTING, and starts once the recorder is free', async () => {
    const first = await startedRecording();
    const busyRoom = uniqueRoom('capacity-busy');
    await joinRoom(stack, busyRoom);
    const before = (await roomMetadata(stack, busyRoom)).recordingStatus;

    await expectNoRecorder('/recordings/start', { roomName: busyRoom });
    await expectNoRecorder('/streams/start', { roomName: busyRoom, urls: ['rtmp://a.rtmp.youtube.com/live2/key-busy'] });

    expect((await roomMetadata(stack, busyRoom)).recordingStatus).toBe(before);
    expect((await listAll(stack)).filter((r) => r.roomName === busyRoom)).toEqual([]);

    await stack.http().post('/recordings/stop').send({ roomName: first.roomName }).expect(200);
    await waitForRecording(stack, first.name, (r) => r.playable);
    const { name } = ((await stack.http().post('/recordings/start').send({ roomName: busyRoom }).expect(200)).body as StartAnswer)
      .recording;
    await waitForRecording(stack, name, (r) => r.status === 'ACTIVE');
    await stack.http().post('/recordings/stop').send({ roomName: busyRoom }).expect(200);
    await waitForRecording(stack, name, (r) => r.playable);
  });

  // Egress stops the busiest egress under sustained load with "CPU exhausted: %.2f cores used"
  // (livekit/egress@805884c3e65e1583277f93ae616d3bf0dfd35564 pkg/stats/monitor.go:816, pkg/errors/errors.go:169-170;
  // the handler is killed with that error, pkg/service/process.go:315-329, :432-441).
  it("a recording egress ended for want of CPU is FAILED with egress's reason, like any other end", async () => {
    const { name } = await startedRecording();
    const [recording] = (await listAll(stack)).filter((r) => r.name === name);
    await stack.livekit.endEgress(recording.id, { status: 'FAILED', error: 'CPU exhausted: 3.90 cores used' });
    const ended = await waitForRecording(stack, name, (r) => r.status === 'FAILED');
    expect(ended.error).toBe('CPU exhausted: 3.90 cores used');
  });
});
