import { startStack, type TestStack } from './support/stack';

describe('health and readiness', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  it('is alive and ready when LiveKit and S3 answer', async () => {
    expect((await stack.http().get('/healthz').expect(200)).body).toEqual({ status: 'ok' });
    expect((await stack.http().get('/readyz').expect(200)).body).toEqual({ status: 'ready', checks: { livekit: 'ok', s3: 'ok' } });
  });

  it('answers 503 in time when S3 hangs, instead of hanging with it', async () => {
    const quick = await startStack({ env: { S3_REQUEST_TIMEOUT: '300ms' } });
    try {
      quick.s3Proxy.inject((method, path) => method === 'GET' && path.includes('/.metadata/'), { kind: 'hang' });
      const started = Date.now();
      const res = await quick.http().get('/recordings/some-RM_x-1.mp4/info').expect(503);
      expect((res.body as { code: string }).code).toBe('s3_unavailable');
      expect(Date.now() - started).toBeLessThan(5000);
      await quick.http().get('/recordings/some-RM_x-1.mp4/info').expect(404);
    } finally {
      await quick.close();
    }
  });

  // Issue 15 (11): an anonymous caller learns which dependency is down, not where it lives or what it said.
  it('says which dependency is not reachable, never its error text, host or port', async () => {
    const livekitAddress = new URL(stack.livekit.url).host;
    const s3Address = new URL(stack.s3Proxy.endpoint).host;
    const revealsNothing = (text: string) => {
      for (const secret of [
        livekitAddress,
        s3Address,
        livekitAddress.split(':')[1],
        s3Address.split(':')[1],
        '127.0.0.1',
        'ECONN',
        'LiveKit',
        'S3',
      ]) {
        expect(text).not.toContain(secret);
      }
    };
    stack.livekit.failNext('ListRooms', 'network');
    const livekitDown = await stack.anonymous().get('/readyz').expect(503);
    expect(livekitDown.body).toEqual({ status: 'not ready', checks: { livekit: 'unavailable', s3: 'ok' } });
    revealsNothing(livekitDown.text);

    for (let i = 0; i < 3; i++) stack.s3Proxy.inject((method) => method === 'HEAD', { kind: 'status', status: 503 });
    const s3Down = await stack.anonymous().get('/readyz').expect(503);
    expect(s3Down.body).toEqual({ status: 'not ready', checks: { livekit: 'ok', s3: 'unavailable' } });
    revealsNothing(s3Down.text);
    await stack.http().get('/healthz').expect(200);
  });
});
