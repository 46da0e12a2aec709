// Child process for test/redis-lock.test.ts: takes one lock the way RedisLockService does (SET NX PX
// with a token, token-checked PEXPIRE every ttl/3) and keeps it until it is killed. Plain JS so that
// it runs with `node` alone. Usage: node redis-lock-holder.js <redis key> <ttl ms>
const [redisKey, ttlArg] = process.argv.slice(2);
const ttlMs = Number(ttlArg);
const token = `holder-${process.pid}`;
const EXTEND = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

(async () => {
  const { Redis } = await import('ioredis');
  const redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  if ((await redis.set(redisKey, token, 'PX', ttlMs, 'NX')) !== 'OK') throw new Error(`${redisKey} is taken`);
  setInterval(
    () => {
      void redis.eval(EXTEND, 1, redisKey, token, ttlMs).catch(() => undefined);
    },
    Math.floor(ttlMs / 3),
  );
  process.stdout.write(`held ${token}\n`);
})().catch((error) => {
  process.stderr.write(`${error}\n`);
  process.exit(1);
});
