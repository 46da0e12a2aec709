import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';

/** The real Redis of the tests (`.ci/run` starts one when nothing answers on 6379). */
export const REDIS_TEST_URL = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix of this run alone, so runs never see each other's keys and cleanup deletes only ours. */
export const testPrefix = (name: string) => `rm-test:${name}:${process.pid}-${randomBytes(4).toString('hex')}:`;

/** A connected client; `error` events are swallowed (tests look at rejected commands instead). */
export async function connectRedis(options: RedisOptions = {}, url = REDIS_TEST_URL): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, ...options });
  redis.on('error', () => undefined);
  await redis.connect();
  return redis;
}

/** Deletes the keys under `prefix` (SCAN + DEL; never FLUSHALL/FLUSHDB). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** A loopback port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Disconnects a client that may never have reached its server, and waits until it holds no socket
 * or timer: `end`, or still `reconnecting` (disconnect() cleared its reconnection timer). A
 * disconnect also arms a timer of `disconnectTimeout` ms (2 s by default) to destroy the old socket
 * even when it is already closed, so make such clients with a short `disconnectTimeout`: it is
 * waited for here.
 */
export async function disconnectRedis(redis: Redis): Promise<void> {
  redis.disconnect();
  const settled = () => redis.status === 'end' || redis.status === 'reconnecting';
  while (!settled()) await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, (redis.options.disconnectTimeout ?? 2000) + 10));
}
