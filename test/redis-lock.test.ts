import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { AppError } from '../src/services/platform/app-error';
import { RedisLockService, type RedisLockOptions, redisLockClientOptions } from '../src/services/platform/redis-lock.service';
import { eventually } from './support/eventually';
import { REDIS_TEST_URL, closedPort, connectRedis, deleteKeys, disconnectRedis, testPrefix } from './support/redis';

const prefix = testPrefix('redis-lock');
let a: Redis;
let b: Redis;
const services: RedisLockService[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  [a, b] = await Promise.all([connectRedis(redisLockClientOptions), connectRedis(redisLockClientOptions)]);
});

afterEach(async () => {
  await Promise.all(services.splice(0).map((service) => service.close()));
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

afterAll(async () => {
  await deleteKeys(a, prefix);
  await Promise.all([a.quit(), b.quit()]);
});

const lockService = (redis: Redis, options: Partial<RedisLockOptions> = {}) => {
  const service = new RedisLockService(redis, { prefix, ttlMs: 2000, waitTimeoutMs: 10_000, retryDelayMs: 10, ...options });
  services.push(service);
  return service;
};

/** A promise with its resolve outside, to hold a lock exactly as long as a test wants. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

const rejection = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
};

const expectAppError = (error: unknown, status: number, code: string) => {
  expect(error).toBeInstanceOf(AppError);
  expect(error).toMatchObject({ status, code });
};

const lockKey = (key: string) => `${prefix}lock:${key}`;

/** Holds `key` until `opened`; resolves `entered` once inside. */
function holdLock(service: RedisLockService, key: string) {
  const { open, opened } = gate();
  let entered = false;
  const done = service.withLock(key, async () => {
    entered = true;
    await opened;
    return 'held';
  });
  return { release: open, done, entered: () => entered };
}

test('twenty concurrent withLock on one key across two instances never overlap and all run', async () => {
  const [first, second] = [lockService(a), lockService(b)];
  let active = 0;
  let maxActive = 0;
  const ranBy: string[] = [];
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      (i % 2 ? second : first).withLock('room:race', async () => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        await sleep(1 + Math.random() * 4); // work with an await inside, where an overlap would show
        active -= 1;
        ranBy.push(i % 2 ? 'second' : 'first');
        return i;
      }),
    ),
  );
  expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i));
  expect(maxActive).toBe(1);
  expect(ranBy).toHaveLength(20);
  expect(ranBy.filter((who) => who === 'second')).toHaveLength(10);
  expect(await a.exists(lockKey('room:race'))).toBe(0);
  expect(first.heldCount + second.heldCount).toBe(0);
});

test('different keys do not block each other', async () => {
  const [first, second] = [lockService(a), lockService(b)];
  const holder = holdLock(first, 'room:one');
  await eventually(holder.entered, { what: 'room:one taken' });
  await expect(second.withLock('room:two', () => Promise.resolve('two'))).resolves.toBe('two');
  await expect(first.withLock('room:three', () => Promise.resolve('three'))).resolves.toBe('three');
  expect(holder.entered()).toBe(true);
  holder.release();
  await expect(holder.done).resolves.toBe('held');
});

test('the lock is released when the work throws', async () => {
  const [first, second] = [lockService(a), lockService(b, { waitTimeoutMs: 300 })];
  const failure = new Error('work failed');
  await expect(first.withLock('room:throws', () => Promise.reject(failure))).rejects.toBe(failure);
  expect(await a.exists(lockKey('room:throws'))).toBe(0);
  await expect(second.withLock('room:throws', () => Promise.resolve('next'))).resolves.toBe('next');
});

test('a holder that is SIGKILLed loses its lock when the TTL runs out, and another instance gets it', async () => {
  const ttlMs = 1000;
  const child = spawn(process.execPath, [path.join(__dirname, 'support/redis-lock-holder.js'), lockKey('room:dies'), String(ttlMs)], {
    env: { ...process.env, REDIS_URL: REDIS_TEST_URL },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await eventually(() => output.includes('held'), { what: 'child holding the lock' });

  const waiter = holdLock(lockService(b), 'room:dies');
  waiter.release(); // it returns as soon as it gets in
  await sleep(1.5 * ttlMs); // a live holder keeps its lock beyond one TTL: nobody may enter meanwhile
  expect(waiter.entered()).toBe(false);

  const killedAt = Date.now();
  child.kill('SIGKILL');
  await expect(waiter.done).resolves.toBe('held');
  const waited = Date.now() - killedAt;
  expect(waited).toBeLessThan(ttlMs + 1000); // the TTL, not the 10 s wait limit
});

test('slow work keeps its lock past the TTL by extending it; a waiter on another instance cannot enter', async () => {
  const ttlMs = 300;
  const lost: string[] = [];
  const slow = lockService(a, { ttlMs, onLockLost: (key) => lost.push(key) });
  const holder = holdLock(slow, 'room:slow');
  await eventually(holder.entered, { what: 'room:slow taken' });

  const startedAt = Date.now();
  const waiter = lockService(b, { waitTimeoutMs: 4 * ttlMs });
  expectAppError(await rejection(waiter.withLock('room:slow', () => Promise.resolve('entered'))), 503, 'lock_timeout');
  expect(Date.now() - startedAt).toBeGreaterThanOrEqual(4 * ttlMs);
  expect(await a.pttl(lockKey('room:slow'))).toBeGreaterThan(0);
  expect(lost).toEqual([]);

  holder.release();
  await expect(holder.done).resolves.toBe('held');
  await expect(lockService(b, { waitTimeoutMs: 200 }).withLock('room:slow', () => Promise.resolve('next'))).resolves.toBe('next');
});

test('waiting beyond waitTimeoutMs gives 503 lock_timeout, across instances and within one', async () => {
  const first = lockService(a, { waitTimeoutMs: 250 });
  const holder = holdLock(first, 'room:busy');
  await eventually(holder.entered, { what: 'room:busy taken' });
  const ran: string[] = [];

  for (const [name, service] of [
    ['other instance', lockService(b, { waitTimeoutMs: 250 })],
    ['same instance', first],
  ] as const) {
    const startedAt = Date.now();
    const error = await rejection(service.withLock('room:busy', () => Promise.resolve(ran.push(name))));
    const waited = Date.now() - startedAt;
    expectAppError(error, 503, 'lock_timeout');
    expect((error as Error).message).toMatch(/room:busy.*busy/);
    expect(waited).toBeGreaterThanOrEqual(240);
    expect(waited).toBeLessThan(1000);
  }

  holder.release();
  await holder.done;
  // The abandoned local waiter's turn comes before this one (FIFO); it must not run its work.
  await expect(first.withLock('room:busy', () => Promise.resolve('after'))).resolves.toBe('after');
  expect(ran).toEqual([]);
});

test('an extension that finds the lock taken over marks it lost, lets the work finish, and leaves the other lock', async () => {
  const lost: string[] = [];
  const service = lockService(a, { ttlMs: 300, onLockLost: (key) => lost.push(key) });
  const result = await service.withLock('room:lost', async () => {
    await a.set(lockKey('room:lost'), 'someone-else', 'PX', 5000); // as if ours had expired and another took it
    await eventually(() => lost.length > 0, { what: 'lock marked lost' });
    return 'finished';
  });
  expect(result).toBe('finished');
  expect(lost).toEqual(['room:lost']);
  expect(await a.get(lockKey('room:lost'))).toBe('someone-else');
  await a.del(lockKey('room:lost'));
});

test('releaseAll frees held locks at once; close refuses new ones', async () => {
  const first = lockService(a);
  const holder = holdLock(first, 'room:shutdown');
  await eventually(holder.entered, { what: 'room:shutdown taken' });
  expect(first.heldCount).toBe(1);

  await first.releaseAll();
  expect(first.heldCount).toBe(0);
  expect(await a.exists(lockKey('room:shutdown'))).toBe(0);
  const next = holdLock(lockService(b, { waitTimeoutMs: 200 }), 'room:shutdown');
  await eventually(next.entered, { what: 'other instance in' });

  holder.release(); // the old holder ends after release: it must not delete the new holder's lock
  await holder.done;
  expect(await a.exists(lockKey('room:shutdown'))).toBe(1);
  next.release();
  await next.done;

  await first.close();
  expectAppError(await rejection(first.withLock('room:shutdown', () => Promise.resolve('no'))), 503, 'shutting_down');
});

describe('Redis unreachable', () => {
  let port: number;
  const clients: Redis[] = [];
  beforeAll(async () => {
    port = await closedPort();
  });
  afterAll(() => Promise.all(clients.map(disconnectRedis)));

  const unreachable = (options: RedisOptions) => {
    // No connect(): the client keeps trying in the background, as the service's would.
    const client = new Redis(`redis://127.0.0.1:${port}`, { ...options, disconnectTimeout: 10 });
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  };

  test.each([
    ['the recommended client options (fails at once)', redisLockClientOptions, 1000],
    ['default options (offline queue; bounded by commandTimeoutMs)', {}, 300 + 1000],
  ])('gives 503 redis_unavailable quickly with %s', async (_, options, withinMs) => {
    const service = lockService(unreachable(options), { commandTimeoutMs: 300 });
    let ran = false;
    const startedAt = Date.now();
    const error = await rejection(
      service.withLock('room:down', () => {
        ran = true;
        return Promise.resolve(ran);
      }),
    );
    expectAppError(error, 503, 'redis_unavailable');
    expect((error as AppError).details).toEqual({ reason: expect.any(String) as unknown });
    expect(Date.now() - startedAt).toBeLessThan(withinMs);
    expect(ran).toBe(false);
  });
});
