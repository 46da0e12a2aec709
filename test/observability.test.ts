import type { AddressInfo } from 'node:net';
import { EgressStatus } from '@livekit/protocol';
import request from 'supertest';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/services/platform/logger';
import { createServices } from '../src/services';
import { eventually } from './support/eventually';
import { NotificationReceiver } from './support/notification-receiver';
import { completeRecording, joinRoom, uniqueRoom, waitForRecording } from './support/recordings';
import { TEST_ADMIN_KEY } from './support/service-process';
import { startStack, type TestStack } from './support/stack';
import type { RecordingAnswer } from './support/answers';

const METRICS_TOKEN = 'metrics-token-for-prometheus-0123';
const KEY = 'observability-notification-key-0123456789';

/** One sample of the Prometheus text: `name{labels} value`, labels in any order. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)\{(.*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...match[2].matchAll(/(\w+)="([^"]*)"/g)].map(([, key, value]) => [key, value]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

describe('observability: request ids, logs and metrics', () => {
  let stack: TestStack;
  let receiver: NotificationReceiver;
  beforeAll(async () => {
    receiver = await NotificationReceiver.start(KEY);
    stack = await startStack({ env: { METRICS_TOKEN, NOTIFY_URLS: receiver.url, NOTIFY_SIGNING_KEY: KEY } });
  });
  afterAll(async () => {
    await stack.close();
    await receiver.close();
  });

  const scrape = async () => (await stack.anonymous().get('/metrics').set('Authorization', `Bearer ${METRICS_TOKEN}`).expect(200)).text;

  it("answers with the caller's X-Request-Id, or a fresh one when it has none or a strange one", async () => {
    const given = await stack.http().get('/healthz').set('X-Request-Id', 'gateway-7f3a.42').expect(200);
    expect(given.headers['x-request-id']).toBe('gateway-7f3a.42');
    const fresh = await stack.http().get('/healthz').expect(200);
    expect(fresh.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    for (const strange of ['has spaces in it', 'x'.repeat(200), 'line\u00e9break']) {
      const res = await stack.http().get('/healthz').set('X-Request-Id', strange).expect(200);
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
    const other = await stack.http().get('/healthz').expect(200);
    expect(other.headers['x-request-id']).not.toBe(fresh.headers['x-request-id']);
  });

  it('serves Prometheus metrics behind METRICS_TOKEN: requests, webhooks, outcomes, upstream calls, notifications, repairs', async () => {
    await stack.anonymous().get('/metrics').expect(401);
    await stack.anonymous().get('/metrics').set('Authorization', 'Bearer wrong-token').expect(401);
    const { recording } = await completeRecording(stack, uniqueRoom('measured'));
    await stack.http().get('/recordings/no-such.mp4/info').expect(404);
    await stack.services.reconciler.runPass({ full: false });
    await eventually(() => receiver.of('recording.ended').some((n) => n.recording.id === recording.id), { what: 'notified' });

    const text = await scrape();
    expect(text).toContain('# TYPE recording_manager_http_request_duration_seconds histogram');
    expect(
      sample(text, 'recording_manager_http_request_duration_seconds_count', { method: 'POST', route: '/recordings/start', status: '200' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'recording_manager_http_request_duration_seconds_count', {
        method: 'GET',
        route: '/recordings/:name/info',
        status: '404',
      }),
    ).toBeGreaterThanOrEqual(1);
    // Route patterns, never paths: a recording's name is no label.
    expect(text).not.toContain(recording.name);
    expect(sample(text, 'recording_manager_livekit_webhooks_total', { event: 'egress_ended', outcome: 'applied' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(sample(text, 'recording_manager_finished_total', { kind: 'recording', status: 'COMPLETE' })).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'recording_manager_upstream_request_duration_seconds_count', {
        service: 's3',
        operation: 'PutObjectCommand',
        outcome: 'ok',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'recording_manager_upstream_request_duration_seconds_count', {
        service: 'livekit',
        operation: 'startRoomCompositeEgress',
        outcome: 'ok',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'recording_manager_notification_deliveries_total', { outcome: 'delivered' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'recording_manager_active', { kind: 'recording' })).toBe(0);
    expect(text).toContain('recording_manager_process_cpu_seconds_total');
  });

  it('serves metrics in production only with METRICS_TOKEN set', async () => {
    const production = loadConfig({
      ...Object.fromEntries(Object.entries(process.env).filter(([key]) => key.startsWith('TEST_'))),
      NODE_ENV: 'production',
      LIVEKIT_URL: stack.config.livekit.url,
      LIVEKIT_API_KEY: 'APIdeploymentkey',
      LIVEKIT_API_SECRET: 'a-real-secret-of-the-deployment-of-32-or-more',
      ADMIN_API_KEY: 'k'.repeat(32),
      MEDIA_URL_SIGNING_KEY: 'm'.repeat(32),
      LOG_LEVEL: 'silent',
    });
    const services = createServices(production, createLogger('silent'));
    try {
      await request(createApp(services)).get('/metrics').expect(401);
      await request(createApp(services)).get('/healthz').expect(200);
    } finally {
      await services.close();
    }
  });

  it('counts failed LiveKit calls, running recordings and reconciler repairs', async () => {
    const roomName = uniqueRoom('gauged');
    await joinRoom(stack, roomName);
    stack.livekit.failNext('StartRoomCompositeEgress', { code: 'resource_exhausted', msg: 'no egress workers' });
    await stack.http().post('/recordings/start').send({ roomName }).expect(503);
    // A running recording whose webhooks were lost: the reconciler repairs it.
    stack.livekit.webhooks.drop((event) => event.egressInfo?.roomName === roomName);
    const { recording } = (await stack.http().post('/recordings/start').send({ roomName }).expect(200)).body as RecordingAnswer;
    await eventually(() => stack.livekit.getEgress(recording.id)?.status === EgressStatus.EGRESS_ACTIVE, { what: 'egress active' });
    await stack.services.reconciler.runPass({ full: false });
    stack.livekit.webhooks.clear();

    const text = await scrape();
    expect(
      sample(text, 'recording_manager_upstream_request_duration_seconds_count', {
        service: 'livekit',
        operation: 'startRoomCompositeEgress',
        outcome: 'error',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'recording_manager_active', { kind: 'recording' })).toBe(1);
    expect(sample(text, 'recording_manager_reconciler_repairs_total', { repair: 'repaired' })).toBeGreaterThanOrEqual(1);
    await stack.http().post('/recordings/stop').send({ roomName }).expect(200);
    await waitForRecording(stack, recording.name, (r) => r.status === 'COMPLETE');
  });

  it('writes the request id, the room and the egress id on every log line of a request', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger('debug', 'recording-manager', {
      write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
    });
    const services = createServices(stack.config, logger);
    const server = createApp(services).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const webhookTargets = stack.livekit.webhookUrls;
    stack.livekit.webhookUrls = [`${baseUrl}/livekit/webhook`];
    try {
      const roomName = uniqueRoom('logged');
      const host = { Authorization: `Bearer ${TEST_ADMIN_KEY}` };
      await request(baseUrl).post('/token').set(host).send({ roomName, participantName: 'ann' }).expect(200);
      const started = await request(baseUrl)
        .post('/recordings/start')
        .set(host)
        .set('X-Request-Id', 'start-call-1')
        .send({ roomName })
        .expect(200);
      const egressId = (started.body as RecordingAnswer).recording.id;
      await eventually(() => lines.some((line) => line.msg === 'egress event applied' && line.egressId === egressId), {
        what: 'a webhook applied',
      });

      const ofStart = lines.filter((line) => line.requestId === 'start-call-1');
      expect(ofStart.find((line) => line.msg === 'request')).toMatchObject({ route: '/recordings/start', status: 200, roomName });
      const webhookLines = lines.filter((line) => line.egressId === egressId && line.msg === 'egress event applied');
      for (const line of webhookLines) expect(line).toMatchObject({ roomName, requestId: expect.any(String) as unknown });
      const webhookRequest = lines.find(
        (line) => line.msg === 'request' && line.route === '/livekit/webhook' && line.requestId === webhookLines[0].requestId,
      );
      expect(webhookRequest).toMatchObject({ egressId, roomName, status: 200 });
      // Every line of the service carries a request id, background jobs included.
      await services.reconciler.runPass({ full: false });
      expect(lines.filter((line) => typeof line.requestId !== 'string')).toEqual([]);
    } finally {
      stack.livekit.webhookUrls = webhookTargets;
      await services.close();
      server.close();
    }
  });
});
