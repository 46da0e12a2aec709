import type { ErrorAnswer } from '../src/services/platform/app-error';
import type { Recording, RecordingView } from '../src/services/recordings/recording.model';
import { mapConcurrent } from '../src/services/platform/concurrency';
import { putObject, readObject } from './support/recordings';
import { startStack, type TestStack } from './support/stack';
import type { RecordingPage } from './support/answers';

type Listed = Pick<Recording, 'id' | 'startedAt'>;

const sidecar = (i: number, roomName: string, extra: Partial<Recording> = {}): Recording => ({
  id: `EG_${String(i).padStart(12, '0')}`,
  name: `${roomName}-RM_${roomName}-${i}.mp4`,
  roomName,
  roomId: `RM_${roomName}`,
  status: 'COMPLETE',
  // Some share a start time, so the order must fall back to the id.
  startedAt: 1_700_000_000_000 + Math.floor(i / 2) * 1000,
  endedAt: 1_700_000_000_000 + Math.floor(i / 2) * 1000 + 500,
  duration: 0.5,
  size: 100,
  mediaKey: `recordings/${roomName}-RM_${roomName}-${i}.mp4`,
  mediaVerified: true,
  updatedAt: 1,
  ...extra,
});

/** Saved the way the service saves a new recording: listing index entries, then the sidecar. */
async function seed(stack: TestStack, recordings: Recording[]) {
  await mapConcurrent(recordings, 32, (r) => stack.services.store.save(r, undefined));
}

/** A sidecar as an earlier version of the service wrote it: no listing index entries. */
async function seedLegacy(stack: TestStack, recordings: Recording[]) {
  await mapConcurrent(recordings, 32, (r) =>
    putObject(stack, `recordings/.metadata/${r.name.replace(/\.mp4$/, '')}.json`, JSON.stringify(r)),
  );
}

/** Newest first by startedAt, then by id. */
const listOrder = (a: Listed, b: Listed) => b.startedAt - a.startedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

async function allPages(
  http: () => ReturnType<TestStack['http']>,
  query: Record<string, string | number>,
  between?: (page: number) => Promise<void>,
) {
  const seen: RecordingView[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const res = await http()
      .get('/recordings')
      .query({ ...query, ...(cursor ? { cursor } : {}) })
      .expect(200);
    const page = res.body as RecordingPage;
    expect(page.recordings.length).toBeLessThanOrEqual(Number(query.limit ?? 50));
    seen.push(...page.recordings);
    cursor = page.nextCursor ?? undefined;
    pages++;
    if (between) await between(pages);
  } while (cursor);
  return { seen, pages };
}

describe('GET /recordings', () => {
  let stack: TestStack;
  const total = 1050;
  beforeAll(async () => {
    // S3's usual time limit: a cold page reads 100 sidecars at once, which on two busy cores may take longer than the suite's 2 s.
    stack = await startStack({ env: { S3_REQUEST_TIMEOUT: '10s' } });
    const rooms = ['alpha', 'alpha-2', 'a.*'];
    await seed(
      stack,
      Array.from({ length: total }, (_, i) => sidecar(i, rooms[i % 3])),
    );
  }, 60_000);
  const http = () => stack.http();
  /** The recordings of the first page GET /recordings answers for `query`. */
  const firstPage = async (query: Record<string, string>) =>
    ((await stack.http().get('/recordings').query(query).expect(200)).body as RecordingPage).recordings;
  afterAll(async () => {
    await stack.close();
  });

  it('reaches every one of more than 1,000 recordings exactly once, newest first, by paging', async () => {
    const { seen, pages } = await allPages(http, { limit: 100 });
    expect(pages).toBe(11);
    expect(seen).toHaveLength(total);
    expect(new Set(seen.map((r) => r.id)).size).toBe(total);
    expect(seen.map((r) => r.id)).toEqual([...seen].sort(listOrder).map((r) => r.id));
  }, 60_000);

  it('pages 50 at a time by default and never more than 100', async () => {
    const first = (await stack.http().get('/recordings').expect(200)).body as RecordingPage;
    expect(first.recordings).toHaveLength(50);
    expect(typeof first.nextCursor).toBe('string');
    expect(first.recordings[0]).toMatchObject({ playable: true, status: 'COMPLETE' });
    expect((first.recordings[0] as Partial<Recording>).mediaVerified).toBeUndefined();
    for (const limit of ['0', '101', 'ten', '-1']) {
      await stack.http().get('/recordings').query({ limit }).expect(400);
    }
  });

  it('filters by exact room name and room id, with no pattern built from input', async () => {
    const alpha = await allPages(http, { roomName: 'alpha', limit: 100 });
    expect(alpha.seen).toHaveLength(350);
    expect(alpha.seen.every((r) => r.roomName === 'alpha')).toBe(true);
    const pattern = await allPages(http, { roomName: 'a.*', limit: 100 });
    expect(pattern.seen).toHaveLength(350);
    expect(pattern.seen.every((r) => r.roomName === 'a.*')).toBe(true);
    expect(await firstPage({ roomName: '(' })).toEqual([]);
    const byId = await allPages(http, { roomId: 'RM_alpha-2', limit: 100 });
    expect(byId.seen).toHaveLength(350);
    expect(await firstPage({ roomName: 'alpha', roomId: 'RM_alpha-2' })).toEqual([]);
  }, 60_000);

  it('costs one LIST and at most one GET per recording shown, and only the LIST once they have been read', async () => {
    for (const query of [{}, { roomName: 'alpha-2' }]) {
      const before = stack.s3Proxy.requests.length;
      const cold = await stack
        .http()
        .get('/recordings')
        .query({ ...query, limit: 20 })
        .expect(200);
      const coldRequests = stack.s3Proxy.requests.slice(before);
      expect((cold.body as RecordingPage).recordings).toHaveLength(20);
      expect(coldRequests.filter((r) => r.method === 'GET' && !r.path.includes('/.metadata/'))).toHaveLength(1); // the LIST
      expect(coldRequests.length).toBeLessThanOrEqual(21);
      const warmStart = stack.s3Proxy.requests.length;
      await stack
        .http()
        .get('/recordings')
        .query({ ...query, limit: 20 })
        .expect(200);
      expect(stack.s3Proxy.requests.length - warmStart).toBe(1);
    }
  });

  it('filters by status and by a time range, paging through only what matches', async () => {
    const failed = Array.from({ length: 7 }, (_, i) => sidecar(5000 + i, 'beta', { status: 'FAILED', mediaVerified: false, size: 0 }));
    await seed(stack, failed);
    const byStatus = await allPages(http, { status: 'failed', limit: 5 });
    expect(byStatus.seen.map((r) => r.id)).toEqual([...failed].sort(listOrder).map((r) => r.id));
    expect(await firstPage({ status: 'COMPLETE,FAILED', roomName: 'beta' })).toHaveLength(7);
    expect(await firstPage({ status: 'STARTING' })).toEqual([]);

    // Recordings 100..199 started in [from, to): 50 distinct seconds, two per second.
    const from = 1_700_000_000_000 + 50 * 1000;
    const to = 1_700_000_000_000 + 100 * 1000;
    const ranged = await allPages(http, { from, to: new Date(to).toISOString(), limit: 30 });
    expect(ranged.seen).toHaveLength(100);
    expect(ranged.seen.every((r) => r.startedAt >= from && r.startedAt < to)).toBe(true);
    expect(ranged.seen.map((r) => r.id)).toEqual([...ranged.seen].sort(listOrder).map((r) => r.id));

    for (const query of [{ status: 'DONE' }, { from: 'yesterday' }, { from: to, to: from }]) {
      expect(((await stack.http().get('/recordings').query(query).expect(400)).body as ErrorAnswer).code).toBe('invalid_request');
    }
  });

  it('refuses a cursor it did not issue', async () => {
    for (const cursor of ['garbage', Buffer.from('{"a":1}').toString('base64url')]) {
      expect(((await stack.http().get('/recordings').query({ cursor }).expect(400)).body as ErrorAnswer).code).toBe('invalid_request');
    }
  });
});

describe('GET /recordings with sidecars it did not write', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  it('skips a corrupt sidecar and lists the rest', async () => {
    await seed(stack, [sidecar(1, 'solid'), sidecar(2, 'solid')]);
    await putObject(
      stack,
      `recordings/.metadata/${sidecar(2, 'solid').name.replace(/\.mp4$/, '')}.json`,
      '{"id": "EG_',
      'application/json',
    );
    await putObject(stack, 'recordings/.metadata/wrong-shape.json', '{"hello":"world"}', 'application/json');
    await stack.services.reconciler.runPass();
    const res = await stack.http().get('/recordings').expect(200);
    expect((res.body as RecordingPage).recordings.map((r) => r.id)).toEqual([sidecar(1, 'solid').id]);
  });

  it('lists sidecars an earlier version wrote, once a reconcile pass has indexed them (at start-up in service)', async () => {
    const legacy = Array.from({ length: 5 }, (_, i) => sidecar(100 + i, 'legacy'));
    await seedLegacy(stack, legacy);
    expect((await stack.services.reconciler.runPass()).indexed).toBe(5);
    expect((await stack.services.reconciler.runPass()).indexed).toBe(0);
    const listed = await stack.http().get('/recordings').query({ roomName: 'legacy' }).expect(200);
    expect((listed.body as RecordingPage).recordings.map((r) => r.id)).toEqual([...legacy].sort(listOrder).map((r) => r.id));
    await stack.http().get(`/recordings/${legacy[0].name}/info`).expect(200);
  });

  it("reads the reference tutorial's sidecars: COMPLETE when their media exists, FAILED otherwise, and migrates them", async () => {
    const reference = (id: string, time: string, size: number) => ({
      key: `recordings/.metadata/Test Room-RM_ref-${time}.json`,
      sidecar: {
        id,
        name: `Test Room-RM_ref-${time}.mp4`,
        roomName: 'Test Room',
        roomId: 'RM_ref',
        startedAt: Date.parse(`2024-09-23T${time.slice(11, 13)}:00:00Z`) + 0.123,
        duration: 3,
        size,
      },
    });
    const withMedia = reference('EG_reference01', '2024-09-23T100000', 4096);
    const mediaGone = reference('EG_reference02', '2024-09-23T110000', 4096);
    const failed = reference('EG_reference03', '2024-09-23T120000', 0);
    for (const { key, sidecar } of [withMedia, mediaGone, failed]) await putObject(stack, key, JSON.stringify(sidecar));
    await putObject(stack, `recordings/${withMedia.sidecar.name}`, Buffer.alloc(4096, 1), 'video/mp4');
    await stack.services.reconciler.runPass();

    const res = await stack.http().get('/recordings').query({ roomName: 'Test Room' }).expect(200);
    expect((res.body as RecordingPage).recordings.map((r) => [r.id, r.status, r.playable])).toEqual([
      ['EG_reference03', 'FAILED', false],
      ['EG_reference02', 'FAILED', false],
      ['EG_reference01', 'COMPLETE', true],
    ]);
    const info = await stack
      .http()
      .get(`/recordings/${encodeURIComponent(withMedia.sidecar.name)}/info`)
      .expect(200);
    expect(info.body).toMatchObject({ mediaKey: `recordings/${withMedia.sidecar.name}`, size: 4096 });
    await stack
      .http()
      .get(`/recordings/${encodeURIComponent(withMedia.sidecar.name)}`)
      .expect(200);
    // Rewritten where it lay, in the service's own format.
    const migrated = JSON.parse((await readObject(stack, withMedia.key))!.toString('utf8')) as Recording;
    expect(migrated).toMatchObject({ status: 'COMPLETE', mediaVerified: true, name: withMedia.sidecar.name });
  });
});

describe('paging while recordings come and go, across two instances', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  it('shows every recording that existed and was not deleted exactly once, never a deleted one, and what the other instance wrote', async () => {
    const initial = Array.from({ length: 120 }, (_, i) => sidecar(i, `churn${i % 4}`));
    await seed(stack, initial);
    const peer = await stack.startPeer();
    try {
      const deleted = new Set<string>();
      const addedOlder: Recording[] = [];
      const instances = [stack.http, peer.http];
      const seen: RecordingView[] = [];
      let cursor: string | undefined;
      let page = 0;
      do {
        // Pages alternate between the two instances; neither keeps an index of its own.
        const http = instances[page % 2];
        const res = await http()
          .get('/recordings')
          .query({ limit: 10, ...(cursor ? { cursor } : {}) })
          .expect(200);
        const answer = res.body as RecordingPage;
        for (const recording of answer.recordings) {
          expect(deleted.has(recording.name)).toBe(false);
          seen.push(recording);
        }
        cursor = answer.nextCursor ?? undefined;
        page++;
        // Meanwhile: one instance deletes one recording not yet shown and one already shown, the other
        // writes a new recording (newer than the first page) and an old one (still ahead of the cursor).
        const pending = initial.filter((r) => !deleted.has(r.name) && !seen.some((s) => s.id === r.id));
        for (const victim of [pending[pending.length - 1], seen[seen.length - 1]]) {
          if (!victim || deleted.has(victim.name)) continue;
          await instances[(page + 1) % 2]().delete(`/recordings/${victim.name}`).expect(200);
          deleted.add(victim.name);
        }
        const older = sidecar(10_000 + page, 'churn-late', { startedAt: 1_600_000_000_000 - page });
        await mapConcurrent([sidecar(20_000 + page, 'churn-new', { startedAt: Date.now() }), older], 2, (r) =>
          peer.services.store.save(r, undefined),
        );
        addedOlder.push(older);
      } while (cursor);

      const ids = seen.map((r) => r.id);
      expect(new Set(ids).size).toBe(ids.length);
      const survivors = initial.filter((r) => !deleted.has(r.name));
      expect(survivors.every((r) => ids.includes(r.id))).toBe(true);
      // Each older recording the peer wrote while paging sorts after the cursor, so a later page has it.
      expect(
        addedOlder
          .slice(0, -1)
          .map((r) => r.id)
          .filter((id) => !ids.includes(id)),
      ).toEqual([]);
      expect(ids.filter((id) => id.startsWith('EG_00000002'))).toEqual([]); // the newer ones sort before the first page
      expect(deleted.size).toBeGreaterThan(10);
    } finally {
      await peer.close();
    }
  }, 60_000);
});
