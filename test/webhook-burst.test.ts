import { EgressStatus } from '@livekit/protocol';
import type { RecordingView } from '../src/services/recordings/recording.model';
import { mapConcurrent } from '../src/services/platform/concurrency';
import { eventually } from './support/eventually';
import { REDIS_TEST_URL, connectRedis, deleteKeys, testPrefix } from './support/redis';
import { listAll } from './support/recordings';
import { startStack, type TestStack } from './support/stack';

const ROOMS = 200;

/**
 * Many rooms closing at once (a meeting series ending, LiveKit draining a node): every egress ends
 * together and LiveKit delivers each resource's events from its own queue, all at the same time.
 */
describe('a burst of webhooks', () => {
  let stack: TestStack;
  const prefix = testPrefix('burst');
  const rooms = Array.from({ length: ROOMS }, (_, i) => `burst-${process.pid}-${i}`);
  const names = new Map<string, string>();

  beforeAll(async () => {
    // S3's usual time limit: 400 requests at once on two busy cores may take longer than the suite's 2 s.
    stack = await startStack({ env: { REDIS_URL: REDIS_TEST_URL, REDIS_KEY_PREFIX: prefix, S3_REQUEST_TIMEOUT: '10s' } });
    for (const roomName of rooms) stack.livekit.addParticipant(roomName, { identity: 'host', tracks: ['video'] });
    await mapConcurrent(rooms, 16, async (roomName) => {
      const res = await stack.http().post('/recordings/start').send({ roomName }).expect(200);
      names.set(roomName, (res.body as { recording: RecordingView }).recording.name);
    });
    await eventually(() => stack.livekit.listEgresses().filter((e) => e.status === EgressStatus.EGRESS_ACTIVE).length === ROOMS, {
      what: 'every egress active',
      timeoutMs: 30_000,
    });
    await stack.livekit.webhooks.idle();
  }, 90_000);

  afterAll(async () => {
    await stack.close();
    const redis = await connectRedis();
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  it(`absorbs ${ROOMS} rooms ending at once: every event answered 200 first time, every recording playable, listed once`, async () => {
    const firstDelivery = stack.livekit.deliveries.length;
    stack.livekit.webhooks.hold();
    await Promise.all(rooms.map((roomName) => stack.livekit.closeRoom(roomName)));
    // Every egress has uploaded its media and its egress_ended waits with the room_finished events.
    stack.livekit.webhooks.clear();
    await stack.livekit.webhooks.idle();

    const burst = stack.livekit.deliveries.slice(firstDelivery);
    const ended = burst.filter((d) => d.event.event === 'egress_ended');
    expect(ended).toHaveLength(ROOMS);
    expect(burst.filter((d) => d.attempts.join() !== '200').map((d) => `${d.event.event}: ${d.attempts.join()}`)).toEqual([]);

    const listed = await listAll(stack);
    expect(listed.map((r) => r.name).sort()).toEqual([...names.values()].sort());
    expect(listed.filter((r) => r.status !== 'COMPLETE' || !r.playable)).toEqual([]);
  }, 90_000);
});
