import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AppError } from '../platform/app-error';
import { withTimeout } from '../platform/concurrency';

/** When failed attempts lock a key, and for how long. */
export interface LockoutPolicy {
  /** This many failures within `windowMs` (counted from the first) lock the key. */
  maxFailures: number;
  windowMs: number;
  /** The first lock; each next one twice as long, up to `maxLockMs`. */
  lockMs: number;
  maxLockMs: number;
}

/**
 * Failed attempts per key (passcode guessing), locking the key for longer each time. An attempt is
 * reserved before it is tried, atomically, so a burst of attempts at once gets no more tries than
 * the limit. A key's lock history is forgotten at a reset, or `maxLockMs + windowMs` after its last lock.
 */
export interface FailureCounter {
  /**
   * Reserves one attempt on each key, atomically: a key that is locked, or whose attempts in the
   * window (failures and those still being tried) reached the limit, is not reserved. Returns, per
   * key, 0 when reserved, else how long to wait in ms.
   */
  reserve(keys: string[]): Promise<number[]>;
  /** The reserved attempt failed; returns the lock this failure started, in ms, or 0. */
  fail(key: string): Promise<number>;
  /** The reserved attempt did not fail (or was not tried): it is given back. */
  release(key: string): Promise<void>;
  /** Forgets the key's attempts and lock history. */
  reset(key: string): Promise<void>;
}

/** The `level`-th lock in a row (1 for the first). */
export const lockLength = (policy: LockoutPolicy, level: number) => Math.min(policy.lockMs * 2 ** (level - 1), policy.maxLockMs);

/** A fixed-length key that names no room or address (they may be in any script, and are nobody's business in Redis). */
export const failureKey = (...parts: string[]) => createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 32);

interface Entry {
  /** Reserved in the window: the failures and the attempts still being tried. */
  attempts: number;
  failures: number;
  windowEndsAt: number;
  lockedUntil: number;
  level: number;
  forgetAt: number;
}

/** Beyond this many keys, forgotten ones are swept on the next reservation: memory stays bounded. */
const SWEEP_ABOVE = 10_000;

/** In this process: one instance, or counts that need not be shared. */
export class MemoryFailureCounter implements FailureCounter {
  private readonly entries = new Map<string, Entry>();

  /** `now`: the clock (tests move it instead of waiting). */
  constructor(
    private readonly policy: LockoutPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  // The interface is asynchronous for Redis; in memory each answer is ready at once.
  reserve(keys: string[]): Promise<number[]> {
    return Promise.resolve(this.reserveNow(keys));
  }

  fail(key: string): Promise<number> {
    return Promise.resolve(this.failNow(key));
  }

  release(key: string): Promise<void> {
    return Promise.resolve(this.releaseNow(key));
  }

  reset(key: string): Promise<void> {
    return Promise.resolve(this.resetNow(key));
  }

  private reserveNow(keys: string[]): number[] {
    const now = this.now();
    return keys.map((key) => {
      const entry = this.current(key, now);
      if (entry.lockedUntil > now) return entry.lockedUntil - now;
      // The attempts being tried are about to start the next lock: that is the wait.
      if (entry.attempts >= this.policy.maxFailures) return lockLength(this.policy, entry.level + 1);
      entry.attempts += 1;
      return 0;
    });
  }

  private failNow(key: string): number {
    const now = this.now();
    const entry = this.current(key, now);
    entry.failures += 1;
    entry.attempts = Math.max(entry.attempts, entry.failures);
    if (entry.failures < this.policy.maxFailures) return 0;
    entry.level += 1;
    const lockMs = lockLength(this.policy, entry.level);
    Object.assign(entry, {
      attempts: 0,
      failures: 0,
      windowEndsAt: 0,
      lockedUntil: now + lockMs,
      forgetAt: now + this.policy.maxLockMs + this.policy.windowMs,
    });
    return lockMs;
  }

  private releaseNow(key: string): void {
    const entry = this.entries.get(key);
    if (entry) entry.attempts = Math.max(entry.failures, entry.attempts - 1);
  }

  private resetNow(key: string): void {
    this.entries.delete(key);
  }

  /** The key's entry, its window started anew once over. */
  private current(key: string, now: number): Entry {
    let entry = this.entries.get(key);
    if (entry && forgotten(entry, now)) this.entries.delete(key);
    entry = this.entries.get(key) ?? this.create(key, now);
    if (entry.windowEndsAt <= now) Object.assign(entry, { attempts: 0, failures: 0, windowEndsAt: now + this.policy.windowMs });
    return entry;
  }

  private create(key: string, now: number): Entry {
    if (this.entries.size >= SWEEP_ABOVE) {
      for (const [other, entry] of this.entries) if (forgotten(entry, now)) this.entries.delete(other);
    }
    const entry: Entry = { attempts: 0, failures: 0, windowEndsAt: 0, lockedUntil: 0, level: 0, forgetAt: 0 };
    this.entries.set(key, entry);
    return entry;
  }
}

const forgotten = (entry: Entry, now: number) => entry.windowEndsAt <= now && entry.lockedUntil <= now && entry.forgetAt <= now;

/**
 * Reserves an attempt on each key, atomically. KEYS: per key its attempts (a hash of attempts and
 * failures, expiring with the window), lock and level (the lock history). ARGV: windowMs,
 * maxFailures, lockMs, maxLockMs. Returns per key 0 (reserved) or the wait in ms.
 */
const RESERVE = `
local waits = {}
for i = 1, #KEYS, 3 do
  local locked = redis.call('PTTL', KEYS[i + 1])
  local attempts = tonumber(redis.call('HGET', KEYS[i], 'attempts') or '0')
  if locked > 0 then
    waits[#waits + 1] = locked
  elseif attempts >= tonumber(ARGV[2]) then
    local level = tonumber(redis.call('GET', KEYS[i + 2]) or '0')
    waits[#waits + 1] = math.floor(math.min(tonumber(ARGV[3]) * 2 ^ level, tonumber(ARGV[4])))
  else
    redis.call('HINCRBY', KEYS[i], 'attempts', 1)
    if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
    waits[#waits + 1] = 0
  end
end
return waits`;

/** Confirms a reserved attempt as failed. KEYS: attempts, lock, level. ARGV: windowMs, maxFailures, lockMs, maxLockMs, forgetMs. Returns the lock started, or 0. */
const FAIL = `
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0') < failures then redis.call('HSET', KEYS[1], 'attempts', failures) end
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if failures < tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
local level = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
local lockMs = math.floor(math.min(tonumber(ARGV[3]) * 2 ^ (level - 1), tonumber(ARGV[4])))
redis.call('SET', KEYS[2], '1', 'PX', lockMs)
return lockMs`;

/** Gives a reserved attempt back. KEYS: attempts. */
const RELEASE = `
if tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0') > tonumber(redis.call('HGET', KEYS[1], 'failures') or '0') then
  redis.call('HINCRBY', KEYS[1], 'attempts', -1)
end
return 0`;

export interface RedisFailureOptions {
  /** Namespace of every key: `<prefix>failures:{counters}:<key>:…`. */
  prefix: string;
  /** Time limit of one Redis call; beyond it the attempt fails with 503. */
  commandTimeoutMs?: number;
}

/** In Redis: every instance sharing it counts together (an attacker cannot spread guesses over instances). */
export class RedisFailureCounter implements FailureCounter {
  constructor(
    private readonly redis: Redis,
    private readonly policy: LockoutPolicy,
    private readonly options: RedisFailureOptions,
  ) {}

  async reserve(keys: string[]): Promise<number[]> {
    const { windowMs, maxFailures, lockMs, maxLockMs } = this.policy;
    const redisKeys = keys.flatMap((key) => Object.values(this.keys(key)));
    const waits = await this.call(this.redis.eval(RESERVE, redisKeys.length, ...redisKeys, windowMs, maxFailures, lockMs, maxLockMs));
    return (waits as unknown[]).map(Number);
  }

  async fail(key: string): Promise<number> {
    const { attempts, lock, level } = this.keys(key);
    const { windowMs, maxFailures, lockMs, maxLockMs } = this.policy;
    return Number(
      await this.call(this.redis.eval(FAIL, 3, attempts, lock, level, windowMs, maxFailures, lockMs, maxLockMs, maxLockMs + windowMs)),
    );
  }

  async release(key: string): Promise<void> {
    await this.call(this.redis.eval(RELEASE, 1, this.keys(key).attempts));
  }

  async reset(key: string): Promise<void> {
    const { attempts, lock, level } = this.keys(key);
    await this.call(this.redis.del(attempts, lock, level));
  }

  /**
   * One hash tag for every counter, so that one script may reserve an attempt on several keys at
   * once (a Redis Cluster runs a script only over keys of one slot).
   */
  private keys(key: string) {
    const base = `${this.options.prefix}failures:{counters}:${key}:`;
    return { attempts: `${base}attempts`, lock: `${base}lock`, level: `${base}level` };
  }

  /** Without Redis nobody can be counted, so nobody is admitted by passcode (503), rather than unlimited guesses. */
  private async call<T>(command: Promise<T>): Promise<T> {
    const timeoutMs = this.options.commandTimeoutMs ?? 2_000;
    try {
      return await withTimeout(command, timeoutMs, () => new Error(`no answer in ${timeoutMs} ms`));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new AppError(503, 'redis_unavailable', 'Redis, which counts failed passcodes, is unavailable; try again', { reason });
    }
  }
}
