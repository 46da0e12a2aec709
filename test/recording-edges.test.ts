import http from 'node:http';
import { EgressStatus } from '@livekit/protocol';
import type { RecordingView } from '../src/services/recordings/recording.model';
import { eventually } from './support/eventually';
import { FIXTURE_MP4, binary, joinRoom, roomMetadata, uniqueRoom, waitForRecording, waitForRoomStatus } from './support/recordings';
import { startStack, type TestStack } from './support/stack';
import type { ErrorAnswer, RecordingAnswer, RecordingPage } from './support/answers';

/** Races, partial failures and odd input around starting, stopping, listing and deleting recordings. */

async function startRecording(stack: TestStack, roomName = uniqueRoom()) {
  await joinRoom(stack, roomName);
  const { recording } = (await stack.http().post('/recordings/start').send({ roomName }).expect(200)).body as RecordingAnswer;
  await stack.livekit.webhooks.idle();
  return { roomName, recording };
}

async function activeRecording(stack: TestStack, roomName = uniqueRoom()) {
  const started = await startRecording(stack, roomName);
  await stack.livekit.activateEgress(started.recording.id);
  await waitForRecording(stack, started.recording.name, (r) => r.status === 'ACTIVE');
  return started;
}

/** Started, stopped and playable, with every webhook delivered (nothing changes it afterwards). */
async function finishedRecording(stack: TestStack, roomName = uniqueRoom('done')) {
  const { recording } = await activeRecording(stack, roomName);
  await stack.http().post('/recordings/stop').send({ roomName }).expect(200);
  await waitForRecording(stack, recording.name, (r) => r.playable);
  await stack.livekit.webhooks.idle();
  return { roomName, recording };
}

/**
 * The next `times` PUTs of this room's sidecars answer 503. Scoped to the room so that a fault a test
 * leaves unused cannot reach another test (the proxy has no way to clear faults). Three is what it
 * takes: the service's S3 client tries every request three times.
 */
function failSidecarWrites(stack: TestStack, roomName: string, times = 3) {
  const sidecarOfRoom = `/.metadata/${roomName}-RM_`;
  const matches = (method: string, path: string) => method === 'PUT' && path.includes(sidecarOfRoom);
  for (let i = 0; i < times; i++) stack.s3Proxy.inject(matches, { kind: 'status', status: 503 });
  // How many such writes were tried since, so a test can show its faults were really hit.
  const since = stack.s3Proxy.requests.length;
  return () => stack.s3Proxy.requests.slice(since).filter((r) => matches(r.method, r.path)).length;
}

const egressesOf = (stack: TestStack, roomName: string) => stack.livekit.listEgresses().filter((e) => e.roomName === roomName);

const listRoom = async (stack: TestStack, roomName: string): Promise<RecordingView[]> =>
  ((await stack.http().get('/recordings').query({ roomName }).expect(200)).body as RecordingPage).recordings;

describe('recording edge cases', () => {
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

  it('lets exactly one of five concurrent starts for a room through; the others get 409 recording_active', async () => {
    const roomName = uniqueRoom('rush');
    await joinRoom(stack, roomName);
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        stack
          .http()
          .post('/recordings/start')
          .send({ roomName })
          .then((res) => res),
      ),
    );

    expect(answers.map((res) => res.status).sort()).toEqual([200, 409, 409, 409, 409]);
    for (const refused of answers.filter((res) => res.status === 409)) expect((refused.body as ErrorAnswer).code).toBe('recording_active');
    // LiveKit was asked once: no orphan egress is recording the room behind our back.
    expect(egressesOf(stack, roomName)).toHaveLength(1);
    expect(egressesOf(stack, roomName)[0].egressId).toBe((answers.find((res) => res.status === 200)!.body as RecordingAnswer).recording.id);
  });

  it('keeps a recording that hit the egress limit: LIMIT_REACHED, playable, streamed, and the room shows STOPPED', async () => {
    const { roomName, recording } = await activeRecording(stack, uniqueRoom('limit'));
    await stack.livekit.endEgress(recording.id, { status: 'LIMIT_REACHED' });

    const limited = await waitForRecording(stack, recording.name, (r) => r.status === 'LIMIT_REACHED');
    expect(limited).toMatchObject({ endReason: 'limit', playable: true, size: FIXTURE_MP4.length });
    const media = await stack.http().get(`/recordings/${recording.name}`).buffer(true).parse(binary).expect(200);
    expect(media.body).toEqual(FIXTURE_MP4);
    await waitForRoomStatus(stack, roomName, 'STOPPED');
  });

  it('does not offer a COMPLETE recording whose media never reached S3 (409 for media and URL)', async () => {
    const { recording } = await activeRecording(stack, uniqueRoom('nomedia'));
    await stack.livekit.endEgress(recording.id, { status: 'COMPLETE', skipUpload: true });

    const done = await waitForRecording(stack, recording.name, (r) => r.status === 'COMPLETE');
    expect(done.playable).toBe(false);
    expect(((await stack.http().get(`/recordings/${recording.name}`).expect(409)).body as ErrorAnswer).code).toBe('recording_not_playable');
    expect(((await stack.http().get(`/recordings/${recording.name}/url`).expect(409)).body as ErrorAnswer).code).toBe(
      'recording_not_playable',
    );
  });

  it('stops the egress and leaves nothing active when the sidecar cannot be written during start', async () => {
    const roomName = uniqueRoom('nosidecar');
    await joinRoom(stack, roomName);
    const sidecarWrites = failSidecarWrites(stack, roomName);

    const failed = await stack.http().post('/recordings/start').send({ roomName });
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect(failed.body).toMatchObject({ code: 's3_unavailable' });
    expect(sidecarWrites()).toBeGreaterThanOrEqual(3);
    // LiveKit had started an egress; the service must not leave it recording unseen.
    const [egress] = egressesOf(stack, roomName);
    expect(egress.status).toBe(EgressStatus.EGRESS_ABORTED);

    await stack.livekit.webhooks.idle();
    const leftovers = (await listRoom(stack, roomName)).filter((r) => ['STARTING', 'ACTIVE', 'ENDING'].includes(r.status));
    expect(leftovers).toEqual([]);
    expect((await roomMetadata(stack, roomName)).recordingStatus).not.toMatch(/^(STARTING|STARTED)$/);
    await stack.http().post('/recordings/start').send({ roomName }).expect(200);
  });

  it('answers 200 ENDING to a stop that LiveKit carried out even when the sidecar write fails, and still completes', async () => {
    const { roomName, recording } = await activeRecording(stack, uniqueRoom('stopnosidecar'));
    const sidecarWrites = failSidecarWrites(stack, roomName);

    // The egress is stopping whatever we managed to write: telling the user "failed" would be wrong.
    const stopped = await stack.http().post('/recordings/stop').send({ roomName });
    expect({ status: stopped.status, body: stopped.body as unknown }).toMatchObject({
      status: 200,
      body: { recording: { id: recording.id, status: 'ENDING' } },
    });
    expect(sidecarWrites()).toBeGreaterThanOrEqual(3);

    // The faults are used up; LiveKit's webhooks bring the sidecar to its final state.
    const done = await waitForRecording(stack, recording.name, (r) => r.status === 'COMPLETE');
    expect(done.playable).toBe(true);
    await waitForRoomStatus(stack, roomName, 'STOPPED');
  });

  it('answers one of two concurrent DELETEs of a recording with 200 and the other with 404', async () => {
    const { recording } = await finishedRecording(stack);
    const answers = await Promise.all(
      [1, 2].map(() =>
        stack
          .http()
          .delete(`/recordings/${recording.name}`)
          .then((res) => res),
      ),
    );

    expect(answers.map((res) => res.status).sort()).toEqual([200, 404]);
    await stack.http().get(`/recordings/${recording.name}/info`).expect(404);
  });

  it('treats empty filters (as a reference client sends them) as no filter', async () => {
    await finishedRecording(stack);
    const everything = (await stack.http().get('/recordings').expect(200)).body as RecordingPage;
    expect(everything.recordings.length).toBeGreaterThan(0);

    const res = await stack.http().get('/recordings?roomName=&roomId=');
    expect({ status: res.status, code: (res.body as Partial<ErrorAnswer>).code }).toEqual({ status: 200, code: undefined });
    expect(res.body).toEqual(everything);
  });

  it.each([
    ['GET', '/recordings/%E0%A4%A'],
    ['DELETE', '/recordings/%ZZ'],
  ])('answers %s %s (malformed percent-encoding) with 400 JSON, not 500', async (method, path) => {
    const res = await rawRequest(stack, method, path);
    expect(res.status).toBe(400);
    expect(res.contentType).toMatch(/^application\/json/);
    expect(JSON.parse(res.body)).toEqual(expect.objectContaining<{ code: unknown }>({ code: expect.any(String) }));
  });
});

describe('webhooks against a slow LiveKit', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ env: { WEBHOOK_TIMEOUT: '300ms' }, livekit: { lifecycle: 'manual' } });
  });
  afterAll(async () => {
    await stack.close();
  });
  afterEach(() => {
    stack.livekit.clearFaults();
  });

  it("answers 503 when an event cannot be applied within WEBHOOK_TIMEOUT, and LiveKit's retry then lands", async () => {
    const { roomName, recording } = await startRecording(stack, uniqueRoom('slow'));
    // ListRooms is how the service reads the room before publishing its status.
    stack.livekit.failNext('ListRooms', { delayMs: 600 }, 2);
    await stack.livekit.activateEgress(recording.id);
    await stack.livekit.webhooks.idle();

    const delivery = stack.livekit.deliveries.find(
      (d) => d.event.event === 'egress_updated' && d.event.egressInfo?.egressId === recording.id,
    );
    expect(delivery?.attempts[0]).toBe(503);
    expect(delivery?.attempts.at(-1)).toBe(200);
    expect(delivery?.delivered).toBe(true);
    await waitForRecording(stack, recording.name, (r) => r.status === 'ACTIVE');
    expect(await roomMetadata(stack, roomName)).toMatchObject({ recordingStatus: 'STARTED' });
  });
});

describe('a start call that times out after LiveKit started the egress', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ env: { LIVEKIT_REQUEST_TIMEOUT: '1s' }, livekit: { lifecycle: 'manual' } });
  });
  afterAll(async () => {
    await stack.close();
  });
  afterEach(() => {
    stack.livekit.clearFaults();
  });

  it('adopts the egress from its own webhooks (the ownership marker), shows it, and stops it', async () => {
    const roomName = uniqueRoom('timeout');
    await joinRoom(stack, roomName);
    stack.livekit.failNext('StartRoomCompositeEgress', { delayMs: 1500 });
    const failed = await stack.http().post('/recordings/start').send({ roomName }).expect(503);
    expect((failed.body as ErrorAnswer).code).toBe('livekit_unavailable');

    // LiveKit did start it: its webhooks alone must make it one of ours.
    const egress = await eventually(() => egressesOf(stack, roomName)[0], { what: 'the egress LiveKit started' });
    await stack.livekit.activateEgress(egress.egressId);
    const [listed] = await eventually(
      async () => {
        const recordings = await listRoom(stack, roomName);
        return recordings[0]?.status === 'ACTIVE' && recordings;
      },
      { what: 'the recording listed as ACTIVE' },
    );
    expect(listed.id).toBe(egress.egressId);
    await waitForRoomStatus(stack, roomName, 'STARTED');

    const stopped = await stack.http().post('/recordings/stop').send({ roomName }).expect(200);
    expect((stopped.body as RecordingAnswer).recording.id).toBe(egress.egressId);
    const done = await waitForRecording(stack, listed.name, (r) => r.status === 'COMPLETE');
    expect(done.playable).toBe(true);
  });
});

/** A request with the path exactly as given: a URL parser would normalize malformed escapes away. */
function rawRequest(stack: TestStack, method: string, path: string) {
  const { hostname, port } = new URL(stack.baseUrl);
  return new Promise<{ status: number; contentType: string; body: string }>((resolve, reject) => {
    const req = http.request({ hostname, port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', body }));
    });
    req.on('error', reject);
    req.end();
  });
}
