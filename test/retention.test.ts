import type { Recording, RecordingView } from '../src/services/recordings/recording.model';
import { mapConcurrent } from '../src/services/platform/concurrency';
import { FIXTURE_MP4, putObject, readObject, sidecarsOf } from './support/recordings';
import { startStack, type TestStack } from './support/stack';

const DAY = 86_400_000;

describe('RETENTION_DAYS', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ env: { RETENTION_DAYS: '30' } });
  });
  afterAll(async () => {
    await stack.close();
  });

  /** A recording as the service writes it, started `daysAgo`, with its media. */
  async function seed(label: string, daysAgo: number) {
    const name = `${label}-RM_retention-${daysAgo}.mp4`;
    const recording: Recording = {
      id: `EG_${label}`,
      name,
      roomName: 'retention',
      roomId: 'RM_retention',
      status: 'COMPLETE',
      startedAt: Date.now() - daysAgo * DAY,
      duration: 3,
      size: FIXTURE_MP4.length,
      mediaKey: `recordings/${name}`,
      mediaVerified: true,
      updatedAt: 1,
    };
    await putObject(stack, recording.mediaKey, FIXTURE_MP4, 'video/mp4');
    await stack.services.store.save(recording, undefined);
    return recording;
  }

  it('deletes recordings older than the retention period with every object, and nothing else', async () => {
    const expired = await seed('expired', 45);
    const alsoExpired = await seed('alsoexpired', 31);
    const recent = await seed('recent', 29);

    const report = await stack.services.reconciler.runPass({ full: false });
    expect(report.expired).toBe(2);
    for (const gone of [expired, alsoExpired]) {
      expect(await readObject(stack, gone.mediaKey)).toBeUndefined();
      expect(await sidecarsOf(stack, gone.id)).toEqual([]);
      await stack.http().get(`/recordings/${gone.name}/info`).expect(404);
    }
    for (const kept of [recent]) {
      expect((await readObject(stack, kept.mediaKey))?.equals(FIXTURE_MP4)).toBe(true);
    }
    const { recordings: listed } = (await stack.http().get('/recordings').query({ roomName: 'retention' }).expect(200)).body as {
      recordings: RecordingView[];
    };
    expect(listed.map((r) => r.name)).toEqual([recent.name]);
    // Nothing more to do: the next pass deletes nothing.
    expect((await stack.services.reconciler.runPass({ full: false })).expired).toBe(0);
  });

  it('goes on past a full batch of expired entries it must leave, rather than reading them again', async () => {
    // A hundred index entries whose sidecars are gone (a deletion under way elsewhere), newer than a
    // real expired recording: one pass reads a batch of a hundred.
    const left = Array.from({ length: 100 }, (_, i) => ({
      ...template,
      id: `EG_left${i}`,
      name: `left-${i}.mp4`,
      startedAt: Date.now() - 40 * DAY + i,
    }));
    await mapConcurrent(left, 8, (entry) => stack.services.store.index.add(entry));
    const oldest = await seed('oldest', 50);

    expect((await stack.services.reconciler.runPass({ full: false })).expired).toBe(0);
    expect((await stack.services.reconciler.runPass({ full: false })).expired).toBe(1);
    expect(await readObject(stack, oldest.mediaKey)).toBeUndefined();
  });
});

const template: Recording = {
  id: '',
  name: '',
  roomName: 'retention',
  roomId: 'RM_retention',
  status: 'COMPLETE',
  startedAt: 0,
  duration: 0,
  size: 0,
  mediaKey: 'recordings/none.mp4',
  mediaVerified: false,
  updatedAt: 1,
};
