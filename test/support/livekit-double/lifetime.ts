/**
 * Everything the double runs in the background (timers, deliveries, uploads) goes through one
 * Lifetime, so `close()` can cancel it all and jest never sees an open handle.
 */
export class Lifetime {
  private readonly controller = new AbortController();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly work = new Set<Promise<unknown>>();

  /** Aborted by `close()`: passed to sockets and S3 calls so they stop at once. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get closed(): boolean {
    return this.controller.signal.aborted;
  }

  /** Runs `fn` after `ms` unless closed first; returns a cancel function. */
  timer(ms: number, fn: () => void): () => void {
    if (this.closed) return () => undefined;
    const handle = setTimeout(() => {
      this.timers.delete(handle);
      fn();
    }, ms);
    this.timers.add(handle);
    return () => {
      clearTimeout(handle);
      this.timers.delete(handle);
    };
  }

  /** Waits `ms`; resolves false instead if the double closes meanwhile. */
  sleep(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = () => {
        cancel();
        resolve(false);
      };
      const cancel = this.timer(ms, () => {
        this.signal.removeEventListener('abort', onAbort);
        resolve(true);
      });
      this.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Waits for `promise` to settle; resolves false instead if the double closes first. */
  settled(promise: Promise<unknown>): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = () => resolve(false);
      this.signal.addEventListener('abort', onAbort, { once: true });
      const done = () => {
        this.signal.removeEventListener('abort', onAbort);
        resolve(true);
      };
      promise.then(done, done);
    });
  }

  /** Keeps track of background work so close() can wait for it; failures are swallowed here (logged by callers). */
  track<T>(promise: Promise<T>): Promise<T> {
    const settled = promise.then(
      () => undefined,
      () => undefined,
    );
    this.work.add(settled);
    void settled.then(() => this.work.delete(settled));
    return promise;
  }

  async close(): Promise<void> {
    this.controller.abort();
    for (const handle of this.timers) clearTimeout(handle);
    this.timers.clear();
    while (this.work.size > 0) await Promise.all([...this.work]);
  }
}
