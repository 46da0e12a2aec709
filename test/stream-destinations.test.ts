/**
 * Egress connects to whatever a stream destination names: a destination must be a public unicast
 * address, or a name whose every address is one (SECURITY.md, "Stream destinations"). The service's
 * DNS is the stack's table (test/support/dns.ts): these names resolve as they would inside a cluster.
 */
import { FAILS, type DnsTable } from './support/dns';
import { joinRoom, uniqueRoom } from './support/recordings';
import { startStack, type TestStack } from './support/stack';
import type { ErrorAnswer, StreamAnswer } from './support/answers';

const KEY = 'sk_destination-key-0123456789';

/** What the /streams routes answer, and what an error answer holds. */

/** Names that resolve to egress's own network (Kubernetes, a cloud's metadata, wildcard DNS, compose). */
const INTERNAL_DNS: DnsTable = {
  'redis.default': ['10.96.0.12'],
  'redis.default.svc.cluster.local': ['10.96.0.12'],
  'metadata.google.internal': ['169.254.169.254'],
  '10.0.0.7.nip.io': ['10.0.0.7'],
  localhost: ['127.0.0.1', '::1'],
  minio: ['172.18.0.4'],
  'db.v6.example.com': ['fd00::5'],
  'mapped.example.com': ['::ffff:10.0.0.9'],
  // One private address among public ones: egress may pick any of them.
  'mixed.example.com': ['93.184.215.20', '2606:2800:21f:cb07:6820:80da:af6b:8b2c', '10.0.0.8'],
  'dual.example.com': ['93.184.215.21', '2606:2800:21f:cb07:6820:80da:af6b:8b2d'],
  'flaky.example.com': FAILS,
};

/** Hosts that are not public unicast, literal or by name, however they are spelled. */
const REFUSED_HOSTS = [
  // Names resolving inside egress's network.
  'redis.default',
  'redis.default.svc.cluster.local',
  'metadata.google.internal',
  '10.0.0.7.nip.io',
  'localhost',
  'localhost.',
  'minio:1935',
  'db.v6.example.com',
  'mapped.example.com',
  'mixed.example.com',
  // IPv4 special-purpose blocks, multicast and broadcast.
  '127.0.0.1',
  '10.1.2.3:1935',
  '0.0.0.0',
  '100.64.0.1',
  '169.254.169.254',
  '172.16.5.4',
  '192.168.1.1',
  '192.0.0.9',
  '192.0.2.10',
  '198.18.0.1',
  '198.19.255.254',
  '198.51.100.10',
  '203.0.113.10',
  '224.0.0.1',
  '239.255.255.250',
  '240.0.0.1',
  '255.255.255.255',
  // Other spellings of 127.0.0.1.
  '127.1',
  '0x7f000001',
  '2130706433',
  '0177.0.0.1',
  '127.0.0.1.',
  // IPv6, and IPv4 embedded in IPv6 (mapped, compatible, NAT64, 6to4, Teredo with a private client or server).
  '[::1]',
  '[::]',
  '[::127.0.0.1]',
  '[::ffff:127.0.0.1]',
  '[0:0:0:0:0:FFFF:7F00:1]',
  '[64:ff9b::a00:7]',
  '[64:ff9b:1::a00:7]',
  '[2002:7f00:1::]',
  '[2001:0:4136:e378:8000:63bf:f5ff:fffe]',
  '[2001:0:a00:1:8000:63bf:f7f7:f7f7]',
  '[fec0::1]',
  '[fe80::1]',
  '[fd12:3456::1]',
  '[ff02::1]',
  '[2001:db8::1]',
  '[3fff::1]',
  '[2001:2::1]',
  '[100::1]',
];

const withPort = (host: string) => (/:\d+$/.test(host) ? host : `${host}:9000`);

describe('stream destinations must be public addresses', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startStack({ dns: INTERNAL_DNS, env: { NODE_ENV: 'test' } });
  });
  afterAll(() => stack.close());

  const egressesOf = (roomName: string) => stack.livekit.listEgresses().filter((info) => info.roomName === roomName);

  it('refuses every destination that is not public unicast with a 400 that says so, and starts no egress', async () => {
    const roomName = uniqueRoom('ssrf');
    await joinRoom(stack, roomName);
    const notRefused: string[] = [];
    for (const host of REFUSED_HOSTS) {
      for (const url of [`rtmp://${host}/live/${KEY}`, `srt://${withPort(host)}?streamid=${KEY}`]) {
        const res = await stack
          .http()
          .post('/streams/start')
          .send({ roomName, urls: [url] });
        const refused =
          res.status === 400 &&
          /must be a public address/.test((res.body as ErrorAnswer).errorMessage) &&
          !JSON.stringify(res.body).includes(KEY);
        if (!refused) notRefused.push(`${url.slice(0, 6)}${host} → ${res.status}`);
      }
    }
    expect(notRefused).toEqual([]);
    expect(egressesOf(roomName)).toEqual([]);
  });

  it('answers 400 for a name that does not resolve, and 503 when the name cannot be resolved now', async () => {
    const roomName = uniqueRoom('unresolved');
    await joinRoom(stack, roomName);
    const missing = await stack
      .http()
      .post('/streams/start')
      .send({ roomName, urls: [`rtmp://nowhere.example.com/live/${KEY}`] })
      .expect(400);
    expect((missing.body as ErrorAnswer).errorMessage).toContain(
      'nowhere.example.com must be a public address, or a name that resolves to public addresses only',
    );
    const flaky = await stack
      .http()
      .post('/streams/start')
      .send({ roomName, urls: [`rtmp://flaky.example.com/live/${KEY}`] })
      .expect(503);
    expect((flaky.body as ErrorAnswer).code).toBe('dns_unavailable');
    expect(egressesOf(roomName)).toEqual([]);
  });

  it('answers a name that does not resolve exactly as one that resolves to an internal address, so nobody maps internal DNS with it', async () => {
    const roomName = uniqueRoom('dns-probe');
    await joinRoom(stack, roomName);
    const refusalOf = async (host: string) => {
      const res = await stack
        .http()
        .post('/streams/start')
        .send({ roomName, urls: [`rtmp://${host}/live/${KEY}`] });
      const body = res.body as ErrorAnswer;
      return { status: res.status, code: body.code, errorMessage: String(body.errorMessage).replaceAll(host, '<host>') };
    };
    const internal = await refusalOf('redis.default');
    expect(internal.status).toBe(400);
    expect(await refusalOf('nowhere.example.com')).toEqual(internal);
    expect(await refusalOf('10.0.0.7')).toEqual(internal);
  });

  it('goes live to a name whose every address is public, and to public addresses however they are written', async () => {
    const roomName = uniqueRoom('public');
    await joinRoom(stack, roomName);
    await stack
      .http()
      .post('/streams/start')
      .send({ roomName, urls: [`rtmp://dual.example.com/live/${KEY}`] })
      .expect(200);
    // Public IPv4 embedded in IPv6 (mapped, NAT64, 6to4, Teredo with public server and client) is public.
    const addUrls = [
      '[2606:2800:21f:cb07::1]',
      '[::ffff:93.184.215.14]',
      '[64:ff9b::5db8:d70e]',
      '[2002:5db8:d70e::1]',
      '[2001:0:4136:e378:8000:63bf:a247:28f1]',
    ].map((host) => `rtmp://${host}/app/${KEY}`);
    const updated = await stack.http().post('/streams/update').send({ roomName, addUrls }).expect(200);
    expect((updated.body as StreamAnswer).stream.destinations).toHaveLength(6);
    await stack.http().post('/streams/stop').send({ roomName }).expect(200);
  });

  it('refuses a private destination added to a running stream, which keeps its destinations', async () => {
    const roomName = uniqueRoom('ssrf-update');
    await joinRoom(stack, roomName);
    const { stream: started } = (
      await stack
        .http()
        .post('/streams/start')
        .send({ roomName, urls: [`rtmp://a.rtmp.youtube.com/live2/${KEY}`] })
        .expect(200)
    ).body as StreamAnswer;
    for (const host of ['redis.default', '[::ffff:10.0.0.1]', 'mixed.example.com', '198.18.0.1']) {
      const res = await stack
        .http()
        .post('/streams/update')
        .send({ roomName, addUrls: [`rtmp://${host}/app/${KEY}`] });
      expect([host, res.status, (res.body as ErrorAnswer).errorMessage]).toEqual([
        host,
        400,
        expect.stringContaining('must be a public address'),
      ]);
    }
    expect(
      stack.livekit.calls.filter(
        (call) => call.method === 'UpdateStream' && (call.request as { egressId?: string }).egressId === started.id,
      ),
    ).toEqual([]);
    expect(stack.livekit.getEgress(started.id)!.streamResults).toHaveLength(1);
    await stack.http().post('/streams/stop').send({ roomName }).expect(200);
  });

  it('looks a destination up only for a caller with the stream permission in its room', async () => {
    const roomName = uniqueRoom('ssrf-rights');
    const tokenAs = async (role: string) => {
      const res = await stack.http().post('/token').send({ roomName, participantName: role, role }).expect(200);
      return `Bearer ${(res.body as { token: string }).token}`;
    };
    const participant = await tokenAs('participant');
    const host = `probe-${roomName}.example.com`;
    const urls = [`rtmp://${host}/live/${KEY}`];
    await stack.anonymous().post('/streams/start').send({ roomName, urls }).expect(401);
    await stack.anonymous().post('/streams/start').set('Authorization', participant).send({ roomName, urls }).expect(403);
    await stack.anonymous().post('/streams/update').set('Authorization', participant).send({ roomName, addUrls: urls }).expect(403);
    expect(stack.resolveHost.asked).not.toContain(host);
    // A moderator may stream: the name is looked up (and does not resolve).
    await stack
      .anonymous()
      .post('/streams/start')
      .set('Authorization', await tokenAs('moderator'))
      .send({ roomName, urls })
      .expect(400);
    expect(stack.resolveHost.asked).toContain(host);
  });
});

describe('STREAM_PRIVATE_DESTINATIONS=true', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startStack({ dns: INTERNAL_DNS, env: { NODE_ENV: 'test', STREAM_PRIVATE_DESTINATIONS: 'true' } });
  });
  afterAll(() => stack.close());

  it('streams to private addresses and internal names (an RTMP server inside your own network)', async () => {
    for (const host of ['redis.default', '10.1.2.3:1935', '[::ffff:127.0.0.1]']) {
      const roomName = uniqueRoom('private');
      await joinRoom(stack, roomName);
      await stack
        .http()
        .post('/streams/start')
        .send({ roomName, urls: [`rtmp://${host}/live/${KEY}`] })
        .expect(200);
      await stack.http().post('/streams/stop').send({ roomName }).expect(200);
    }
  });
});
