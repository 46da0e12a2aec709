import type { Logger } from './logger';
import { withTimeout } from './concurrency';

export interface Dependency {
  name: string;
  ping: () => Promise<void>;
}

export interface Readiness {
  ready: boolean;
  checks: Record<string, 'ok' | 'unavailable'>;
}

/**
 * Readiness: every dependency answers within the time limit. The answer is public, so it names the
 * dependency that does not answer and nothing more; its error (which names hosts and ports) is logged.
 */
export async function checkReadiness(dependencies: Dependency[], log: Logger, timeoutMs = 3000): Promise<Readiness> {
  const results = await Promise.all(
    dependencies.map(async ({ name, ping }) => {
      try {
        await withTimeout(ping(), timeoutMs, () => new Error(`no answer within ${timeoutMs} ms`));
        return [name, 'ok'] as const;
      } catch (error) {
        log.warn({ err: error, dependency: name }, 'readiness check failed');
        return [name, 'unavailable'] as const;
      }
    }),
  );
  return { ready: results.every(([, status]) => status === 'ok'), checks: Object.fromEntries(results) };
}
