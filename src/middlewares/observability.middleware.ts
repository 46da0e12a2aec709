import type { Request, RequestHandler } from 'express';
import type { Logger } from '../services/platform/logger';
import type { Metrics } from '../services/platform/metrics';
import { currentContext, requestIdFrom, runWithContext } from '../services/platform/request-context';

/** Polled by probes and Prometheus: logged at debug level only, so they do not drown the rest. */
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/** Each request gets an id (the caller's `X-Request-Id`, or a fresh one), answered back and carried by every log line. */
export function requestContext(): RequestHandler {
  return (req, res, next) => {
    const requestId = requestIdFrom(req.get('X-Request-Id'));
    res.set('X-Request-Id', requestId);
    runWithContext({ requestId }, next);
  };
}

/**
 * The route pattern (`/recordings/:name`), never the path: names would make a label per recording.
 * Static files, and requests answered before a route (401, 429, 404), are `unrouted`.
 */
const routeOf = (req: Request) => {
  const route = req.route as { path: string } | undefined;
  return route ? `${req.baseUrl}${route.path}` : 'unrouted';
};

/** One log line and one observation of the request metric per request, once it is answered or abandoned. */
export function requestLog(log: Logger, metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const context = currentContext();
    const stopTimer = metrics.httpRequests.startTimer();
    // 'close' comes last, also when the client went away first (a player abandoning a range).
    res.once('close', () => {
      const route = routeOf(req);
      const seconds = stopTimer({ method: req.method, route, status: String(res.statusCode) });
      const level = res.statusCode >= 500 ? 'warn' : QUIET_ROUTES.has(route) ? 'debug' : 'info';
      const path = req.originalUrl.split('?')[0]; // never the query: it may hold a signature
      const abandoned = !res.writableFinished || undefined;
      log[level](
        { ...context, method: req.method, path, route, status: res.statusCode, abandoned, durationMs: Math.round(seconds * 1000) },
        'request',
      );
    });
    next();
  };
}
