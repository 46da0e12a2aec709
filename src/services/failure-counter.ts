import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AppError } from '../models/app-error';
import { withTimeout } from './concurrency';

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
 * Failed attempts per key (passcode guessing), locking the key for longer each time. A key's lock
 * history is forgotten at a success, or `maxLockMs + windowMs` after its last lock.
 */
export interface FailureCounter {
  /** How long the key stays locked, in ms; 0 when it is not. */
  lockedFor(key: string): Promise<number>;
  /** Counts one failure; returns the lock this failure started, in ms, or 0. */
  fail(key: string): Promise<number>;
  /** Forgets the key's failures and lock history. */
  reset(key: string): Promise<void>;
}

/** The `level`-th lock in a row (1 for the first). */
export const lockLength = (policy: LockoutPolicy, level: number) => Math.min(policy.lockMs * 2 ** (level - 1), policy.maxLockMs);

/** A fixed-length key that names no room or address (they may be in any script, and are nobody's business in Redis). */
export const failureKey = (...parts: string[]) => createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 32);

interface Entry {
  failures: number;
  windowEndsAt: number;
  lockedUntil: number;
  level: number;
  forgetAt: number;
}

/** Beyond this many keys, forgotten ones are swept on the next failure: memory stays bounded. */
const SWEEP_ABOVE = 10_000;

/** In this process: one instance, or counts that need not be shared. */
export class MemoryFailureCounter implements FailureCounter {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly policy: LockoutPolicy) {}

  async lockedFor(key: string): Promise<number> {
    return Math.max(0, (this.entries.get(key)?.lockedUntil ?? 0) - Date.now());
  }

  async fail(key: string): Promise<number> {
    const now = Date.now();
    const entry = this.live(key, now) ?? this.create(key, now);
    if (entry.windowEndsAt <= now) Object.assign(entry, { failures: 0, windowEndsAt: now + this.policy.windowMs });
    entry.failures += 1;
    if (entry.failures < this.policy.maxFailures) return 0;
    entry.level += 1;
    const lockMs = lockLength(this.policy, entry.level);
    Object.assign(entry, { failures: 0, windowEndsAt: 0, lockedUntil: now + lockMs, forgetAt: now + this.policy.maxLockMs + this.policy.windowMs });
    return lockMs;
  }

  async reset(key: string): Promise<void> {
    this.entries.delete(key);
  }

  private live(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && forgotten(entry, now)) this.entries.delete(key);
    return this.entries.get(key);
  }

  private create(key: string, now: number): Entry {
    if (this.entries.size >= SWEEP_ABOVE) {
      for (const [other, entry] of this.entries) if (forgotten(entry, now)) this.entries.delete(other);
    }
    const entry: Entry = { failures: 0, windowEndsAt: 0, lockedUntil: 0, level: 0, forgetAt: 0 };
    this.entries.set(key, entry);
    return entry;
  }
}

const forgotten = (entry: Entry, now: number) => entry.windowEndsAt <= now && entry.lockedUntil <= now && entry.forgetAt <= now;

/**
 * Counts one failure, atomically. KEYS: failures (expire with the window), lock, level (the lock
 * history). ARGV: windowMs, maxFailures, lockMs, maxLockMs, forgetMs. Returns the lock started, or 0.
 */
const FAIL = `
local failures = redis.call('INCR', KEYS[1])
if failures == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if failures < tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
local level = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
local lockMs = math.floor(math.min(tonumber(ARGV[3]) * 2 ^ (level - 1), tonumber(ARGV[4])))
redis.call('SET', KEYS[2], '1', 'PX', lockMs)
return lockMs`;

export interface RedisFailureOptions {
  /** Namespace of every key: `<prefix>failures:{<key>}:…`. */
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

  async lockedFor(key: string): Promise<number> {
    return Math.max(0, await this.call(this.redis.pttl(this.keys(key).lock)));
  }

  async fail(key: string): Promise<number> {
    const { failures, lock, level } = this.keys(key);
    const { windowMs, maxFailures, lockMs, maxLockMs } = this.policy;
    return Number(await this.call(this.redis.eval(FAIL, 3, failures, lock, level, windowMs, maxFailures, lockMs, maxLockMs, maxLockMs + windowMs)));
  }

  async reset(key: string): Promise<void> {
    const { failures, lock, level } = this.keys(key);
    await this.call(this.redis.del(failures, lock, level));
  }

  /** One hash tag, so that the three keys of one counter stay on one Redis Cluster node. */
  private keys(key: string) {
    const base = `${this.options.prefix}failures:{${key}}:`;
    return { failures: `${base}count`, lock: `${base}lock`, level: `${base}level` };
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
