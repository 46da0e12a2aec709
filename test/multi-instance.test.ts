import { eventually } from './support/eventually';
import { LiveKitDouble } from './support/livekit-double';
import { REDIS_TEST_URL, connectRedis, deleteKeys, testPrefix } from './support/redis';
import { S3TestServer } from './support/s3-server';
import { HOST_HEADERS, type ServiceProcess, freePort, runService, waitReady, peerEnv } from './support/service-process';

/** Several service processes behind one load balancer share Redis for their per-room locks. */
describe('two service processes sharing Redis', () => {
  let s3: S3TestServer;
  let livekit: LiveKitDouble;
  const prefix = testPrefix('instances');
  const services: Array<{ process: ServiceProcess; port: number }> = [];

  beforeAll(async () => {
    s3 = await S3TestServer.start();
    livekit = await LiveKitDouble.start({ lifecycle: 'manual' });
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      const service = runService({
        SERVER_PORT: String(port),
        ...peerEnv(livekit, s3),
        REDIS_URL: REDIS_TEST_URL,
        REDIS_KEY_PREFIX: prefix,
        LOCK_TTL: '1s',
        RECONCILE_INTERVAL: '0',
        LOG_LEVEL: 'warn',
      });
      services.push({ process: service, port });
    }
    await Promise.all(services.map(({ process, port }) => waitReady(process, port)));
    livekit.webhookUrls = [`http://127.0.0.1:${services[0].port}/livekit/webhook`];
  }, 30_000);

  afterAll(async () => {
    for (const { process } of services) process.child.kill('SIGKILL');
    await livekit.close();
    await s3.close();
    const redis = await connectRedis();
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  const post = (port: number, path: string, body: unknown) =>
    fetch(`http://127.0.0.1:${port}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...HOST_HEADERS },
      body: JSON.stringify(body),
    });

  it('start exactly one egress for twenty concurrent starts spread over both', async () => {
    const roomName = 'shared-room';
    expect((await post(services[0].port, '/token', { roomName, participantName: 'p' })).status).toBe(200);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => post(services[i % 2].port, '/recordings/start', { roomName })));
    const statuses = answers.map((res) => res.status).sort();
    expect(statuses).toEqual([200, ...Array<number>(19).fill(409)]);
    expect(livekit.listEgresses().filter((e) => e.roomName === roomName)).toHaveLength(1);
    expect(livekit.calls.filter((c) => c.method === 'StartRoomCompositeEgress')).toHaveLength(1);
  });

  it('start exactly one egress for twenty concurrent starts on one of them', async () => {
    const roomName = 'one-instance-room';
    expect((await post(services[1].port, '/token', { roomName, participantName: 'p' })).status).toBe(200);
    const answers = await Promise.all(Array.from({ length: 20 }, () => post(services[1].port, '/recordings/start', { roomName })));
    expect(answers.map((res) => res.status).sort()).toEqual([200, ...Array<number>(19).fill(409)]);
    expect(livekit.listEgresses().filter((e) => e.roomName === roomName)).toHaveLength(1);
  });

  it('lets the room record again once the lock of a SIGKILLed holder has expired', async () => {
    const roomName = 'holder-killed';
    expect((await post(services[0].port, '/token', { roomName, participantName: 'p' })).status).toBe(200);
    // The first process takes the room's lock and then waits on a slow LiveKit...
    livekit.failNext('ListEgress', { delayMs: 5000 });
    const doomed = post(services[0].port, '/recordings/start', { roomName }).catch(() => undefined);
    await eventually(() => livekit.calls.some((c) => c.method === 'ListEgress' && c.status === 0));
    // ...and dies holding it: the other process gets the room once the lock's TTL (1 s) has passed.
    services[0].process.child.kill('SIGKILL');
    await services[0].process.exited();
    const started = Date.now();
    const res = await post(services[1].port, '/recordings/start', { roomName });
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(5000);
    await doomed;
  }, 30_000);
});
