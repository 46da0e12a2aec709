import { Redis } from 'ioredis';
import { type FailureCounter, type LockoutPolicy, MemoryFailureCounter, RedisFailureCounter } from '../src/services/rooms/failure-counter';
import { redisLockClientOptions } from '../src/services/platform/redis-lock.service';
import { closedPort, connectRedis, deleteKeys, disconnectRedis, testPrefix } from './support/redis';

// Short locks: Redis keeps its own time (TTLs), so its test waits them out for real.
const policy: LockoutPolicy = { maxFailures: 3, windowMs: 60_000, lockMs: 100, maxLockMs: 400 };
const prefix = testPrefix('failure-counter');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let redis: Redis;

beforeAll(async () => {
  redis = await connectRedis(redisLockClientOptions);
});
afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});

/** A counter and a way to let time pass: the memory store's clock is moved, Redis's is waited for. */
type Store = () => { counter: FailureCounter; advance: (ms: number) => Promise<unknown> };
const memory: Store = () => {
  let now = 1_000_000;
  return {
    counter: new MemoryFailureCounter(policy, () => now),
    advance: (ms) => {
      now += ms;
      return Promise.resolve();
    },
  };
};
const inRedis: Store = () => ({ counter: new RedisFailureCounter(redis, policy, { prefix }), advance: sleep });

describe.each([
  ['in memory', memory],
  ['in Redis', inRedis],
] as Array<[string, Store]>)('the failure counter %s', (_store, create) => {
  const newKey = () => `key-${Math.random()}`;

  it('locks a key at the limit, each next lock twice as long up to the maximum, and a reset forgets it all', async () => {
    const { counter, advance } = create();
    const key = newKey();
    const locks: number[] = [];
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < policy.maxFailures; i++) {
        expect(await counter.reserve([key])).toEqual([0]);
        locks.push(await counter.fail(key));
      }
      const [wait] = await counter.reserve([key]);
      expect(wait).toBeGreaterThan(locks.at(-1)! - 50);
      await advance(wait + 20);
    }
    expect(locks).toEqual([0, 0, 100, 0, 0, 200, 0, 0, 400, 0, 0, 400]);

    for (let i = 0; i < policy.maxFailures; i++) await counter.reserve([key]).then(() => counter.fail(key));
    expect((await counter.reserve([key, 'another key']))[1]).toBe(0);
    await counter.reset(key);
    expect(await counter.reserve([key])).toEqual([0]);
  });

  it('reserves no more attempts than the limit however many come at once; a release gives one back, a failure keeps it', async () => {
    const { counter } = create();
    const key = newKey();
    const waits = (await Promise.all(Array.from({ length: 10 }, () => counter.reserve([key])))).map(([wait]) => wait);
    // Those refused wait for the lock the attempts being tried are about to start.
    expect(waits.sort((a, b) => a - b)).toEqual([0, 0, 0, 100, 100, 100, 100, 100, 100, 100]);

    await counter.release(key);
    expect(await counter.reserve([key])).toEqual([0]);
    expect(await counter.reserve([key])).toEqual([100]);
    expect([await counter.fail(key), await counter.fail(key)]).toEqual([0, 0]);
    await counter.release(key); // the last one did not fail
    expect(await counter.reserve([key])).toEqual([0]);
    expect(await counter.fail(key)).toBe(100);
    expect((await counter.reserve([key]))[0]).toBeGreaterThan(50);
  });
});

it('fails with 503 when Redis does not answer, so that guesses are never left uncounted', async () => {
  const unreachable = new Redis(`redis://127.0.0.1:${await closedPort()}`, {
    ...redisLockClientOptions,
    lazyConnect: true,
    disconnectTimeout: 10,
  });
  unreachable.on('error', () => undefined);
  const counter = new RedisFailureCounter(unreachable, policy, { prefix });
  await expect(counter.reserve(['key'])).rejects.toMatchObject({ status: 503, code: 'redis_unavailable' });
  await expect(counter.fail('key')).rejects.toMatchObject({ status: 503, code: 'redis_unavailable' });
  await disconnectRedis(unreachable);
});
