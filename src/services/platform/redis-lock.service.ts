import { randomBytes } from 'node:crypto';
import type { Redis, RedisOptions } from 'ioredis';
import { AppError } from './app-error';
import { withTimeout } from './concurrency';
import { LocalLockService, type LockService } from './lock.service';

/**
 * Client options the lock expects (spread them into `new Redis(url, {...})`), so that a Redis that
 * is down makes `withLock` fail at once with 503 instead of queueing commands until it is back:
 * - `enableOfflineQueue: false`: while disconnected, commands are rejected instead of queued. At
 *   start-up, wait for the client's `ready` event (or use `lazyConnect` and `await redis.connect()`)
 *   before serving, or the first locks fail with 503 too.
 * - `maxRetriesPerRequest: 1`: a command in flight when the connection drops fails after one
 *   reconnection attempt instead of twenty.
 * - `connectTimeout`: a dead host (no RST) is noticed in 5 s, not 10 s.
 * The caller must also listen to `error` (and log it): ioredis prints unhandled errors otherwise.
 * `commandTimeoutMs` below still bounds every call if a client is made without these options.
 */
export const redisLockClientOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 5_000,
} as const satisfies RedisOptions;

export interface RedisLockOptions {
  /** Namespace of every key this service writes: `<prefix>lock:<key>`. */
  prefix: string;
  /** Lifetime of a lock whose holder stopped extending it (it died or lost Redis). */
  ttlMs: number;
  /** How long `withLock` waits for its turn, in this process and in Redis, before 503 `lock_timeout`. */
  waitTimeoutMs: number;
  /** Base delay between two attempts on a taken lock; each delay is jittered by up to +100%. */
  retryDelayMs?: number;
  /** Time limit of one Redis call; beyond it the call counts as failed (503 `redis_unavailable`). */
  commandTimeoutMs?: number;
  /** Told when an extension finds the lock gone (expired or taken over); the work still finishes. */
  onLockLost?: (key: string) => void;
}

interface HeldLock {
  key: string;
  redisKey: string;
  token: string;
  timer?: NodeJS.Timeout;
  extending: boolean;
  lost: boolean;
}

// Both scripts act only while the key still holds our token, so we never touch another holder's lock.
const EXTEND = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Serializes work per key across service instances sharing one Redis (single instance, not
 * Redlock). A lock is `SET NX PX` with a random token, extended every ttl/3 while its work runs,
 * and deleted by token, so it outlives slow work but expires `ttlMs` after its holder dies.
 */
export class RedisLockService implements LockService {
  // Waiters of one process queue here first, so only the head of each key's queue polls Redis.
  private readonly local = new LocalLockService();
  private readonly held = new Map<string, HeldLock>();
  private readonly retryDelayMs: number;
  private readonly commandTimeoutMs: number;
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisLockOptions,
  ) {
    // PX takes whole milliseconds, and ttl/3 must leave room for an extension before expiry.
    if (!Number.isInteger(options.ttlMs) || options.ttlMs < 3) throw new RangeError('ttlMs must be an integer ≥ 3');
    this.retryDelayMs = options.retryDelayMs ?? 50;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 2_000;
  }

  /** How many locks this instance holds now. */
  get heldCount(): number {
    return this.held.size;
  }

  withLock<T>(key: string, work: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(closedError());
    const deadline = Date.now() + this.options.waitTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      let state: 'queued' | 'running' | 'abandoned' = 'queued';
      // The local queue has no time limit of its own: give up on it at the deadline. The queue still
      // calls us later; we then return at once without touching Redis or running the work.
      const timer = setTimeout(() => {
        if (state !== 'queued') return;
        state = 'abandoned';
        reject(lockTimeout(key, this.options.waitTimeoutMs));
      }, this.options.waitTimeoutMs);
      const turn = async () => {
        if (state === 'abandoned') throw lockTimeout(key, this.options.waitTimeoutMs);
        state = 'running';
        clearTimeout(timer);
        return this.holdWhile(key, work, deadline);
      };
      this.local.withLock(key, turn).then(resolve, reject);
    });
  }

  /** Releases every lock this instance holds and stops their extension (graceful shutdown). */
  async releaseAll(): Promise<void> {
    await Promise.all([...this.held.values()].map((lock) => this.release(lock)));
  }

  /** Refuses new locks (503 `shutting_down`), stops waiters polling Redis, and releases every lock. */
  async close(): Promise<void> {
    this.closed = true;
    await this.releaseAll();
  }

  private async holdWhile<T>(key: string, work: () => Promise<T>, deadline: number): Promise<T> {
    const lock = await this.acquire(key, deadline);
    try {
      return await work();
    } finally {
      await this.release(lock);
    }
  }

  private async acquire(key: string, deadline: number): Promise<HeldLock> {
    const redisKey = `${this.options.prefix}lock:${key}`;
    const token = randomBytes(16).toString('hex');
    for (;;) {
      if (this.closed) throw closedError();
      if (await this.trySet(redisKey, token)) return this.hold(key, redisKey, token);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw lockTimeout(key, this.options.waitTimeoutMs);
      await sleep(Math.min(remaining, this.retryDelayMs * (1 + Math.random())));
    }
  }

  private async trySet(redisKey: string, token: string): Promise<boolean> {
    try {
      const reply = await this.call(this.redis.set(redisKey, token, 'PX', this.options.ttlMs, 'NX'));
      return reply === 'OK';
    } catch (error) {
      // A SET that timed out may still run later (queued by the client): delete it by token then.
      void this.call(this.redis.eval(RELEASE, 1, redisKey, token)).catch(() => undefined);
      throw error;
    }
  }

  private hold(key: string, redisKey: string, token: string): HeldLock {
    const lock: HeldLock = { key, redisKey, token, extending: false, lost: false };
    // Unref'd: a forgotten lock must not keep the process (or jest) alive.
    lock.timer = setInterval(() => void this.extend(lock), Math.max(1, Math.floor(this.options.ttlMs / 3))).unref();
    this.held.set(token, lock);
    return lock;
  }

  /**
   * Pushes the expiry back while the work runs. A lock found lost is only marked: the work cannot
   * be cancelled (LockService has no abort), and throwing afterwards would report as failed work
   * that may have succeeded; what runs under these locks is idempotent and monotonic, so a rare
   * overlap converges. A failed call is simply retried at the next tick, while the TTL still runs.
   */
  private async extend(lock: HeldLock): Promise<void> {
    if (lock.extending || lock.lost) return;
    lock.extending = true;
    try {
      const kept = await this.call(this.redis.eval(EXTEND, 1, lock.redisKey, lock.token, this.options.ttlMs));
      if (kept !== 1 && this.held.has(lock.token)) this.markLost(lock);
    } catch {
      // Redis unreachable: try again at the next tick; the lock expires on its own if this lasts.
    } finally {
      lock.extending = false;
    }
  }

  private markLost(lock: HeldLock): void {
    lock.lost = true;
    clearInterval(lock.timer);
    this.options.onLockLost?.(lock.key);
  }

  /** Idempotent; never throws: a lock we could not delete expires on its own after `ttlMs`. */
  private async release(lock: HeldLock): Promise<void> {
    if (!this.held.delete(lock.token)) return;
    clearInterval(lock.timer);
    await this.call(this.redis.eval(RELEASE, 1, lock.redisKey, lock.token)).catch(() => undefined);
  }

  /** Bounds one Redis call (a late answer is dropped: race handles it) and turns its failure into a 503. */
  private async call<T>(command: Promise<T>): Promise<T> {
    try {
      return await withTimeout(command, this.commandTimeoutMs, () => new Error(`no answer in ${this.commandTimeoutMs} ms`));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new AppError(503, 'redis_unavailable', 'Redis, which serializes this operation, is unavailable; try again', { reason });
    }
  }
}

const lockTimeout = (key: string, waitTimeoutMs: number) =>
  new AppError(503, 'lock_timeout', `"${key}" is busy: another request held it for more than ${waitTimeoutMs} ms; try again`);

const closedError = () => new AppError(503, 'shutting_down', 'The service is shutting down; try again');
