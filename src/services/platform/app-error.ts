/**
 * Every machine code an error answer (`{errorMessage, code}`) carries, listed once: clients branch
 * on them, so a new one is added here, and nowhere does control flow compare a code by hand.
 */
export const ERROR_CODES = [
  // The request: 400, 413, 416.
  'invalid_request',
  'invalid_json',
  'payload_too_large',
  'range_not_satisfiable',
  // Who is asking: 401, 403.
  'unauthenticated',
  'invalid_webhook',
  'invalid_media_url',
  'invalid_join_token',
  'invalid_passcode',
  'passcode_required',
  'admission_required',
  'forbidden',
  // What it is about: 404, 409.
  'not_found',
  'recording_active',
  'recording_not_active',
  'recording_in_progress',
  'recording_not_playable',
  'stream_active',
  'stream_not_active',
  // Too much at once: 429.
  'rate_limited',
  'passcode_locked',
  'too_many_media_streams',
  'media_streams_full',
  // The service and what it depends on: 499, 5xx.
  'client_closed',
  'internal',
  'admin_key_missing',
  'livekit_error',
  's3_error',
  'livekit_unavailable',
  's3_unavailable',
  'dns_unavailable',
  'redis_unavailable',
  'recorder_unavailable',
  'lock_timeout',
  'timeout',
  'starting_up',
  'shutting_down',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** The body of every error answer. */
export interface ErrorAnswer {
  errorMessage: string;
  code: ErrorCode;
}

/** The one error type the service raises on purpose: an HTTP status, a machine code and a message for people. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
  }

  get answer(): ErrorAnswer {
    return { errorMessage: this.message, code: this.code };
  }
}

export const badRequest = (message: string, details?: Record<string, unknown>) => new AppError(400, 'invalid_request', message, details);
export const notFound = (message: string) => new AppError(404, 'not_found', message);
export const conflict = (code: ErrorCode, message: string, details?: Record<string, unknown>) => new AppError(409, code, message, details);
export const upstreamError = (service: 'livekit' | 's3', message: string) => new AppError(502, `${service}_error`, message);
export const upstreamUnavailable = (service: 'livekit' | 's3' | 'dns', message: string) =>
  new AppError(503, `${service}_unavailable`, message);
export const timedOut = (message: string) => new AppError(503, 'timeout', message);
