import { withTimeout } from './concurrency';

export interface Dependency {
  name: string;
  ping(): Promise<void>;
}

export interface Readiness {
  ready: boolean;
  checks: Record<string, string>;
}

/** Readiness: every dependency answers within the time limit; says which one does not. */
export async function checkReadiness(dependencies: Dependency[], timeoutMs = 3000): Promise<Readiness> {
  const results = await Promise.all(
    dependencies.map(async (dependency) => {
      try {
        await withTimeout(dependency.ping(), timeoutMs, () => new Error(`no answer within ${timeoutMs} ms`));
        return [dependency.name, 'ok'] as const;
      } catch (error) {
        return [dependency.name, error instanceof Error ? error.message : String(error)] as const;
      }
    }),
  );
  return { ready: results.every(([, status]) => status === 'ok'), checks: Object.fromEntries(results) };
}
