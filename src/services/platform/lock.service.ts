/** Runs work one at a time per key. Issue-4 swaps in a Redis lock for several instances behind this interface. */
export interface LockService {
  withLock<T>(key: string, work: () => Promise<T>): Promise<T>;
}

/** In-process: a promise chain per key, dropped when its queue drains. */
export class LocalLockService implements LockService {
  private readonly tails = new Map<string, Promise<unknown>>();

  async withLock<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const run = previous.then(work, work);
    const tail = run.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

export const roomLockKey = (roomName: string) => `room:${roomName}`;
