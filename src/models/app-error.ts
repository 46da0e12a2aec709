/** The one error type the service raises on purpose: an HTTP status, a machine code and a message for people. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badRequest = (message: string, details?: Record<string, unknown>) => new AppError(400, 'invalid_request', message, details);
export const notFound = (message: string) => new AppError(404, 'not_found', message);
export const conflict = (code: string, message: string, details?: Record<string, unknown>) => new AppError(409, code, message, details);
export const upstreamError = (service: 'livekit' | 's3', message: string) => new AppError(502, `${service}_error`, message);
export const upstreamUnavailable = (service: 'livekit' | 's3' | 'dns', message: string) =>
  new AppError(503, `${service}_unavailable`, message);
export const timedOut = (message: string) => new AppError(503, 'timeout', message);
