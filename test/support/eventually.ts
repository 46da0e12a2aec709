import { inspect, types } from 'node:util';

/** How a failed check's error reads in a timeout message (an Error from any realm as its own toString). */
export const describeError = (error: unknown): string => (types.isNativeError(error) ? String(error) : inspect(error));

/** Polls `check` (sync or async) until it returns a value other than undefined/false, or fails at the deadline. */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 5000, intervalMs = 15, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} not met within ${timeoutMs} ms${lastError ? `: ${describeError(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
