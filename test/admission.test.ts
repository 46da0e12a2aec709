import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SignJWT, decodeJwt } from 'jose';
import type { Recording } from '../src/services/recordings/recording.model';
import type { Admission, RoomAccessView } from '../src/services/rooms/admission.service';
import { mapConcurrent } from '../src/services/platform/concurrency';
import { eventually } from './support/eventually';
import { completeRecording, FIXTURE_MP4, putObject, readObject, uniqueRoom } from './support/recordings';
import { LiveKitDouble } from './support/livekit-double';
import { S3TestServer } from './support/s3-server';
import { freePort, peerEnv, runService, type ServiceProcess, TEST_ADMIN_KEY, waitReady } from './support/service-process';
import { startStack, type TestStack } from './support/stack';
import type { ErrorAnswer, RecordingPage } from './support/answers';

/** What POST /join-tokens answers. */
interface JoinLink {
  joinToken: string;
  expiresAt: number;
  joinUrl: string;
}

/** A finished recording's sidecar, as the service saves it. */
const finishedRecording = (roomName: string, roomId: string, i: number, startedAt: number): Recording => ({
  id: `EG_${roomId.slice(3, 9)}${String(i).padStart(6, '0')}`,
  name: `${roomName}-${roomId}-${i}.mp4`,
  roomName,
  roomId,
  status: 'COMPLETE',
  startedAt,
  endedAt: startedAt + 500,
  duration: 0.5,
  size: 100,
  mediaKey: `recordings/${roomName}-${roomId}-${i}.mp4`,
  mediaVerified: true,
  updatedAt: 1,
});

const roleOf = (token: string) => (decodeJwt(token) as { attributes?: Record<string, string> }).attributes?.['recording-manager.role'];

describe('who may join: admission by the host application, join tokens and passcodes', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  it("admits nobody without the host application's word or a passcode, and creates nothing for them", async () => {
    const roomName = uniqueRoom('closed');
    const res = await stack.anonymous().post('/token').send({ roomName, participantName: 'p' }).expect(401);
    expect((res.body as ErrorAnswer).code).toBe('admission_required');
    await stack.anonymous().post('/token').set('Authorization', 'Bearer not-the-key').send({ roomName, participantName: 'p' }).expect(401);
    expect(stack.livekit.getRoom(roomName)).toBeUndefined();
  });

  it("admits with the host application's key, as the role it says", async () => {
    const roomName = uniqueRoom('hosted');
    const res = await stack.http().post('/token').send({ roomName, participantName: 'Host', role: 'moderator' }).expect(200);
    expect(res.body).toMatchObject({ roomName, role: 'moderator', permissions: ['record', 'list', 'play', 'delete', 'stream'] });
    expect(roleOf((res.body as Admission).token)).toBe('moderator');
  });

  it('admits with a join token the host application minted, to its room only, until it expires', async () => {
    const roomName = uniqueRoom('invited');
    const { joinToken, joinUrl } = (await stack.http().post('/join-tokens').send({ roomName, role: 'participant' }).expect(200))
      .body as JoinLink;
    expect(joinUrl).toBe(`/#join=${encodeURIComponent(joinToken)}`);
    const admitted = await stack.anonymous().post('/token').send({ joinToken, participantName: 'Guest' }).expect(200);
    expect(admitted.body).toMatchObject({ roomName, role: 'participant', participantName: 'Guest' });
    const elsewhere = await stack
      .anonymous()
      .post('/token')
      .send({ joinToken, roomName: uniqueRoom('other'), participantName: 'g' })
      .expect(403);
    expect((elsewhere.body as ErrorAnswer).code).toBe('forbidden');

    // One the host application signed itself, with any JWT library: the same claims and key.
    const key = new TextEncoder().encode(TEST_ADMIN_KEY);
    const own = await new SignJWT({ room: roomName, name: 'Named', role: 'moderator' })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience('recording-manager:join')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(key);
    expect((await stack.anonymous().post('/token').send({ joinToken: own }).expect(200)).body).toMatchObject({
      participantName: 'Named',
      role: 'moderator',
    });

    const expired = await new SignJWT({ room: roomName })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience('recording-manager:join')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 120)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(key);
    const forged = await new SignJWT({ room: roomName })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience('recording-manager:join')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode('a-guessed-key-of-enough-length'));
    const forever = await new SignJWT({ room: roomName })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience('recording-manager:join')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 3 * 86_400)
      .setExpirationTime('10y')
      .sign(key);
    for (const bad of [expired, forged, forever]) {
      expect(
        ((await stack.anonymous().post('/token').send({ joinToken: bad, participantName: 'x' }).expect(401)).body as ErrorAnswer).code,
      ).toBe('invalid_join_token');
    }
  });

  it("admits with the room's passcodes: participant or moderator; refuses a wrong one; keeps only their hashes", async () => {
    const roomName = uniqueRoom('passcoded');
    const settings = await stack
      .http()
      .put(`/rooms/${encodeURIComponent(roomName)}`)
      .send({ passcode: 'open-sesame', moderatorPasscode: 'chair-person', owner: 'team-42' })
      .expect(200);
    expect(settings.body).toEqual({ roomName, owner: 'team-42', hasPasscode: true, hasModeratorPasscode: true, shortPasscodes: [] });
    const join = (passcode: string) => stack.anonymous().post('/token').send({ roomName, participantName: 'p', passcode });
    expect(((await join('open-sesame').expect(200)).body as Admission).role).toBe('participant');
    expect(((await join('chair-person').expect(200)).body as Admission).role).toBe('moderator');
    expect(((await join('open-sesamE').expect(401)).body as ErrorAnswer).code).toBe('invalid_passcode');
    const stored = (await readObject(stack, `recordings/.rooms/${encodeURIComponent(roomName)}.json`))!.toString('utf8');
    expect(stored).not.toContain('open-sesame');
    expect(stored).not.toContain('chair-person');

    // A person in the room is not the host application: room settings stay out of reach.
    const moderator = ((await join('chair-person')).body as Admission).token;
    await stack
      .anonymous()
      .put(`/rooms/${encodeURIComponent(roomName)}`)
      .set('Authorization', `Bearer ${moderator}`)
      .send({ passcode: null })
      .expect(403);
    await stack.anonymous().post('/join-tokens').set('Authorization', `Bearer ${moderator}`).send({ roomName }).expect(403);
    const described = await stack
      .http()
      .get(`/rooms/${encodeURIComponent(roomName)}`)
      .expect(200);
    expect((described.body as RoomAccessView).hasPasscode).toBe(true);

    // Equal passcodes would make every participant a moderator: refused, in one request or two.
    const put = (body: Record<string, string>) =>
      stack
        .http()
        .put(`/rooms/${encodeURIComponent(roomName)}`)
        .send(body);
    await put({ passcode: 'same-code', moderatorPasscode: 'same-code' }).expect(400);
    await put({ passcode: 'chair-person' }).expect(400);
    await put({ moderatorPasscode: 'open-sesame' }).expect(400);
    expect(((await join('open-sesame').expect(200)).body as Admission).role).toBe('participant');
  });
});

describe('open admission (OPEN_ADMISSION=true)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ env: { OPEN_ADMISSION: 'true' } });
    await stack.services.reconciler.runPass(); // the start-up repair, which claims wait for
  });
  afterAll(async () => {
    await stack.close();
  });

  it('makes the first person into a room its owner, and a later session of the room does not hand others its recordings to delete', async () => {
    const roomName = uniqueRoom('open');
    const join = (body: Record<string, string> = {}) =>
      stack
        .anonymous()
        .post('/token')
        .send({ roomName, participantName: 'p', ...body });
    const owner = (await join().expect(200)).body as Admission;
    expect(owner.role).toBe('moderator');
    expect(owner.moderatorPasscode).toMatch(/^[a-z2-9]{12}$/);
    const second = (await join().expect(200)).body as Admission;
    expect(second).toMatchObject({ role: 'participant' });
    expect(second.moderatorPasscode).toBeUndefined();

    const { name } = await completeRecording(stack, roomName);
    await stack.livekit.closeRoom(roomName);
    // Someone else opens the room again later: a participant, whatever the room's metadata says.
    const newcomer = (await join().expect(200)).body as Admission;
    expect(newcomer.role).toBe('participant');
    await stack
      .anonymous()
      .delete(`/recordings/${encodeURIComponent(name)}`)
      .set('Authorization', `Bearer ${newcomer.token}`)
      .expect(403);
    // The owner comes back as moderator with the passcode they were given.
    const back = (await join({ passcode: owner.moderatorPasscode! }).expect(200)).body as Admission;
    expect(back.role).toBe('moderator');
    await stack
      .anonymous()
      .delete(`/recordings/${encodeURIComponent(name)}`)
      .set('Authorization', `Bearer ${back.token}`)
      .expect(200);
  });

  it('never lets a stranger claim a room the host application admits people to, or one recorded before', async () => {
    const hosted = uniqueRoom('hosted-open');
    await stack.http().post('/token').send({ roomName: hosted, participantName: 'staff', role: 'moderator' }).expect(200);
    const stranger = (await stack.anonymous().post('/token').send({ roomName: hosted, participantName: 'stranger' }).expect(200))
      .body as Admission;
    expect(stranger.role).toBe('participant');
    expect(stranger.moderatorPasscode).toBeUndefined();
    const hostedAccess = await stack
      .http()
      .get(`/rooms/${encodeURIComponent(hosted)}`)
      .expect(200);
    expect((hostedAccess.body as RoomAccessView).owner).toBe('host application');

    // A room name with recordings from before rooms had owners (a room record without access).
    const recorded = uniqueRoom('recorded-before');
    await stack.services.roomRecords.put({
      roomName: recorded,
      currentRecording: { id: 'EG_old', name: 'old.mp4', startedAt: 1 },
      updatedAt: 1,
    });
    const latecomer = (await stack.anonymous().post('/token').send({ roomName: recorded, participantName: 'stranger' }).expect(200))
      .body as Admission;
    expect(latecomer.role).toBe('participant');
  });

  /** Requests with a room token, as the browser client sends them. */
  const as = (token: string) => ({
    get: (path: string) => stack.anonymous().get(path).set('Authorization', `Bearer ${token}`),
    delete: (path: string) => stack.anonymous().delete(path).set('Authorization', `Bearer ${token}`),
  });
  const listedFor = async (token: string) =>
    ((await as(token).get('/recordings').expect(200)).body as RecordingPage).recordings.map((r) => r.name);
  const recordingPath = (name: string) => `/recordings/${encodeURIComponent(name)}`;

  it('shows a walk-in only the recordings of the session they joined and of later ones, never those of earlier sessions', async () => {
    const roomName = uniqueRoom('sessions');
    // An earlier session of the name, recorded by people the host application admitted.
    const { name: earlier } = await completeRecording(stack, roomName);
    await stack.livekit.closeRoom(roomName);
    // A walk-in opens the name again: a new session (a new room sid in LiveKit).
    const walkIn = (await stack.anonymous().post('/token').send({ roomName, participantName: 'walk-in' }).expect(200)).body as Admission;
    expect(walkIn.role).toBe('participant');
    const { name: current } = await completeRecording(stack, roomName);
    // LiveKit recreates the room (after a reconnect, say): a later session, while the token lasts.
    await stack.livekit.closeRoom(roomName);
    const { name: later } = await completeRecording(stack, roomName);

    expect(await listedFor(walkIn.token)).toEqual([later, current]);
    for (const path of ['/info', '/url', '', '/download', '/url?download=true', '/thumbnail']) {
      expect(`${path} ${(await as(walkIn.token).get(`${recordingPath(earlier)}${path}`)).status}`).toBe(`${path} 403`);
    }
    await as(walkIn.token)
      .get(`${recordingPath(current)}/info`)
      .expect(200);
    await as(walkIn.token)
      .get(`${recordingPath(later)}/url`)
      .expect(200);
    await as(walkIn.token).get(recordingPath(current)).expect(200);

    // Earlier sessions are for those the host vouched for, by join link or passcode.
    const { joinToken } = (await stack.http().post('/join-tokens').send({ roomName }).expect(200)).body as JoinLink;
    const invited = (await stack.anonymous().post('/token').send({ joinToken, participantName: 'invited' }).expect(200)).body as Admission;
    expect(await listedFor(invited.token)).toEqual([later, current, earlier]);
    await stack
      .http()
      .put(`/rooms/${encodeURIComponent(roomName)}`)
      .send({ passcode: 'members-only' })
      .expect(200);
    const member = (await stack.anonymous().post('/token').send({ roomName, participantName: 'm', passcode: 'members-only' }).expect(200))
      .body as Admission;
    expect(await listedFor(member.token)).toEqual([later, current, earlier]);
    await as(member.token)
      .get(`${recordingPath(earlier)}/url`)
      .expect(200);
  });

  it('pages a walk-in through exactly the recordings of their session, at one LIST and a GET per recording a page', async () => {
    const roomName = uniqueRoom('paged');
    const walkIn = (await stack.anonymous().post('/token').send({ roomName, participantName: 'walk-in' }).expect(200)).body as Admission;
    const sid = stack.livekit.getRoom(roomName)!.sid;
    const base = Date.now();
    const recording = (i: number, roomId: string, startedAt: number) => finishedRecording(roomName, roomId, i, startedAt);
    // Many recordings of earlier sessions, newest just before this one began; a few of this one.
    const earlier = Array.from({ length: 60 }, (_, i) => recording(i, 'RM_earlier', base - 60_000 - i * 1000));
    const own = Array.from({ length: 25 }, (_, i) => recording(100 + i, sid, base + 1000 + i * 1000));
    await mapConcurrent([...earlier, ...own], 16, (r) => stack.services.store.save(r, undefined));

    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    await stack.livekit.webhooks.idle();
    do {
      const before = stack.s3Proxy.requests.length;
      const page = (
        await as(walkIn.token)
          .get(`/recordings?limit=10${cursor ? `&cursor=${cursor}` : ''}`)
          .expect(200)
      ).body as RecordingPage;
      const reads = stack.s3Proxy.requests.slice(before).filter((r) => r.method === 'GET');
      expect(reads.filter((r) => /^\/[^/]+\/?$/.test(r.path))).toHaveLength(1); // the LIST
      expect(reads.filter((r) => r.path.includes('/.metadata/')).length).toBeLessThanOrEqual(10);
      seen.push(...page.recordings.map((r) => r.name));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    expect(seen).toEqual(own.map((r) => r.name).reverse());
    expect(pages).toBe(3);
  });

  it("bounds a moderator admitted openly the same way, also back with their claim's moderator passcode: a recording of an earlier session found later is not theirs to see or delete", async () => {
    const roomName = uniqueRoom('claimed-bound');
    const owner = (await stack.anonymous().post('/token').send({ roomName, participantName: 'owner' }).expect(200)).body as Admission;
    expect(owner.role).toBe('moderator');
    // Media of an earlier session of the name (its egress started in 2020), found by a later reconcile pass.
    const orphan = `${roomName}-RM_earlier0001-20200101120000000.mp4`;
    await putObject(stack, `recordings/${orphan}`, FIXTURE_MP4, 'video/mp4');
    await stack.services.reconciler.runPass();
    await stack
      .http()
      .get(`${recordingPath(orphan)}/info`)
      .expect(200);

    expect(await listedFor(owner.token)).toEqual([]);
    await as(owner.token)
      .get(`${recordingPath(orphan)}/info`)
      .expect(403);
    await as(owner.token).delete(recordingPath(orphan)).expect(403);
    // Back with the moderator passcode their claim gave them (as the page renews its token), still
    // bound to the session they claimed: nobody vouched for them.
    const backWith = async (passcode: string) =>
      (await stack.anonymous().post('/token').send({ roomName, participantName: 'owner', passcode }).expect(200)).body as Admission;
    const back = await backWith(owner.moderatorPasscode!);
    expect(back.role).toBe('moderator');
    expect(await listedFor(back.token)).toEqual([]);
    await as(back.token)
      .get(`${recordingPath(orphan)}/info`)
      .expect(403);
    await as(back.token).delete(recordingPath(orphan)).expect(403);
    // A moderator passcode the host application set is its word: every session of the name.
    await stack
      .http()
      .put(`/rooms/${encodeURIComponent(roomName)}`)
      .send({ moderatorPasscode: 'the-hosts-choice' })
      .expect(200);
    expect(await listedFor((await backWith('the-hosts-choice')).token)).toEqual([orphan]);
  });

  it('claims only a name with no recordings, no sidecars and no live room another application made', async () => {
    const firstInto = async (roomName: string) =>
      (await stack.anonymous().post('/token').send({ roomName, participantName: 'first' }).expect(200)).body as Admission;
    // Recordings listed under the name, though no room record says so (an earlier version wrote them).
    const recorded = uniqueRoom('indexed');
    await stack.services.store.save(finishedRecording(recorded, 'RM_indexed0001', 1, Date.now() - 3_600_000), undefined);
    // A sidecar the reference service wrote (it may still run beside this one), not yet indexed.
    const referenced = uniqueRoom('reference');
    await putObject(
      stack,
      `recordings/.metadata/${referenced}-RM_ref0001-2024-09-23T100000.json`,
      JSON.stringify({
        id: 'EG_ref0001',
        name: `${referenced}-RM_ref0001-2024-09-23T100000.mp4`,
        roomName: referenced,
        roomId: 'RM_ref0001',
        startedAt: 1_727_085_615_000,
        duration: 3,
        size: 0,
      }),
    );
    // A live room another application made on the same LiveKit.
    const foreign = uniqueRoom('foreign');
    stack.livekit.createRoom(foreign, JSON.stringify({ createdBy: 'another-app' }));
    // Media without a sidecar, adopted by a reconcile pass: the name gets its room record.
    const adopted = uniqueRoom('adopted');
    await putObject(stack, `recordings/${adopted}-RM_adopt0001-20200101120000000.mp4`, FIXTURE_MP4, 'video/mp4');
    await stack.services.reconciler.runPass();

    for (const roomName of [recorded, referenced, foreign, adopted]) {
      const first = await firstInto(roomName);
      expect({ roomName, role: first.role, moderatorPasscode: first.moderatorPasscode }).toEqual({
        roomName,
        role: 'participant',
        moderatorPasscode: undefined,
      });
      const access = await stack
        .http()
        .get(`/rooms/${encodeURIComponent(roomName)}`)
        .expect(200);
      expect((access.body as RoomAccessView).owner).toBeNull();
    }
    expect(JSON.parse(stack.livekit.getRoom(foreign)!.metadata)).toEqual({ createdBy: 'another-app' });
    expect(await readObject(stack, `recordings/.rooms/${encodeURIComponent(adopted)}.json`)).toBeDefined();
    // Indexing the reference's sidecar writes its name's room record too.
    const unclaimed = uniqueRoom('reference-unclaimed');
    await putObject(
      stack,
      `recordings/.metadata/${unclaimed}-RM_ref0002-2024-09-23T110000.json`,
      JSON.stringify({
        id: 'EG_ref0002',
        name: `${unclaimed}-RM_ref0002-2024-09-23T110000.mp4`,
        roomName: unclaimed,
        roomId: 'RM_ref0002',
        startedAt: 1_727_089_215_000,
        duration: 3,
        size: 0,
      }),
    );
    await stack.services.reconciler.runPass();
    expect(await readObject(stack, `recordings/.rooms/${encodeURIComponent(unclaimed)}.json`)).toBeDefined();
    // A name none of that holds is claimed by the first person into it.
    expect((await firstInto(uniqueRoom('fresh'))).role).toBe('moderator');
  });

  it('keeps a record of a name it refused to claim for its recordings, so later walk-ins cost no LIST', async () => {
    const roomName = uniqueRoom('recorded-unclaimed');
    await stack.services.store.save(finishedRecording(roomName, 'RM_unclaimed01', 1, Date.now() - 3_600_000), undefined);
    const lists = async (walkIn: () => Promise<unknown>) => {
      const before = stack.s3Proxy.requests.length;
      await walkIn();
      return stack.s3Proxy.requests.slice(before).filter((r) => r.method === 'GET' && /^\/[^/]+\/?$/.test(r.path)).length;
    };
    const walkIn = async () =>
      expect(
        ((await stack.anonymous().post('/token').send({ roomName, participantName: 'walk-in' }).expect(200)).body as Admission).role,
      ).toBe('participant');
    expect(await lists(walkIn)).toBeGreaterThan(0);
    expect(await lists(walkIn)).toBe(0);
  });

  it('still asks for the passcode of a room that has one', async () => {
    const roomName = uniqueRoom('locked');
    await stack
      .http()
      .put(`/rooms/${encodeURIComponent(roomName)}`)
      .send({ passcode: 'letmein1' })
      .expect(200);
    expect(((await stack.anonymous().post('/token').send({ roomName, participantName: 'p' }).expect(401)).body as ErrorAnswer).code).toBe(
      'passcode_required',
    );
    await stack.anonymous().post('/token').send({ roomName, participantName: 'p', passcode: 'letmein1' }).expect(200);
  });
});

describe('claims in open admission wait for the start-up repair', () => {
  let s3: S3TestServer;
  let livekit: LiveKitDouble;
  let service: ServiceProcess | undefined;
  beforeAll(async () => {
    s3 = await S3TestServer.start();
    livekit = await LiveKitDouble.start();
  });
  afterAll(async () => {
    service?.child.kill('SIGKILL');
    await livekit.close();
    await s3.close();
  });

  it('does not hand a walk-in a name whose media the start-up pass is about to adopt, and claims a fresh name once it is done', async () => {
    const roomName = uniqueRoom('found-at-start');
    await s3
      .client()
      .send(
        new PutObjectCommand({ Bucket: s3.bucket, Key: `recordings/${roomName}-RM_before0001-20200101120000000.mp4`, Body: FIXTURE_MP4 }),
      );
    // The start-up pass begins by listing LiveKit's egresses: held there until the walk-in waits.
    const releaseListEgress = livekit.holdNext('ListEgress');
    const port = await freePort();
    service = runService({
      ...peerEnv(livekit, s3),
      SERVER_PORT: String(port),
      NODE_ENV: 'test',
      OPEN_ADMISSION: 'true',
      RECONCILE_INTERVAL: '1h',
      LOG_LEVEL: 'warn',
    });
    await waitReady(service, port);
    await eventually(() => livekit.calls.some((call) => call.method === 'ListEgress'), { what: 'the start-up pass under way' });
    const token = async (name: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`http://127.0.0.1:${port}/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify({ roomName: name, participantName: 'walk-in' }),
      });
      expect(res.status).toBe(200);
      return (await res.json()) as { role: string; moderatorPasscode?: string };
    };
    const walkIn = (name: string) => token(name);
    let answered = false;
    const first = walkIn(roomName).finally(() => {
      answered = true;
    });
    // The service answers meanwhile (the host application admits at once); only the claim waits.
    await token(uniqueRoom('hosted-meanwhile'), { Authorization: `Bearer ${TEST_ADMIN_KEY}` });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(answered).toBe(false);
    releaseListEgress();
    expect(await first).toEqual(expect.objectContaining({ role: 'participant' }));
    expect((await first).moderatorPasscode).toBeUndefined();
    expect((await walkIn(uniqueRoom('fresh-after-start'))).role).toBe('moderator');
  });

  it('claims no name when the reconciler is off (RECONCILE_INTERVAL=0): there is no start-up repair to wait for', async () => {
    const off = await startStack({ env: { OPEN_ADMISSION: 'true', RECONCILE_INTERVAL: '0' } });
    try {
      const first = (
        await off
          .anonymous()
          .post('/token')
          .send({ roomName: uniqueRoom('unrepaired'), participantName: 'first' })
          .expect(200)
      ).body as Admission;
      expect([first.role, first.moderatorPasscode]).toEqual(['participant', undefined]);
    } finally {
      await off.close();
    }
  });
});
