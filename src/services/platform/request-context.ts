import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** What every log line written while handling one request (or one background job) carries. */
export interface RequestContext {
  requestId: string;
  roomName?: string;
  egressId?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Runs `work` (and everything it starts) with this context. */
export const runWithContext = <T>(context: RequestContext, work: () => T): T => storage.run(context, work);

/** Background work has no request: it gets an id of its own, named after the job (`reconcile-…`). */
export const runAsJob = <T>(job: string, work: () => T): T => storage.run({ requestId: `${job}-${randomUUID().slice(0, 8)}` }, work);

export const currentContext = (): RequestContext | undefined => storage.getStore();

/** Adds the room and egress the current request turned out to be about. */
export function annotateContext(fields: { roomName?: string; egressId?: string }): void {
  const context = storage.getStore();
  if (context) Object.assign(context, Object.fromEntries(Object.entries(fields).filter(([, value]) => value)));
}

/** A caller's `X-Request-Id` is kept when it is a plain token; anything else gets a fresh id. */
export const requestIdFrom = (header: string | undefined): string => (header && /^[\w.:-]{1,128}$/.test(header) ? header : randomUUID());
