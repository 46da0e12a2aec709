import { Redis } from 'ioredis';
import { type FailureCounter, type LockoutPolicy, MemoryFailureCounter, RedisFailureCounter } from '../src/services/failure-counter';
import { redisLockClientOptions } from '../src/services/redis-lock.service';
import { closedPort, connectRedis, deleteKeys, disconnectRedis, testPrefix } from './support/redis';

const policy: LockoutPolicy = { maxFailures: 3, windowMs: 60_000, lockMs: 1000, maxLockMs: 4000 };
const prefix = testPrefix('failure-counter');
let redis: Redis;

beforeAll(async () => { redis = await connectRedis(redisLockClientOptions); });
afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});

describe.each([
  ['in memory', () => new MemoryFailureCounter(policy)],
  ['in Redis', () => new RedisFailureCounter(redis, policy, { prefix })],
] as Array<[string, () => FailureCounter]>)('the failure counter %s', (_store, create) => {
  it('locks a key at the limit, each next lock twice as long up to the maximum, and a reset forgets it all', async () => {
    const counter = create();
    const key = `key-${Math.random()}`;
    const locks: number[] = [];
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < policy.maxFailures; i++) locks.push(await counter.fail(key));
    }
    expect(locks).toEqual([0, 0, 1000, 0, 0, 2000, 0, 0, 4000, 0, 0, 4000]);
    expect(await counter.lockedFor(key)).toBeGreaterThan(3000);
    expect(await counter.lockedFor('another key')).toBe(0);

    await counter.reset(key);
    expect(await counter.lockedFor(key)).toBe(0);
    expect([await counter.fail(key), await counter.fail(key), await counter.fail(key)]).toEqual([0, 0, 1000]);
  });
});

it('fails with 503 when Redis does not answer, so that guesses are never left uncounted', async () => {
  const unreachable = new Redis(`redis://127.0.0.1:${await closedPort()}`, { ...redisLockClientOptions, lazyConnect: true, disconnectTimeout: 10 });
  unreachable.on('error', () => undefined);
  const counter = new RedisFailureCounter(unreachable, policy, { prefix });
  await expect(counter.lockedFor('key')).rejects.toMatchObject({ status: 503, code: 'redis_unavailable' });
  await expect(counter.fail('key')).rejects.toMatchObject({ status: 503, code: 'redis_unavailable' });
  await disconnectRedis(unreachable);
});
