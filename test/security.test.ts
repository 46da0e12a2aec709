import { createHash } from 'node:crypto';
import { WebhookEvent } from '@livekit/protocol';
import { AccessToken } from 'livekit-server-sdk';
import request from 'supertest';
import { createApp } from '../src/app';
import { createLogger } from '../src/services/platform/logger';
import type { RecordingView } from '../src/services/recordings/recording.model';
import { createServices } from '../src/services';
import type { Admission } from '../src/services/rooms/admission.service';
import { appRoutes } from './support/routes';
import { TEST_ADMIN_KEY } from './support/service-process';
import { completeRecording, readObject, roomMetadata, sidecarsOf, uniqueRoom } from './support/recordings';
import { startStack, type TestStack } from './support/stack';
import type { ErrorAnswer } from './support/answers';

/**
 * Routes anyone may call without a credential: the client's bootstrap, the health probes, the API
 * description, and /metrics outside production without METRICS_TOKEN (test/observability.test.ts).
 */
const PUBLIC_ROUTES = new Set(['GET /config', 'GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /openapi.json', 'GET /docs']);

/** What GET /recordings/:name/url answers. */
interface MediaUrl {
  recordingUrl: string;
  expiresAt: number;
}

describe('security: each attack is refused and changes nothing', () => {
  let stack: TestStack;
  let roomName: string;
  let name: string;

  beforeAll(async () => {
    stack = await startStack();
    ({ roomName, name } = await completeRecording(stack, uniqueRoom('guarded')));
  });
  afterAll(async () => {
    await stack.close();
  });

  /** A room token as POST /token hands it out, admitted by the host application. */
  async function tokenFor(room: string, role: 'moderator' | 'participant', participantName = 'someone') {
    return ((await stack.http().post('/token').send({ roomName: room, participantName, role }).expect(200)).body as Admission).token;
  }
  const as = (token: string) => ({
    get: (path: string) => stack.anonymous().get(path).set('Authorization', `Bearer ${token}`),
    post: (path: string) => stack.anonymous().post(path).set('Authorization', `Bearer ${token}`),
    delete: (path: string) => stack.anonymous().delete(path).set('Authorization', `Bearer ${token}`),
  });
  const path = () => `/recordings/${encodeURIComponent(name)}`;

  /** What an attack must not change: the media, the sidecars, the room's metadata, the egresses. */
  async function state() {
    const sidecars = await sidecarsOf(stack, ((await stack.http().get(`${path()}/info`)).body as RecordingView).id);
    return {
      media: createHash('sha256')
        .update((await readObject(stack, `recordings/${name}`)) ?? '')
        .digest('hex'),
      sidecars: await Promise.all(sidecars.map(async (key) => (await readObject(stack, key))?.toString('utf8'))),
      metadata: await roomMetadata(stack, roomName),
      egresses: stack.livekit.listEgresses().length,
    };
  }
  async function expectUnchanged(attack: () => Promise<unknown>) {
    const before = await state();
    await attack();
    expect(await state()).toEqual(before);
  }

  it("answers 401 without credentials on every route that is not public, by the app's own route table", async () => {
    const routes = appRoutes(createApp(stack.services));
    expect(routes).toEqual(expect.arrayContaining(['POST /recordings/start', 'DELETE /recordings/:name', 'PUT /rooms/:roomName']));
    for (const route of routes.filter((r) => !PUBLIC_ROUTES.has(r))) {
      const [method, template] = route.split(' ');
      const url = template.replace(':name', encodeURIComponent(name)).replace(':roomName', encodeURIComponent(roomName));
      const call = stack.anonymous()[method.toLowerCase() as 'post'](url);
      const res = method === 'GET' || method === 'HEAD' ? await call : await call.send({ roomName, participantName: 'x' });
      expect(`${route} ${res.status}`).toBe(`${route} 401`);
    }
  });

  it('takes no LiveKit token it did not issue, even one signed with the right secret', async () => {
    // What another application on the same LiveKit, or an admin tool, would hold.
    const foreign = new AccessToken(stack.livekit.apiKey, stack.livekit.apiSecret, {
      identity: 'other-app',
      attributes: { role: 'moderator' },
    });
    foreign.addGrant({ room: roomName, roomJoin: true, roomAdmin: true });
    await expectUnchanged(async () => {
      await as(await foreign.toJwt())
        .delete(path())
        .expect(401);
      await as(await foreign.toJwt())
        .get('/recordings')
        .expect(401);
    });
  });

  it('refuses a missing, forged or expired token with 401', async () => {
    const forged = new AccessToken(stack.livekit.apiKey, 'not-the-secret', { identity: 'mallory' });
    forged.addGrant({ room: roomName, roomJoin: true });
    const expired = new AccessToken(stack.livekit.apiKey, stack.livekit.apiSecret, { identity: 'mallory', ttl: -60 });
    expired.addGrant({ room: roomName, roomJoin: true });
    await expectUnchanged(async () => {
      await stack.anonymous().delete(path()).expect(401);
      const refused = await as(await forged.toJwt())
        .delete(path())
        .expect(401);
      expect((refused.body as ErrorAnswer).code).toBe('unauthenticated');
      await as(await expired.toJwt())
        .delete(path())
        .expect(401);
      await as('not-a-token-at-all').post('/recordings/start').send({ roomName }).expect(401);
    });
  });

  it('refuses a token for another room with 403, whatever its role', async () => {
    const elsewhere = await tokenFor(uniqueRoom('elsewhere'), 'moderator');
    await expectUnchanged(async () => {
      expect(((await as(elsewhere).get(`${path()}/info`).expect(403)).body as ErrorAnswer).code).toBe('forbidden');
      await as(elsewhere).get(`${path()}/url`).expect(403);
      await as(elsewhere).get(path()).expect(403);
      await as(elsewhere).delete(path()).expect(403);
      await as(elsewhere).post('/recordings/start').send({ roomName }).expect(403);
      await as(elsewhere).get('/recordings').query({ roomName }).expect(403);
    });
  });

  it('lets an ordinary participant list and play, but not delete, start or stop', async () => {
    const participant = await tokenFor(roomName, 'participant');
    await expectUnchanged(async () => {
      await as(participant).delete(path()).expect(403);
      await as(participant).post('/recordings/start').send({ roomName }).expect(403);
      await as(participant).post('/recordings/stop').send({ roomName }).expect(403);
    });
    // Its own room is listed even without a filter; the recording plays.
    const { recordings } = (await as(participant).get('/recordings').expect(200)).body as { recordings: RecordingView[] };
    const listed = recordings.map((r) => r.name);
    expect(listed).toEqual([name]);
    expect(((await as(participant).get(`${path()}/url`).expect(200)).body as MediaUrl).recordingUrl).toBeTruthy();
  });

  it('lets a moderator of the room record and delete', async () => {
    const { roomName: room, name: doomed } = await completeRecording(stack, uniqueRoom('moderated'));
    const moderator = await tokenFor(room, 'moderator');
    await as(moderator)
      .delete(`/recordings/${encodeURIComponent(doomed)}`)
      .expect(200);
    expect(await readObject(stack, `recordings/${doomed}`)).toBeUndefined();
    await as(moderator).post('/recordings/start').send({ roomName: room }).expect(200);
    await as(moderator).post('/recordings/stop').send({ roomName: room }).expect(200);
  });

  it('serves media to a signed URL until it expires, and never to a tampered one', async () => {
    const proxied = await startStack({ env: { RECORDING_PLAYBACK_STRATEGY: 'PROXY', RECORDING_URL_TTL: '2s' } });
    try {
      const { name: media } = await completeRecording(proxied, uniqueRoom('signed'));
      const { recordingUrl, expiresAt } = (
        await proxied
          .http()
          .get(`/recordings/${encodeURIComponent(media)}/url`)
          .expect(200)
      ).body as MediaUrl;
      expect(expiresAt - Date.now()).toBeLessThanOrEqual(2000);
      await proxied.anonymous().get(recordingUrl).expect(200);
      const url = new URL(recordingUrl, proxied.baseUrl);
      const signature = url.searchParams.get('signature')!;
      const tampered = (params: Record<string, string>) => {
        const copy = new URL(url);
        for (const [key, value] of Object.entries(params)) copy.searchParams.set(key, value);
        return copy.pathname + copy.search;
      };
      await proxied
        .anonymous()
        .get(tampered({ signature: `${signature.slice(0, -2)}AA` }))
        .expect(401);
      await proxied
        .anonymous()
        .get(tampered({ expires: String(Number(url.searchParams.get('expires')) + 3600) }))
        .expect(401);
      // Another recording's name with this signature.
      await proxied
        .anonymous()
        .get(`/recordings/${encodeURIComponent(name)}${url.search}`)
        .expect(401);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 1100));
      expect(((await proxied.anonymous().get(recordingUrl).expect(401)).body as ErrorAnswer).code).toBe('invalid_media_url');
    } finally {
      await proxied.close();
    }
  });

  it('refuses a 10 MB body with 413 before reading it all', async () => {
    const huge = JSON.stringify({ roomName, padding: 'x'.repeat(10 * 1024 * 1024) });
    await expectUnchanged(async () => {
      expect((await stack.http().post('/recordings/start').set('Content-Type', 'application/json').send(huge)).status).toBe(413);
      expect((await stack.anonymous().post('/token').set('Content-Type', 'application/json').send(huge)).status).toBe(413);
      const webhook = await stack.anonymous().post('/livekit/webhook').set('Content-Type', 'application/webhook+json').send(huge);
      expect(webhook.status).toBe(413);
    });
  });

  it('refuses forged and stale webhooks', async () => {
    const info = stack.livekit
      .listEgresses()
      .find((e) => e.roomName === roomName)!
      .clone();
    info.status = 4; // EGRESS_FAILED: would mark the recording failed if accepted
    const body = JSON.stringify(
      new WebhookEvent({
        event: 'egress_ended',
        id: 'EV_attack',
        egressInfo: info,
        createdAt: BigInt(Math.floor(Date.now() / 1000)),
      }).toJson(),
    );
    const post = (authorization: string) =>
      stack
        .anonymous()
        .post('/livekit/webhook')
        .set('Content-Type', 'application/webhook+json')
        .set('Authorization', authorization)
        .send(body);
    await expectUnchanged(async () => {
      await post(await stack.livekit.signWebhook(body, { apiSecret: 'guessed-secret' })).expect(401);
      // Genuinely signed, but its token expired a minute ago: a replay of an old delivery.
      await post(await stack.livekit.signWebhook(body, { validForSeconds: -60 })).expect(401);
    });
  });

  it('answers a preflight from a foreign origin without allowing it, and one from a listed origin with it', async () => {
    const preflight = (app: Parameters<typeof request>[0], origin: string) =>
      request(app)
        .options('/recordings/start')
        .set('Origin', origin)
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'authorization,content-type');
    const foreign = await preflight(stack.baseUrl, 'https://evil.example');
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();

    const config = { ...stack.config, security: { ...stack.config.security, corsOrigins: ['https://app.example'] } };
    const app = createApp({ ...stack.services, config });
    const listed = await preflight(app, 'https://app.example');
    expect(listed.headers['access-control-allow-origin']).toBe('https://app.example');
    expect((await preflight(app, 'https://evil.example')).headers['access-control-allow-origin']).toBeUndefined();
  });

  it('gives namesakes distinct identities, so a second "Alice" does not replace the first', async () => {
    const room = uniqueRoom('namesakes');
    const first = (await stack.http().post('/token').send({ roomName: room, participantName: 'Alice' }).expect(200)).body as Admission;
    const second = (await stack.http().post('/token').send({ roomName: room, participantName: 'Alice' }).expect(200)).body as Admission;
    expect(first.identity).not.toBe(second.identity);
    expect([first.participantName, second.participantName]).toEqual(['Alice', 'Alice']);
  });

  it('keeps rate limits out of normal use: twenty starts for one room answer 409, not 429', async () => {
    const room = uniqueRoom('busy');
    const moderator = await tokenFor(room, 'moderator');
    const answers = [];
    for (let i = 0; i < 20; i++) answers.push((await as(moderator).post('/recordings/start').send({ roomName: room })).status);
    expect(answers).toEqual([200, ...Array<number>(19).fill(409)]);
    await as(moderator).post('/recordings/stop').send({ roomName: room }).expect(200);
  });

  it('answers 429 once a client goes past the limits, and only the limited routes', async () => {
    const config = { ...stack.config, security: { ...stack.config.security, rateLimits: { tokenPerMinute: 3, mutationsPerMinute: 2 } } };
    const app = createApp({ ...stack.services, config });
    const room = uniqueRoom('flood');
    const tokens = [];
    for (let i = 0; i < 4; i++) tokens.push((await request(app).post('/token').send({ roomName: room, participantName: 'f' })).status);
    expect(tokens).toEqual([401, 401, 401, 429]);
    const starts = [];
    for (let i = 0; i < 3; i++)
      starts.push(
        (await request(app).post('/recordings/start').set('Authorization', `Bearer ${TEST_ADMIN_KEY}`).send({ roomName: room })).status,
      );
    expect(starts[2]).toBe(429);
    expect((await request(app).get('/recordings').set('Authorization', `Bearer ${TEST_ADMIN_KEY}`)).status).toBe(200);
  });

  it('sends the security headers and a content security policy', async () => {
    const res = await stack.anonymous().get('/').expect(200);
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['content-security-policy']).toContain(`connect-src 'self' ${stack.config.livekit.publicUrl.replace(/\/$/, '')}`);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
  });

  it('never writes a token, key, signature or passcode to its logs, even at trace level and on failures', async () => {
    const lines: string[] = [];
    const config = {
      ...stack.config,
      logLevel: 'trace' as const,
      recordings: { ...stack.config.recordings, playbackStrategy: 'PROXY' as const },
    };
    const services = createServices(
      config,
      createLogger('trace', 'recording-manager', { write: (line: string) => void lines.push(line) }),
      { resolveHost: stack.resolveHost },
    );
    const app = createApp(services);
    try {
      const admitted = (
        await request(app)
          .post('/token')
          .set('Authorization', `Bearer ${TEST_ADMIN_KEY}`)
          .send({ roomName, participantName: 'logged', role: 'moderator' })
          .expect(200)
      ).body as Admission;
      const { joinToken } = (
        await request(app).post('/join-tokens').set('Authorization', `Bearer ${TEST_ADMIN_KEY}`).send({ roomName }).expect(200)
      ).body as { joinToken: string };
      await request(app).post('/token').send({ joinToken, participantName: 'invited' }).expect(200);
      await request(app).post('/token').send({ roomName, participantName: 'guessing', passcode: 'not-the-passcode' }).expect(401);
      const { recordingUrl } = (await request(app).get(`${path()}/url`).set('Authorization', `Bearer ${admitted.token}`).expect(200))
        .body as MediaUrl;
      // S3 fails while the signed URL is served: the error is logged, the URL's signature is not.
      for (let i = 0; i < 3; i++)
        stack.s3Proxy.inject((method, p) => method === 'GET' && p.endsWith('.mp4'), { kind: 'status', status: 503 });
      expect((await request(app).get(recordingUrl)).status).toBeGreaterThanOrEqual(500);
      const event = JSON.stringify(
        new WebhookEvent({ event: 'egress_updated', id: 'EV_logged', egressInfo: stack.livekit.listEgresses()[0] }).toJson(),
      );
      const signature = await stack.livekit.signWebhook(event);
      await request(app)
        .post('/livekit/webhook')
        .set('Content-Type', 'application/webhook+json')
        .set('Authorization', signature)
        .send(event);

      // A live stream: its key reaches LiveKit only, even when LiveKit quotes it back in an error.
      const streamKey = 'sk_logged-stream-key-0123456789';
      const host = { Authorization: `Bearer ${TEST_ADMIN_KEY}` };
      await request(app)
        .post('/streams/start')
        .set(host)
        .send({ roomName, urls: [`rtmp://a.rtmp.youtube.com/live2/${streamKey}`] })
        .expect(200);
      await request(app)
        .post('/streams/update')
        .set(host)
        .send({ roomName, removeUrls: [`rtmp://a.rtmp.youtube.com/live2/${streamKey}-x`] })
        .expect(404);
      stack.livekit.failNext('UpdateStream', { code: 'internal', msg: `could not reach rtmp://a.rtmp.youtube.com/live2/${streamKey}` });
      expect(
        (
          await request(app)
            .post('/streams/update')
            .set(host)
            .send({ roomName, addUrls: [`rtmp://b.example.com/app/${streamKey}`] })
        ).status,
      ).toBe(502);
      await request(app).post('/streams/stop').set(host).send({ roomName }).expect(200);

      const logged = lines.join('');
      expect(lines.length).toBeGreaterThan(0);
      const secrets = [
        TEST_ADMIN_KEY,
        admitted.token,
        joinToken,
        'not-the-passcode',
        new URL(recordingUrl, 'http://x').searchParams.get('signature')!,
        signature,
        stack.livekit.apiSecret,
        stack.config.s3.secretKey!, // the test stack sets S3 credentials
        stack.config.security.mediaUrlKey,
        streamKey,
      ];
      for (const secret of secrets) expect(logged.includes(secret) ? secret : 'absent').toBe('absent');
    } finally {
      await services.close();
    }
  });
});
