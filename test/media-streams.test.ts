import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Metrics } from '../src/services/platform/metrics';
import type { Recording } from '../src/services/recordings/recording.model';
import { MediaStreamSlots } from '../src/services/recordings/media-streams.service';
import { eventually } from './support/eventually';
import { LiveKitDouble } from './support/livekit-double';
import { FIXTURE_MP4, completeRecording, putObject } from './support/recordings';
import { S3TestServer } from './support/s3-server';
import { HOST_HEADERS, type ServiceProcess, freePort, peerEnv, runService, waitReady } from './support/service-process';
import { startStack, type TestStack } from './support/stack';

/** Far larger than every socket buffer between S3 and a reader, so a reader that stops holds its S3 GET open. */
const BIG = randomBytes(32 * 1024 * 1024);
/** The control client's socket pool (the AWS SDK's default), which one S3 client for everything used to share. */
const CONTROL_SOCKETS = 50;
/** The media client's pool in the first test: as many sockets as the control client. */
const MEDIA_SOCKETS = CONTROL_SOCKETS;
/** More slow readers than either pool has sockets: on one shared client they would starve control traffic. */
const SLOW_READERS = MEDIA_SOCKETS + 10;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The JSON body of a refusal; undefined for media, whose body is left unread. */
  body?: { errorMessage: string; code: string };
  /** The reader goes away. */
  leave(): void;
}

/**
 * A slow reader: takes the headers and reads no further, so the service's response (and its S3 GET)
 * stays open until `leave()`. Refusals are read whole.
 */
function openMedia(port: number, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { ...HOST_HEADERS, ...headers }, agent: false }, (res) => {
      const leave = () => req.destroy();
      res.on('error', () => undefined);
      const status = res.statusCode!;
      if (status === 200 || status === 206) {
        res.pause();
        resolve({ status, headers: res.headers, leave });
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Answer['body'], leave }),
      );
    });
    req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
  });
}

/** A finished recording of room `room` whose media is BIG: `<room>-RM_<room>-1.mp4`. */
function bigRecording(room: string): { recording: Recording; sidecarKey: string } {
  const name = `${room}-RM_${room}-1.mp4`;
  const recording: Recording = {
    id: `EG_${room}${room}`,
    name,
    roomName: room,
    roomId: `RM_${room}`,
    status: 'COMPLETE',
    startedAt: 1,
    endedAt: 2,
    duration: 1,
    size: BIG.length,
    mediaKey: `recordings/${name}`,
    mediaVerified: true,
    updatedAt: 2,
  };
  return { recording, sidecarKey: `recordings/.metadata/${room}-RM_${room}-1.json` };
}

/** Puts a big recording straight into the bucket, as egress and the service would have left it; its name. */
async function storeBigRecording(s3: S3TestServer, room: string): Promise<string> {
  const { recording, sidecarKey } = bigRecording(room);
  const client = s3.client();
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: recording.mediaKey, Body: BIG, ContentType: 'video/mp4' }));
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: sidecarKey, Body: JSON.stringify(recording) }));
  return recording.name;
}

/** The service in its own process, straight on s3rver (no proxy in between that would queue reads of one key). */
async function startService(livekit: LiveKitDouble, s3: S3TestServer, env: Record<string, string>) {
  const port = await freePort();
  const service = runService({
    NODE_ENV: 'test',
    SERVER_PORT: String(port),
    ...peerEnv(livekit, s3),
    RECONCILE_INTERVAL: '0', // only webhooks may change a recording here
    S3_REQUEST_TIMEOUT: '2s',
    LOG_LEVEL: 'warn',
    ...env,
  });
  await waitReady(service, port);
  livekit.webhookUrls = [`http://127.0.0.1:${port}/livekit/webhook`];
  return { service, port, url: `http://127.0.0.1:${port}` };
}

/**
 * Stopped, and its reads of s3rver let go, before s3rver closes: s3rver logs each read as it ends,
 * and complains loudly when that comes after its logger closed.
 */
async function stop(service: ServiceProcess | undefined, s3: S3TestServer | undefined) {
  service?.child.kill('SIGKILL');
  await service?.exited();
  await s3?.idle();
}

/** Each describe's teardown: its readers leave, then the service, the LiveKit double and s3rver stop. */
async function tearDown(
  readers: Answer[],
  service: ServiceProcess | undefined,
  livekit: LiveKitDouble | undefined,
  s3: S3TestServer | undefined,
) {
  for (const reader of readers) reader.leave();
  await stop(service, s3);
  await livekit?.close();
  await s3?.close();
}

const post = (url: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...HOST_HEADERS }, body: JSON.stringify(body) });

describe('media streams beside control traffic (a service process)', () => {
  let s3: S3TestServer;
  let livekit: LiveKitDouble;
  let service: ServiceProcess;
  let port: number;
  let url: string;
  const readers: Answer[] = [];
  let bigName: string;

  beforeAll(async () => {
    s3 = await S3TestServer.start();
    livekit = await LiveKitDouble.start({ webhookRetry: { initialDelayMs: 200, maxDelayMs: 1000 } });
    bigName = await storeBigRecording(s3, 'big');
    ({ service, port, url } = await startService(livekit, s3, {
      // The caps let in more readers than the media pool has sockets (those beyond it wait for one,
      // for as long as the S3 time limit allows), so the media pool is saturated.
      MEDIA_MAX_STREAMS: String(SLOW_READERS),
      MEDIA_MAX_STREAMS_PER_CLIENT: String(SLOW_READERS),
      S3_MEDIA_MAX_SOCKETS: String(MEDIA_SOCKETS),
      S3_REQUEST_TIMEOUT: '60s',
    }));
  }, 60_000);

  afterAll(() => tearDown(readers, service, livekit, s3));

  it('applies a webhook and answers /token while more slow readers than the media pool has sockets hold or wait for its sockets', async () => {
    // A recording under way, started before the media pool fills.
    const roomName = 'busy-room';
    expect((await post(`${url}/token`, { roomName, participantName: 'host' })).status).toBe(200);
    livekit.addParticipant(roomName, { identity: 'host', tracks: ['video'] });
    const started = await post(`${url}/recordings/start`, { roomName });
    expect(started.status).toBe(200);
    const { id, name } = ((await started.json()) as { recording: Recording }).recording;
    const statusOf = async () =>
      ((await (await fetch(`${url}/recordings/${name}/info`, { headers: HOST_HEADERS })).json()) as Recording).status;
    await eventually(async () => (await statusOf()) === 'ACTIVE', { what: 'recording ACTIVE', timeoutMs: 15_000 });
    // The big recording's sidecar is read once here, so the readers below cost one S3 GET each.
    (await openMedia(port, `/recordings/${bigName}`, { Range: 'bytes=0-0' })).leave();
    await eventually(async () => /^recording_manager_media_streams_open 0$/m.test(await (await fetch(`${url}/metrics`)).text()), {
      what: 'its slot freed',
    });

    // Those still waiting for a socket when the process stops get no answer at all.
    for (let i = 0; i < SLOW_READERS; i++)
      void openMedia(port, `/recordings/${bigName}`).then(
        (answer) => readers.push(answer),
        () => undefined,
      );
    // Every socket of the media pool is held by a reader that no longer reads; the others wait for one.
    await eventually(() => readers.filter((reader) => reader.status === 200).length === MEDIA_SOCKETS, {
      timeoutMs: 20_000,
      what: 'the media pool full',
    });

    const admitted = await post(`${url}/token`, { roomName: 'another-room', participantName: 'guest' });
    expect(admitted.status).toBe(200);

    await livekit.endEgress(id, { status: 'COMPLETE' });
    const ended = () => livekit.deliveries.find((d) => d.event.event === 'egress_ended' && d.event.egressInfo?.egressId === id);
    await eventually(() => ended()?.delivered, { timeoutMs: 10_000, what: 'egress_ended applied' });
    expect(ended()!.attempts).toEqual([200]);
    expect(await statusOf()).toBe('COMPLETE');

    // The media pool stayed full meanwhile: the readers beyond it are still waiting for a socket.
    expect(readers.filter((reader) => reader.status === 200)).toHaveLength(MEDIA_SOCKETS);
    expect(readers).toHaveLength(MEDIA_SOCKETS);
  }, 60_000);
});

describe('caps on concurrent media streams (a service process behind one proxy)', () => {
  let s3: S3TestServer;
  let livekit: LiveKitDouble;
  let service: ServiceProcess;
  let port: number;
  let url: string;
  const held: Answer[] = [];
  let bigName: string;
  const from = (address: string) => ({ 'X-Forwarded-For': address });

  beforeAll(async () => {
    s3 = await S3TestServer.start();
    livekit = await LiveKitDouble.start();
    bigName = await storeBigRecording(s3, 'capped');
    // The per-address cap is left at its default; the proxy in front tells client addresses.
    ({ service, port, url } = await startService(livekit, s3, {
      MEDIA_MAX_STREAMS: '20',
      TRUST_PROXY: '1',
      RECORDING_PLAYBACK_STRATEGY: 'PROXY',
    }));
  }, 60_000);

  afterAll(() => tearDown(held, service, livekit, s3));

  const hold = async (address: string, path = `/recordings/${bigName}`) => {
    const answer = await openMedia(port, path, from(address));
    if (answer.status === 200) held.push(answer);
    return answer;
  };

  it('answers 429 beyond 16 streams from one address and beyond the total, and frees a slot when a reader goes away', async () => {
    // One browser tab or the bench: 16 readers from one address, one of them a <video> with a signed URL.
    const { recordingUrl } = (await (await fetch(`${url}/recordings/${bigName}/url`, { headers: HOST_HEADERS })).json()) as {
      recordingUrl: string;
    };
    const tab = await Promise.all(Array.from({ length: 15 }, () => hold('203.0.113.1')));
    tab.push(await hold('203.0.113.1', recordingUrl));
    expect(tab.map((answer) => answer.status)).toEqual(Array(16).fill(200));

    const seventeenth = await hold('203.0.113.1');
    expect(seventeenth.status).toBe(429);
    expect(seventeenth.body!.code).toBe('too_many_media_streams');
    expect(Number(seventeenth.headers['retry-after'])).toBeGreaterThan(0);
    expect((await hold('203.0.113.1', recordingUrl)).status).toBe(429);

    // Other addresses still stream, up to the total of 20.
    const others = await Promise.all(['203.0.113.2', '203.0.113.2', '203.0.113.3', '203.0.113.4'].map((address) => hold(address)));
    expect(others.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    const beyondTotal = await hold('203.0.113.5');
    expect(beyondTotal.status).toBe(429);
    expect(beyondTotal.body!.code).toBe('media_streams_full');

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^recording_manager_media_streams_open 20$/m);
    expect(metrics).toMatch(/^recording_manager_media_streams_refused_total\{cap="client"\} 2$/m);
    expect(metrics).toMatch(/^recording_manager_media_streams_refused_total\{cap="total"\} 1$/m);

    // Control traffic is not counted.
    expect((await fetch(`${url}/recordings/${bigName}/info`, { headers: { ...HOST_HEADERS, ...from('203.0.113.1') } })).status).toBe(200);

    // A reader that goes away frees its slot, for anyone.
    others[0].leave();
    await eventually(
      async () => {
        const answer = await hold('203.0.113.5');
        return answer.status === 200 || undefined;
      },
      { what: 'a freed slot' },
    );
  }, 60_000);
});

describe('media stream slots (the app against the fault proxy)', () => {
  let stack: TestStack;
  let name: string;
  let port: number;

  beforeAll(async () => {
    stack = await startStack({ env: { NODE_ENV: 'test', MEDIA_MAX_STREAMS_PER_CLIENT: '1' } });
    ({ name } = await completeRecording(stack));
    port = Number(new URL(stack.baseUrl).port);
    const { recording, sidecarKey } = bigRecording('held');
    await putObject(stack, recording.mediaKey, BIG, 'video/mp4');
    await putObject(stack, sidecarKey, JSON.stringify(recording));
  });
  afterAll(async () => {
    await stack.close();
  });

  const readWhole = (path: string) =>
    new Promise<{ status: number; length: number }>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path, headers: HOST_HEADERS }, (res) => {
        let length = 0;
        res.on('data', (chunk: Buffer) => {
          length += chunk.length;
        });
        res.on('end', () => resolve({ status: res.statusCode!, length }));
        res.on('error', () => resolve({ status: res.statusCode!, length }));
      });
      req.on('error', () => resolve({ status: 0, length: 0 }));
    });

  it('frees the slot of a stream that ended, whole or cut off by S3, and keeps the slot of one still open', async () => {
    const path = `/recordings/${encodeURIComponent(name)}`;
    for (let i = 0; i < 3; i++) expect(await readWhole(path)).toEqual({ status: 200, length: FIXTURE_MP4.length });

    stack.s3Proxy.inject((method, p) => method === 'GET' && p.endsWith(name), { kind: 'cut', afterBytes: 1000 });
    expect((await readWhole(path)).length).toBeLessThan(FIXTURE_MP4.length);
    await eventually(async () => (await readWhole(path)).status === 200, { what: 'the slot of the cut stream freed' });

    const open = await openMedia(port, '/recordings/held-RM_held-1.mp4');
    try {
      expect(open.status).toBe(200);
      const refused = await openMedia(port, path);
      expect([refused.status, refused.body?.code]).toEqual([429, 'too_many_media_streams']);
      // Posters are not streams: small enough to leave S3 at once, and a page shows dozens of them.
      expect((await readWhole(`${path}/thumbnail`)).status).toBe(200);
    } finally {
      open.leave();
    }
    await eventually(async () => (await readWhole(path)).status === 200, { what: 'the slot of the reader that left freed' });
    await eventually(() => stack.s3Proxy.requests.some((r) => r.path.endsWith('held-RM_held-1.mp4') && r.closed), {
      what: 'its S3 read let go',
    });
  });
});

describe('MediaStreamSlots', () => {
  // toThrow compares the thrown AppError with an asymmetric matcher as it would with an Error (its typing names only the latter).
  const appErrorWith = (fields: { status?: number; code: string }) => expect.objectContaining(fields) as Error;

  it('counts a stream released twice once, per client and in all', () => {
    const slots = new MediaStreamSlots({ max: 2, maxPerClient: 1 }, new Metrics());
    const release = slots.take('198.51.100.1');
    expect(() => slots.take('198.51.100.1')).toThrow(appErrorWith({ status: 429, code: 'too_many_media_streams' }));
    slots.take('198.51.100.2');
    release();
    release();
    expect(() => slots.take('198.51.100.2')).toThrow(appErrorWith({ code: 'too_many_media_streams' }));
    slots.take('198.51.100.1');
    expect(() => slots.take('198.51.100.3')).toThrow(appErrorWith({ status: 429, code: 'media_streams_full' }));
  });
});
