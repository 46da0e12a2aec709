import type { Redis } from 'ioredis';
import request from 'supertest';
import type { Admission, RoomAccessView } from '../src/services/rooms/admission.service';
import { REDIS_TEST_URL, connectRedis, deleteKeys, testPrefix } from './support/redis';
import { uniqueRoom } from './support/recordings';
import { startStack, type ServiceInstance, type TestStack } from './support/stack';
import type { ErrorAnswer } from './support/answers';

const WRONG = 'not-the-passcode';
/**
 * Locks short enough to wait out (Redis keeps real time: its TTLs), failures counted for two
 * seconds; Retry-After's whole seconds then say 1. The doubling to the maximum is counted exactly
 * in failure-counter.test.ts.
 */
const LOCK_MS = 500;
const LOCKOUT_ENV = {
  NODE_ENV: 'test',
  TRUST_PROXY: '1',
  RATE_LIMIT_TOKEN: '100000', // clients told apart by X-Forwarded-For; no /token rate limit
  PASSCODE_FAILURE_WINDOW: '2s',
  PASSCODE_LOCKOUT: `${LOCK_MS}ms`,
  PASSCODE_LOCKOUT_MAX: `${2 * LOCK_MS}ms`,
};
/** Just past a lock of `locks` times the first. */
const pastLock = (locks = 1) => sleep(locks * LOCK_MS + 100);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const redisPrefix = testPrefix('passcodes');
const stores: Array<[string, Record<string, string>]> = [
  ['in memory (one instance)', {}],
  ['in Redis (shared by instances)', { REDIS_URL: REDIS_TEST_URL, REDIS_KEY_PREFIX: redisPrefix }],
];

describe.each(stores)('passcode lockouts, counted %s', (_store, storeEnv) => {
  let stack: TestStack;
  let peer: ServiceInstance | undefined;
  let redis: Redis | undefined;
  beforeAll(async () => {
    stack = await startStack({ env: { ...LOCKOUT_ENV, ...storeEnv } });
    if (storeEnv.REDIS_URL) [peer, redis] = await Promise.all([stack.startPeer(), connectRedis()]);
  });
  afterAll(async () => {
    await peer?.close();
    await stack.close();
    if (redis) {
      await deleteKeys(redis, redisPrefix);
      await redis.quit();
    }
  });

  /** With Redis, attempts alternate between two instances: they count together. */
  let turn = 0;
  /** Each attempt from an address of its own unless told: the room's counts, not an address's, are under test. */
  let addresses = 0;
  const nextAddress = () => `198.51.100.${++addresses % 250}`;
  const attempt = (roomName: string, passcode: string, address = nextAddress()) => {
    const baseUrl = peer && turn++ % 2 ? peer.baseUrl : stack.baseUrl;
    return request(baseUrl).post('/token').set('X-Forwarded-For', address).send({ roomName, participantName: 'p', passcode });
  };
  /** Wrong passcodes sent at once: up to the limit, each is compared (401). */
  const failTimes = async (roomName: string, times: number, address?: string) => {
    const statuses = await Promise.all(Array.from({ length: times }, async () => (await attempt(roomName, WRONG, address)).status));
    expect(statuses).toEqual(Array(times).fill(401));
  };
  const setPasscodes = async (roomName: string, body: Record<string, string>) =>
    stack
      .http()
      .put(`/rooms/${encodeURIComponent(roomName)}`)
      .send(body)
      .expect(200);
  /** The lock's answer: 429 and how long to wait. */
  const expectLocked = async (roomName: string, passcode: string, retryAfter: string) => {
    const res = await attempt(roomName, passcode);
    expect({ status: res.status, code: (res.body as ErrorAnswer).code, retryAfter: res.headers['retry-after'] }).toEqual({
      status: 429,
      code: 'passcode_locked',
      retryAfter,
    });
  };
  const admittedAs = async (roomName: string, passcode: string) => {
    const res = await attempt(roomName, passcode);
    return res.status === 200 ? (res.body as Admission).role : undefined;
  };

  it("locks a room's passcodes after five failures from anywhere, refusing even the right one; join links and the host key still admit", async () => {
    const roomName = uniqueRoom('guessed');
    await setPasscodes(roomName, { passcode: 'participants-code', moderatorPasscode: 'moderators-code' });
    await failTimes(roomName, 5);
    await expectLocked(roomName, 'participants-code', '1');
    await expectLocked(roomName, 'moderators-code', '1');
    if (redis) {
      // Redis holds the counts under fixed-length keys that name neither the room nor the address.
      const keys = await redis.keys(`${redisPrefix}failures:*`);
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.filter((key) => key.includes(roomName) || key.includes('198.51.100.'))).toEqual([]);
    }

    // The host application's ways in are not locked.
    const { joinToken } = (await stack.http().post('/join-tokens').send({ roomName }).expect(200)).body as { joinToken: string };
    await stack
      .anonymous()
      .post('/token')
      .set('X-Forwarded-For', nextAddress())
      .send({ joinToken, participantName: 'invited' })
      .expect(200);
    await stack.http().post('/token').set('X-Forwarded-For', nextAddress()).send({ roomName, participantName: 'staff' }).expect(200);

    // The lock ends when PASSCODE_LOCKOUT is over.
    await pastLock();
    expect(await admittedAs(roomName, 'participants-code')).toBe('participant');
  });

  it("locks an address that guesses from room to room out of every room's passcodes; other addresses still get in", async () => {
    const guesser = '203.0.113.7';
    const rooms = Array.from({ length: 6 }, () => uniqueRoom('tour'));
    await Promise.all(rooms.map((roomName) => setPasscodes(roomName, { passcode: 'participants-code' })));
    await Promise.all(rooms.slice(0, 5).map((roomName) => failTimes(roomName, 1, guesser)));
    const refused = await attempt(rooms[5], 'participants-code', guesser);
    expect({ status: refused.status, code: (refused.body as ErrorAnswer).code, retryAfter: refused.headers['retry-after'] }).toEqual({
      status: 429,
      code: 'passcode_locked',
      retryAfter: '1',
    });
    // No room was guessed at five times: everyone else gets in, and the guesser does once the lock ends.
    expect(await admittedAs(rooms[0], 'participants-code')).toBe('participant');
    await pastLock();
    expect((await attempt(rooms[5], 'participants-code', guesser)).status).toBe(200);
  });

  /** How many of the answers had each status. */
  const tally = (statuses: number[]) =>
    statuses.reduce<Record<number, number>>((counts, status) => ({ ...counts, [status]: (counts[status] ?? 0) + 1 }), {});

  it('compares only five of a burst of wrong passcodes at one room from thirty addresses at once: the rest are refused unseen', async () => {
    const roomName = uniqueRoom('burst');
    await setPasscodes(roomName, { passcode: 'participants-code', moderatorPasscode: 'moderators-code' });
    const statuses = await Promise.all(Array.from({ length: 30 }, async () => (await attempt(roomName, WRONG)).status));
    expect(tally(statuses)).toEqual({ 401: 5, 429: 25 });
  });

  it('compares only five of a burst of wrong passcodes from one address at fifteen rooms at once', async () => {
    const guesser = '203.0.113.99';
    const rooms = Array.from({ length: 15 }, () => uniqueRoom('burst-tour'));
    await Promise.all(rooms.map((roomName) => setPasscodes(roomName, { passcode: 'participants-code' })));
    const statuses = await Promise.all(rooms.map(async (roomName) => (await attempt(roomName, WRONG, guesser)).status));
    expect(tally(statuses)).toEqual({ 401: 5, 429: 10 });
  });

  it('makes the next lock twice as long', async () => {
    const roomName = uniqueRoom('persistent');
    await setPasscodes(roomName, { passcode: 'participants-code' });
    await failTimes(roomName, 5);
    await pastLock();
    await failTimes(roomName, 5);
    await pastLock();
    await expectLocked(roomName, 'participants-code', '1');
    await pastLock();
    expect(await admittedAs(roomName, 'participants-code')).toBe('participant');
  });

  it('resets only the kind that succeeded: the participant passcode reopens, the moderator one stays counted', async () => {
    const roomName = uniqueRoom('half-known');
    await setPasscodes(roomName, { passcode: 'participants-code', moderatorPasscode: 'moderators-code' });
    // Someone who knows the participant passcode guesses the moderator one.
    await failTimes(roomName, 5);
    await pastLock();
    expect(await admittedAs(roomName, 'participants-code')).toBe('participant');
    await failTimes(roomName, 5);
    // The participant kind starts over (its first lock), the moderator kind's second lock is twice as
    // long: once the participant passcode admits again, the moderator one is still refused.
    await pastLock();
    expect(await admittedAs(roomName, 'participants-code')).toBe('participant');
    await expectLocked(roomName, 'moderators-code', '1');
  });

  it('counts only the failures of the last PASSCODE_FAILURE_WINDOW', async () => {
    const roomName = uniqueRoom('forgetful');
    await setPasscodes(roomName, { passcode: 'participants-code' });
    await failTimes(roomName, 4);
    await sleep(2100);
    // The first four are forgotten: four more, then a fifth, before the lock.
    await failTimes(roomName, 5);
    await expectLocked(roomName, 'participants-code', '1');
  });
});

describe('passcode length', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ env: { NODE_ENV: 'test' } });
  });
  afterAll(async () => {
    await stack.close();
  });

  const room = (roomName: string) => `/rooms/${encodeURIComponent(roomName)}`;
  const join = async (roomName: string, passcode: string) =>
    (await stack.anonymous().post('/token').send({ roomName, participantName: 'p', passcode }).expect(200)).body as Admission;
  /** The host application admits a moderator. */
  const joinAsHost = async (roomName: string) =>
    (await stack.http().post('/token').send({ roomName, participantName: 'staff', role: 'moderator' }).expect(200)).body as Admission;
  /** The room's access as the host application sees it. */
  const roomAccess = async (roomName: string) => (await stack.http().get(room(roomName)).expect(200)).body as RoomAccessView;

  it('refuses new passcodes shorter than 8 characters; an existing short one keeps working, and moderators and the host application are told', async () => {
    const roomName = uniqueRoom('short');
    for (const body of [{ passcode: 'seven-c' }, { moderatorPasscode: 'seven-c' }]) {
      const res = await stack.http().put(room(roomName)).send(body).expect(400);
      expect((res.body as ErrorAnswer).errorMessage).toMatch(/at least 8 characters/);
    }

    // A room whose participant passcode was set before the rule.
    const { access } = stack.services;
    await stack.services.roomRecords.put({
      roomName,
      access: {
        passcodeHash: await access.hashPasscode('1234'),
        moderatorPasscodeHash: await access.hashPasscode('moderators-code'),
        claimedAt: 1,
      },
      updatedAt: 1,
    });
    const participant = await join(roomName, '1234');
    expect(participant.role).toBe('participant');
    expect(participant.shortPasscodes).toBeUndefined();
    await stack.anonymous().get(room(roomName)).set('Authorization', `Bearer ${participant.token}`).expect(403);
    expect((await roomAccess(roomName)).shortPasscodes).toEqual(['participant']);
    expect((await join(roomName, 'moderators-code')).shortPasscodes).toEqual(['participant']);
    const hosted = await joinAsHost(roomName);
    expect(hosted.shortPasscodes).toEqual(['participant']);

    // Once changed, nobody is told any more.
    expect(
      ((await stack.http().put(room(roomName)).send({ passcode: 'a-longer-passcode' }).expect(200)).body as RoomAccessView).shortPasscodes,
    ).toEqual([]);
    expect((await join(roomName, 'moderators-code')).shortPasscodes).toBeUndefined();
  });

  const putOldRoom = async (roomName: string, passcode: string, moderatorPasscode: string) => {
    const { access } = stack.services;
    await stack.services.roomRecords.put({
      roomName,
      access: {
        passcodeHash: await access.hashPasscode(passcode),
        moderatorPasscodeHash: await access.hashPasscode(moderatorPasscode),
        claimedAt: 1,
      },
      updatedAt: 1,
    });
  };
  const roomRecordReads = (roomName: string, from: number) =>
    stack.s3Proxy.requests.slice(from).filter((r) => r.method === 'GET' && r.path.endsWith(`/.rooms/${encodeURIComponent(roomName)}.json`))
      .length;

  it("reads the room record once to admit a moderator, with the room's short passcodes", async () => {
    const roomName = uniqueRoom('read-once');
    await putOldRoom(roomName, '1234', 'moderators-code');
    await join(roomName, '1234');
    let before = stack.s3Proxy.requests.length;
    expect((await join(roomName, 'moderators-code')).shortPasscodes).toEqual(['participant']);
    expect(roomRecordReads(roomName, before)).toBe(1);
    before = stack.s3Proxy.requests.length;
    expect((await joinAsHost(roomName)).shortPasscodes).toEqual(['participant']);
    expect(roomRecordReads(roomName, before)).toBe(1);
  });

  it('admits with a short passcode when noting it fails (S3 refuses the write): the notice is not worth a refusal', async () => {
    const roomName = uniqueRoom('note-fails');
    await putOldRoom(roomName, 'participants-code', 'mod1');
    const writesOfTheRecord = (method: string, path: string) =>
      method === 'PUT' && path.endsWith(`/.rooms/${encodeURIComponent(roomName)}.json`);
    for (let attempt = 0; attempt < 3; attempt++) stack.s3Proxy.inject(writesOfTheRecord, { kind: 'status', status: 503 }); // every retry of the SDK
    expect(await join(roomName, 'mod1')).toMatchObject({ role: 'moderator', shortPasscodes: ['moderator'] });
    // Not noted, so the next admission tries again, and tells the same.
    expect((await join(roomName, 'mod1')).shortPasscodes).toEqual(['moderator']);
    expect((await roomAccess(roomName)).shortPasscodes).toEqual(['moderator']);
  });
});
