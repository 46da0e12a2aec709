import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Recording } from '../src/services/recordings/recording.model';
import { eventually } from './support/eventually';
import { FIXTURE_MP4, completeRecording, putObject } from './support/recordings';
import { startStack, type TestStack } from './support/stack';
import { HOST_HEADERS } from './support/service-process';

/**
 * Raw HTTP, so that byte counts, headers and early aborts are exactly what a client sees; the path
 * goes out as written (a URL parser would resolve "%2E%2E" before the service could see it).
 */
function get(stack: TestStack, path: string, headers: Record<string, string> = {}, method = 'GET') {
  const { hostname, port } = new URL(stack.baseUrl);
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const req = http.request({ hostname, port, path, method, headers: { ...HOST_HEADERS, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GET /recordings/:name (the Range-aware proxy)', () => {
  let stack: TestStack;
  let name: string;
  let path: string;
  const size = FIXTURE_MP4.length;

  beforeAll(async () => {
    stack = await startStack();
    ({ name } = await completeRecording(stack));
    path = `/recordings/${encodeURIComponent(name)}`;
  });
  afterAll(async () => {
    await stack.close();
  });

  it('answers 200 with the whole file and every header a player needs when there is no Range', async () => {
    const res = await get(stack, path);
    expect(res.status).toBe(200);
    expect(res.body.equals(FIXTURE_MP4)).toBe(true);
    expect(res.headers).toMatchObject({ 'accept-ranges': 'bytes', 'content-type': 'video/mp4', 'content-length': String(size) });
    expect(res.headers.etag).toMatch(/^"[0-9a-f]+"$/);
    expect(new Date(res.headers['last-modified']!).getTime()).toBeGreaterThan(0);
  });

  it.each([
    ['bytes=0-99', 0, 99],
    ['bytes=1000-', 1000, size - 1],
    ['bytes=-500', size - 500, size - 1],
    ['bytes=50000-99999999', 50000, size - 1],
    [`bytes=${size - 1}-${size - 1}`, size - 1, size - 1],
  ])('answers %s with 206 and exactly those bytes', async (range, start, end) => {
    const res = await get(stack, path, { Range: range });
    expect(res.status).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes ${start}-${end}/${size}`);
    expect(res.headers['content-length']).toBe(String(end - start + 1));
    expect(res.body.equals(FIXTURE_MP4.subarray(start, end + 1))).toBe(true);
  });

  it.each([`bytes=${size}-`, 'bytes=99999999-99999999', 'bytes=-0'])('answers %s with 416 and the size', async (range) => {
    const res = await get(stack, path, { Range: range });
    expect(res.status).toBe(416);
    expect(res.headers['content-range']).toBe(`bytes */${size}`);
  });

  it('answers ranges it does not serve (several, reversed) with the whole file', async () => {
    for (const range of ['bytes=0-1,5-6', 'bytes=9-3']) {
      const res = await get(stack, path, { Range: range });
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(size);
    }
  });

  // Issue 15 (6): a header this long is no range a player sends; parsing it must cost nothing.
  it('ignores a Range header longer than 1,024 bytes and answers the whole file', async () => {
    for (const range of [`bytes=${'0'.repeat(1100)}-99`, `bytes=0-${'0'.repeat(1100)}99`, `bytes=0-99,${' '.repeat(1100)}`]) {
      const res = await get(stack, path, { Range: range });
      expect([res.status, res.headers['content-range'], res.body.length]).toEqual([200, undefined, size]);
    }
    // Up to the limit, the same range is still served.
    const padded = await get(stack, path, { Range: `bytes=${'0'.repeat(1000)}-99` });
    expect([padded.status, padded.body.length]).toEqual([206, 100]);
  });

  it('evaluates If-None-Match (304) and If-Range (the range while the validator holds, else the whole file)', async () => {
    const { headers } = await get(stack, path, {}, 'HEAD');
    const etag = headers.etag!;
    expect((await get(stack, path, { 'If-None-Match': etag })).status).toBe(304);
    expect((await get(stack, path, { 'If-None-Match': '"something-else"' })).status).toBe(200);

    const current = await get(stack, path, { Range: 'bytes=0-9', 'If-Range': etag });
    expect([current.status, current.body.length]).toEqual([206, 10]);
    const byDate = await get(stack, path, { Range: 'bytes=0-9', 'If-Range': headers['last-modified']! });
    expect([byDate.status, byDate.body.length]).toEqual([206, 10]);
    for (const stale of ['"an-older-version"', 'W/' + etag, 'Thu, 01 Jan 2015 00:00:00 GMT']) {
      const whole = await get(stack, path, { Range: 'bytes=0-9', 'If-Range': stale });
      expect([whole.status, whole.body.length]).toEqual([200, size]);
      expect(whole.headers['content-range']).toBeUndefined();
    }
  });

  it('answers HEAD with the headers and no body, at the cost of one S3 HEAD', async () => {
    const before = stack.s3Proxy.requests.length;
    const res = await get(stack, path, {}, 'HEAD');
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({ 'content-length': String(size), 'accept-ranges': 'bytes', 'content-type': 'video/mp4' });
    expect(res.body.length).toBe(0);
    const media = stack.s3Proxy.requests.slice(before).filter((r) => !r.path.includes('/.metadata/'));
    expect(media.map((r) => r.method)).toEqual(['HEAD']);
  });

  it('reads the media with exactly one ranged S3 GET per request, and nothing else once the recording is known', async () => {
    let before = stack.s3Proxy.requests.length;
    await get(stack, path, { Range: 'bytes=10-20' });
    const media = stack.s3Proxy.requests.slice(before).filter((r) => !r.path.includes('/.metadata/'));
    expect(media.map((r) => r.method)).toEqual(['GET']);

    for (const range of ['bytes=0-99', 'bytes=5000-']) {
      before = stack.s3Proxy.requests.length;
      expect((await get(stack, path, { Range: range })).status).toBe(206);
      expect(stack.s3Proxy.requests.slice(before).map((r) => `${r.method} ${r.path.endsWith(name)}`)).toEqual(['GET true']);
    }
  });

  it.each([
    '..%2F..%2Fetc%2Fpasswd',
    '..%2Frecordings%2F.metadata%2Fx.json',
    '%2E%2E',
    '.metadata',
    'a%5Cb',
    '%2Frecordings%2Fabsolute.mp4',
    '%E2%80%A5%EF%BC%8Fsecret.mp4', // "‥／secret.mp4": look-alikes of "../"
    'a%EF%BC%BCb.mp4', // fullwidth backslash
  ])('refuses the name %s without reaching any object', async (encoded) => {
    const before = stack.s3Proxy.requests.length;
    for (const suffix of ['', '/url', '/info']) {
      const res = await get(stack, `/recordings/${encoded}${suffix}`);
      expect([400, 404]).toContain(res.status);
    }
    expect((await get(stack, `/recordings/${encoded}`, {}, 'DELETE')).status).toBeGreaterThanOrEqual(400);
    expect(stack.s3Proxy.requests.slice(before)).toEqual([]);
  });

  it("serves a name only through its own sidecar: a sidecar's stem or another key is not a recording", async () => {
    await putObject(stack, 'recordings/secret.txt', 'not a recording');
    expect((await get(stack, '/recordings/secret.txt')).status).toBe(404);
    const stem = name.replace(/\.mp4$/, '');
    expect((await get(stack, `/recordings/${encodeURIComponent(`${stem}.json`)}`)).status).toBe(404);
    expect((await get(stack, `/recordings/${encodeURIComponent(name.toUpperCase())}`)).status).toBe(404);
  });

  it('closes the response when S3 fails mid-body, and the process carries on', async () => {
    stack.s3Proxy.inject((method, p) => method === 'GET' && !p.includes('/.metadata/'), { kind: 'cut', afterBytes: 1000 });
    const before = stack.s3Proxy.requests.length;
    const outcome = await get(stack, path).then(
      (res) => res.body.length,
      (error: Error) => error.message,
    );
    expect(outcome).not.toBe(size);
    // One GET, not retried: the body had started, so the client sees an incomplete response.
    expect(stack.s3Proxy.requests.slice(before).filter((r) => r.path.endsWith('.mp4'))).toHaveLength(1);
    const res = await get(stack, path);
    expect(res.status).toBe(200);
    expect(res.body.equals(FIXTURE_MP4)).toBe(true);
  });

  it('aborts the S3 read when the client goes away', async () => {
    // A large object, so the body cannot fit in socket buffers before the client leaves.
    const big = randomBytes(24 * 1024 * 1024);
    const bigName = 'big-RM_big-1.mp4';
    const recording: Recording = {
      id: 'EG_bigbigbigbig',
      name: bigName,
      roomName: 'big',
      roomId: 'RM_big',
      status: 'COMPLETE',
      startedAt: 1,
      endedAt: 2,
      duration: 1,
      size: big.length,
      mediaKey: `recordings/${bigName}`,
      mediaVerified: true,
      updatedAt: 2,
    };
    await putObject(stack, recording.mediaKey, big, 'video/mp4');
    await putObject(stack, 'recordings/.metadata/big-RM_big-1.json', JSON.stringify(recording));

    const before = stack.s3Proxy.requests.length;
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${stack.baseUrl}/recordings/${bigName}`, { headers: HOST_HEADERS }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
    });
    const read = await eventually(() =>
      stack.s3Proxy.requests.slice(before).find((r) => r.method === 'GET' && r.path.endsWith(bigName) && r.closed),
    );
    // The upstream read ended without having passed the whole object on.
    expect(read.completed).toBe(false);
  });

  it('stops serving a recording another instance deleted, though this one knew it', async () => {
    const { name: doomed } = await completeRecording(stack);
    const doomedPath = `/recordings/${encodeURIComponent(doomed)}`;
    expect((await get(stack, doomedPath, { Range: 'bytes=0-9' })).status).toBe(206);
    const peer = await stack.startPeer();
    try {
      await peer.http().delete(doomedPath).expect(200);
    } finally {
      await peer.close();
    }
    expect((await get(stack, doomedPath, { Range: 'bytes=0-9' })).status).toBe(404);
    expect((await get(stack, doomedPath, {}, 'HEAD')).status).toBe(404);
    expect((await get(stack, `${doomedPath}/info`)).status).toBe(404);
  });
});
