import { ServerError } from 'livekit-server-sdk';
import { AppError, notFound, upstreamError, upstreamUnavailable } from '../models/app-error';

/** A Twirp error LiveKit answered with, e.g. `not_found` or `failed_precondition`. */
export const twirpCode = (error: unknown): string | undefined => (error instanceof ServerError ? error.code : undefined);

/**
 * Turns a failed LiveKit call into a clear answer: unreachable, timed out or overloaded → 503;
 * refused credentials or any other error → 502. `notFoundMessage` maps LiveKit's 404 to ours.
 */
export function livekitError(error: unknown, action: string, notFoundMessage?: string): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof ServerError) {
    if (error.status === 404 && notFoundMessage) return notFound(notFoundMessage);
    if (error.status === 401) return upstreamError('livekit', `LiveKit refused the service's credentials (${action})`);
    if (error.status === 503 || error.status === 429 || error.status === 408) {
      return upstreamUnavailable('livekit', `LiveKit is unavailable (${action}): ${error.message}`);
    }
    return upstreamError('livekit', `LiveKit could not ${action}: ${error.message}`);
  }
  const reason = error instanceof Error ? error.message : String(error);
  return upstreamUnavailable('livekit', `LiveKit is unreachable (${action}): ${reason}`);
}
