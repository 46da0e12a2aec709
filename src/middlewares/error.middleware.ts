import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../services/platform/logger';
import { AppError, notFound } from '../services/platform/app-error';

/** Express's body parsers and router mark the client's mistakes with a 4xx `status` (and parsers a `type`). */
interface ClientError {
  type?: string;
  status?: number;
}

function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  const { type, status } = (error ?? {}) as ClientError;
  if (type === 'entity.parse.failed') return new AppError(400, 'invalid_json', 'The request body is not valid JSON');
  if (type === 'entity.too.large') return new AppError(413, 'payload_too_large', 'The request body is too large');
  if (error instanceof URIError) return new AppError(400, 'invalid_request', 'The URL is not correctly percent-encoded');
  if (status && status >= 400 && status < 500) return new AppError(status, 'invalid_request', 'The request could not be read');
  return undefined;
}

/** The one error handler: `{errorMessage, code}` as JSON, never a stack trace. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const known = toAppError(error);
    if (!known || known.status >= 500) {
      log.error({ err: error, method: req.method, path: req.path }, known ? known.message : 'unexpected error');
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const answer = known ?? new AppError(500, 'internal', 'Internal server error');
    const retryAfterSeconds = answer.details?.retryAfterSeconds;
    if (typeof retryAfterSeconds === 'number') res.set('Retry-After', String(retryAfterSeconds));
    res.status(answer.status).json(answer.answer);
  };
}

export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json(notFound(`Cannot ${req.method} ${req.path}`).answer);
};
