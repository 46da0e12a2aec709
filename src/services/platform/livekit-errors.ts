import { setTimeout as sleep } from 'node:timers/promises';
import { ServerError } from 'livekit-server-sdk';
import { AppError, notFound, upstreamError, upstreamUnavailable } from './app-error';

/** Twirp's error codes (twitchtv/twirp errors.go), as LiveKit answers them. */
export type TwirpCode =
  | 'canceled'
  | 'unknown'
  | 'invalid_argument'
  | 'malformed'
  | 'deadline_exceeded'
  | 'not_found'
  | 'bad_route'
  | 'already_exists'
  | 'permission_denied'
  | 'unauthenticated'
  | 'resource_exhausted'
  | 'failed_precondition'
  | 'aborted'
  | 'out_of_range'
  | 'unimplemented'
  | 'internal'
  | 'unavailable'
  | 'dataloss';

/** The Twirp error LiveKit answered with, if it answered with one. */
export const twirpCode = (error: unknown): TwirpCode | undefined => (error instanceof ServerError ? (error.code as TwirpCode) : undefined);

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * No egress claimed the request (each short of CPU, or none running): Twirp `unavailable` with psrpc's
 * "no response from servers", or "no servers available" when egresses answered but none could take
 * it (livekit/psrpc@220fe5f93ac5d843ea72dd08de1efc1ada2ef176 pkg/client/rpc.go:196-206).
 */
export const noRecorderClaimed = (error: unknown) =>
  twirpCode(error) === 'unavailable' && /no response from servers|no servers available/.test(messageOf(error));

/** LiveKit knows no such egress (UpdateStream's other 404 is a URL the stream does not have). */
export const egressUnknown = (error: unknown) => twirpCode(error) === 'not_found' && /egress does not exist/.test(messageOf(error));

/** LiveKit unreachable, timed out or overloaded: worth asking again. */
function isTransient(error: unknown): boolean {
  if (error instanceof ServerError) return [408, 429, 502, 503, 504].includes(error.status);
  return !(error instanceof AppError);
}

/** Pauses between attempts of a retried LiveKit call: three attempts within about a second. */
export const LIVEKIT_RETRY_DELAYS_MS = [200, 600];

/**
 * Runs a LiveKit call that is safe to repeat (a read, or a write that sets a value), asking again
 * after a transient failure. Calls that act (start an egress, send a message) are never repeated.
 */
export async function retryTransient<T>(call: () => Promise<T>, delaysMs = LIVEKIT_RETRY_DELAYS_MS): Promise<T> {
  for (const delayMs of delaysMs) {
    try {
      return await call();
    } catch (error) {
      if (!isTransient(error)) throw error;
      await sleep(delayMs);
    }
  }
  return call();
}

/**
 * Turns a failed LiveKit call into a clear answer: unreachable, timed out or overloaded → 503;
 * refused credentials or any other error → 502. `notFoundMessage` maps LiveKit's 404 to ours.
 */
export function livekitError(error: unknown, action: string, notFoundMessage?: string): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof ServerError) {
    if (error.status === 404 && notFoundMessage) return notFound(notFoundMessage);
    if (error.status === 401) return upstreamError('livekit', `LiveKit refused the service's credentials (${action})`);
    if (isTransient(error)) return upstreamUnavailable('livekit', `LiveKit is unavailable (${action}): ${error.message}`);
    return upstreamError('livekit', `LiveKit could not ${action}: ${error.message}`);
  }
  const reason = error instanceof Error ? error.message : String(error);
  return upstreamUnavailable('livekit', `LiveKit is unreachable (${action}): ${reason}`);
}
