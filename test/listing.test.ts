import type { Recording } from '../src/models/recording.model';
import { mapConcurrent } from '../src/services/concurrency';
import { putObject, readObject } from './support/recordings';
import { startStack, type TestStack } from './support/stack';

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

async function seed(stack: TestStack, recordings: Recording[]) {
  await mapConcurrent(recordings, 32, (r) => putObject(stack, `recordings/.metadata/${r.name.replace(/\.mp4$/, '')}.json`, JSON.stringify(r)));
}

async function allPages(stack: TestStack, query: Record<string, string | number>) {
  const seen: Recording[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const res = await stack.http().get('/recordings').query({ ...query, ...(cursor ? { cursor } : {}) }).expect(200);
    expect(res.body.recordings.length).toBeLessThanOrEqual(Number(query.limit ?? 50));
    seen.push(...res.body.recordings);
    cursor = res.body.nextCursor ?? undefined;
    pages++;
  } while (cursor);
  return { seen, pages };
}

describe('GET /recordings', () => {
  let stack: TestStack;
  const total = 1050;
  beforeAll(async () => {
    stack = await startStack();
    const rooms = ['alpha', 'alpha-2', 'a.*'];
    await seed(stack, Array.from({ length: total }, (_, i) => sidecar(i, rooms[i % 3])));
  }, 60_000);
  afterAll(async () => { await stack.close(); });

  it('reaches every one of more than 1,000 recordings exactly once, newest first, by paging', async () => {
    const { seen, pages } = await allPages(stack, { limit: 100 });
    expect(pages).toBe(11);
    expect(seen).toHaveLength(total);
    expect(new Set(seen.map((r) => r.id)).size).toBe(total);
    const order = seen.map((r) => [r.startedAt, r.id] as const);
    const sorted = [...order].sort((a, b) => b[0] - a[0] || (a[1] < b[1] ? 1 : -1));
    expect(order).toEqual(sorted);
  }, 60_000);

  it('pages 50 at a time by default and never more than 100', async () => {
    const first = await stack.http().get('/recordings').expect(200);
    expect(first.body.recordings).toHaveLength(50);
    expect(typeof first.body.nextCursor).toBe('string');
    expect(first.body.recordings[0]).toMatchObject({ playable: true, status: 'COMPLETE' });
    expect(first.body.recordings[0].mediaVerified).toBeUndefined();
    for (const limit of ['0', '101', 'ten', '-1']) {
      await stack.http().get('/recordings').query({ limit }).expect(400);
    }
  });

  it('filters by exact room name and room id, with no pattern built from input', async () => {
    const alpha = await allPages(stack, { roomName: 'alpha', limit: 100 });
    expect(alpha.seen).toHaveLength(350);
    expect(alpha.seen.every((r) => r.roomName === 'alpha')).toBe(true);
    const pattern = await allPages(stack, { roomName: 'a.*', limit: 100 });
    expect(pattern.seen).toHaveLength(350);
    expect(pattern.seen.every((r) => r.roomName === 'a.*')).toBe(true);
    expect((await stack.http().get('/recordings').query({ roomName: '(' }).expect(200)).body.recordings).toEqual([]);
    const byId = await allPages(stack, { roomId: 'RM_alpha-2', limit: 100 });
    expect(byId.seen).toHaveLength(350);
    expect((await stack.http().get('/recordings').query({ roomName: 'alpha', roomId: 'RM_alpha-2' }).expect(200)).body.recordings).toEqual([]);
  }, 60_000);

  it('refuses a cursor it did not issue', async () => {
    for (const cursor of ['garbage', Buffer.from('{"a":1}').toString('base64url')]) {
      expect((await stack.http().get('/recordings').query({ cursor }).expect(400)).body.code).toBe('invalid_request');
    }
  });
});

describe('GET /recordings with sidecars it did not write', () => {
  let stack: TestStack;
  beforeAll(async () => { stack = await startStack(); });
  afterAll(async () => { await stack.close(); });

  it('skips a corrupt sidecar and lists the rest', async () => {
    await seed(stack, [sidecar(1, 'solid')]);
    await putObject(stack, 'recordings/.metadata/broken.json', '{"id": "EG_', 'application/json');
    await putObject(stack, 'recordings/.metadata/wrong-shape.json', '{"hello":"world"}', 'application/json');
    const res = await stack.http().get('/recordings').expect(200);
    expect(res.body.recordings.map((r: Recording) => r.roomName)).toEqual(['solid']);
  });

  it('reads the reference tutorial\'s sidecars: COMPLETE when their media exists, FAILED otherwise, and migrates them', async () => {
    const reference = (id: string, time: string, size: number) => ({
      key: `recordings/.metadata/Test Room-RM_ref-${time}.json`,
      sidecar: { id, name: `Test Room-RM_ref-${time}.mp4`, roomName: 'Test Room', roomId: 'RM_ref', startedAt: Date.parse(`2024-09-23T${time.slice(11, 13)}:00:00Z`) + 0.123, duration: 3, size },
    });
    const withMedia = reference('EG_reference01', '2024-09-23T100000', 4096);
    const mediaGone = reference('EG_reference02', '2024-09-23T110000', 4096);
    const failed = reference('EG_reference03', '2024-09-23T120000', 0);
    for (const { key, sidecar } of [withMedia, mediaGone, failed]) await putObject(stack, key, JSON.stringify(sidecar));
    await putObject(stack, `recordings/${withMedia.sidecar.name}`, Buffer.alloc(4096, 1), 'video/mp4');

    const res = await stack.http().get('/recordings').query({ roomName: 'Test Room' }).expect(200);
    expect(res.body.recordings.map((r: Recording & { playable: boolean }) => [r.id, r.status, r.playable])).toEqual([
      ['EG_reference03', 'FAILED', false],
      ['EG_reference02', 'FAILED', false],
      ['EG_reference01', 'COMPLETE', true],
    ]);
    const info = await stack.http().get(`/recordings/${encodeURIComponent(withMedia.sidecar.name)}/info`).expect(200);
    expect(info.body).toMatchObject({ mediaKey: `recordings/${withMedia.sidecar.name}`, size: 4096 });
    await stack.http().get(`/recordings/${encodeURIComponent(withMedia.sidecar.name)}`).expect(200);
    // Rewritten where it lay, in the service's own format.
    const migrated = JSON.parse((await readObject(stack, withMedia.key))!.toString('utf8'));
    expect(migrated).toMatchObject({ status: 'COMPLETE', mediaVerified: true, name: withMedia.sidecar.name });
  });
});
