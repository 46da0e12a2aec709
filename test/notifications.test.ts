import { eventually } from './support/eventually';
import { LiveKitDouble } from './support/livekit-double';
import { NotificationReceiver } from './support/notification-receiver';
import { completeRecording, joinRoom, keysUnder, uniqueRoom, waitForRecording } from './support/recordings';
import { S3TestServer } from './support/s3-server';
import { HOST_HEADERS, type ServiceProcess, freePort, peerEnv, runService, waitReady } from './support/service-process';
import { startStack, type TestStack } from './support/stack';
import type { RecordingAnswer } from './support/answers';

const KEY = 'notification-signing-key-of-the-customer-0123';

describe('notifications to the customer (NOTIFY_URLS)', () => {
  let stack: TestStack;
  let receiver: NotificationReceiver;
  beforeAll(async () => {
    receiver = await NotificationReceiver.start(KEY);
    stack = await startStack({
      env: { NOTIFY_URLS: receiver.url, NOTIFY_SIGNING_KEY: KEY, NOTIFY_RETRY_BASE: '100ms', NOTIFY_RETRY_MAX: '400ms' },
    });
  });
  afterAll(async () => {
    await stack.close();
    await receiver.close();
  });

  const outbox = () => keysUnder(stack, 'recordings/.outbox/');

  it('posts started, updated, ended and deleted, signed, with the recording and its metadata', async () => {
    const roomName = uniqueRoom('notified');
    await joinRoom(stack, roomName);
    const { recording: started } = (
      await stack
        .http()
        .post('/recordings/start')
        .send({ roomName, metadata: { meetingId: 'm-1' } })
        .expect(200)
    ).body as RecordingAnswer;
    await waitForRecording(stack, started.name, (r) => r.status === 'ACTIVE');
    await stack.http().post('/recordings/stop').send({ roomName }).expect(200);
    await waitForRecording(stack, started.name, (r) => r.playable);
    await stack.http().delete(`/recordings/${started.name}`).expect(200);

    const ours = () => receiver.received.filter((r) => r.recording.id === started.id);
    await eventually(() => ours().some((r) => r.type === 'recording.deleted'), { what: 'recording.deleted received' });
    expect(ours().map((r) => r.type)).toEqual(['recording.started', 'recording.updated', 'recording.ended', 'recording.deleted']);
    expect(ours().map((r) => r.id)).toEqual([
      `${started.id}:started`,
      `${started.id}:ending`,
      `${started.id}:ended`,
      `${started.id}:deleted`,
    ]);
    expect(ours().every((r) => r.signatureValid)).toBe(true);
    const ended = ours().find((r) => r.type === 'recording.ended')!;
    expect(ended.recording).toMatchObject({ name: started.name, status: 'COMPLETE', playable: true, metadata: { meetingId: 'm-1' } });
    expect(await outbox()).toEqual([]);
  });

  it('sends recording.ended only once the media is seen in S3, and then once', async () => {
    const roomName = uniqueRoom('late media');
    await joinRoom(stack, roomName);
    const { recording: started } = (await stack.http().post('/recordings/start').send({ roomName }).expect(200)).body as RecordingAnswer;
    await waitForRecording(stack, started.name, (r) => r.status === 'ACTIVE');
    // S3 does not show the media yet when egress reports it complete.
    stack.s3Proxy.inject((method, path) => method === 'HEAD' && path.endsWith(started.name), { kind: 'status', status: 404 });
    await stack.http().post('/recordings/stop').send({ roomName }).expect(200);
    await waitForRecording(stack, started.name, (r) => r.status === 'COMPLETE' && !r.playable);
    await stack.livekit.webhooks.idle();
    const ended = () => receiver.received.filter((r) => r.id === `${started.id}:ended`);
    expect(ended()).toEqual([]);

    await stack.services.reconciler.runPass({ full: false });
    await eventually(() => ended().length === 1, { what: 'recording.ended after the media was seen' });
    expect(ended()[0].recording).toMatchObject({ status: 'COMPLETE', playable: true });
    await stack.services.reconciler.runPass({ full: false });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(ended()).toHaveLength(1);
  });

  it('retries with the same event id until the URL answers 2xx', async () => {
    const roomName = uniqueRoom('flaky');
    receiver.failWhen((n) => n.type === 'recording.started' && n.recording.roomName === roomName, 503, 500, 429);
    const { recording } = await completeRecording(stack, roomName);
    const startedId = `${recording.id}:started`;
    await eventually(() => receiver.received.filter((r) => r.id === startedId && r.answered === 200).length === 1, {
      what: 'delivered after retries',
    });
    const attempts = receiver.received.filter((r) => r.id === startedId);
    expect(attempts.map((r) => r.answered)).toEqual([503, 500, 429, 200]);
    expect(new Set(attempts.map((r) => JSON.stringify(r.recording))).size).toBe(1);
    await eventually(async () => (await outbox()).length === 0, { what: 'outbox empty' });
  });

  it('gives up on an answer that says the request itself is wrong, and keeps it aside', async () => {
    const roomName = uniqueRoom('refused');
    receiver.failWhen((n) => n.type === 'recording.started' && n.recording.roomName === roomName, 400);
    const { recording } = await completeRecording(stack, roomName);
    await eventually(async () => (await keysUnder(stack, 'recordings/.outbox-failed/')).length === 1, { what: 'kept aside' });
    expect(receiver.received.filter((r) => r.id === `${recording.id}:started`).map((r) => r.answered)).toEqual([400]);
  });

  it("never makes LiveKit wait: webhooks are answered while the customer's URL hangs", async () => {
    receiver.hang(3000);
    try {
      const { recording } = await completeRecording(stack, uniqueRoom('slow customer'));
      await stack.livekit.webhooks.idle();
      // Every egress event was answered, while the customer still holds its notifications.
      const deliveries = stack.livekit.deliveries.filter((d) => d.event.egressInfo?.egressId === recording.id);
      expect(deliveries.map((d) => d.attempts.join())).toEqual(deliveries.map(() => '200'));
      expect(receiver.inFlight).toBeGreaterThan(0);
    } finally {
      receiver.hang(0);
    }
  });
});

describe('notifications across a restart', () => {
  it('delivers what was pending when the service stopped, once it runs again', async () => {
    const receiver = await NotificationReceiver.start(KEY);
    const s3 = await S3TestServer.start();
    const livekit = await LiveKitDouble.start();
    const port = await freePort();
    livekit.webhookUrls = [`http://127.0.0.1:${port}/livekit/webhook`];
    const env = {
      SERVER_PORT: String(port),
      ...peerEnv(livekit, s3),
      LOG_LEVEL: 'warn',
      RECONCILE_INTERVAL: '0',
      NOTIFY_URLS: receiver.url,
      NOTIFY_SIGNING_KEY: KEY,
      NOTIFY_RETRY_BASE: '3s',
    };
    let service: ServiceProcess | undefined;
    const post = (path: string, body: unknown) =>
      fetch(`http://127.0.0.1:${port}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...HOST_HEADERS },
        body: JSON.stringify(body),
      });
    try {
      service = runService(env);
      await waitReady(service, port);
      const roomName = 'restart-notified';
      receiver.failWhen((n) => n.type === 'recording.started', 503);
      await post('/token', { roomName, participantName: 'p' });
      livekit.addParticipant(roomName, { identity: 'p', tracks: ['video'] });
      const { recording } = (await (await post('/recordings/start', { roomName })).json()) as RecordingAnswer;
      await eventually(() => receiver.received.some((r) => r.id === `${recording.id}:started`), { what: 'first attempt' });
      // Refused once; its retry is 3 s away. The service goes down before then, so only the next one can send it.
      service.child.kill('SIGKILL');
      await service.exited();

      service = runService(env);
      await waitReady(service, port);
      await eventually(
        () =>
          receiver.received
            .filter((r) => r.id === `${recording.id}:started`)
            .map((r) => r.answered)
            .join() === '503,200',
        {
          timeoutMs: 15_000,
          what: 'delivered by the new process',
        },
      );
    } finally {
      service?.child.kill('SIGKILL');
      await livekit.close();
      await s3.close();
      await receiver.close();
    }
  }, 60_000);
});
