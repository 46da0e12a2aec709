/** What every feature stands on: errors, logging, metrics, request context, locks (memory, Redis), LiveKit call retries, readiness. */
export * from './app-error';
export * from './concurrency';
export * from './health.service';
export * from './livekit-errors';
export * from './lock.service';
export * from './logger';
export * from './metrics';
export * from './redis-lock.service';
export * from './request-context';
export * from './env-values';
