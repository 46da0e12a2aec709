import type { ServerResponse } from 'node:http';

/** Twirp error code → HTTP status (twitchtv/twirp `ServerHTTPStatusFromErrorCode`). */
export const TWIRP_STATUS = {
  canceled: 408,
  unknown: 500,
  invalid_argument: 400,
  malformed: 400,
  deadline_exceeded: 408,
  not_found: 404,
  bad_route: 404,
  already_exists: 409,
  permission_denied: 403,
  unauthenticated: 401,
  resource_exhausted: 429,
  failed_precondition: 412,
  aborted: 409,
  out_of_range: 400,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  data_loss: 500,
} as const;

export type TwirpCode = keyof typeof TWIRP_STATUS;

export const isTwirpCode = (code: string): code is TwirpCode => Object.prototype.hasOwnProperty.call(TWIRP_STATUS, code);

/** An error the handlers throw; the transport turns it into LiveKit's JSON error body. */
export class TwirpError extends Error {
  constructor(
    readonly code: TwirpCode,
    readonly msg: string,
    readonly meta?: Record<string, string>,
  ) {
    super(`${code}: ${msg}`);
  }

  get status(): number {
    return TWIRP_STATUS[this.code];
  }
}

// The messages LiveKit's server and egress use (pkg/service/errors.go, egress pkg/errors).
export const roomNotFound = () => new TwirpError('not_found', 'requested room does not exist');
export const egressNotFound = () => new TwirpError('not_found', 'egress does not exist');
export const participantNotFound = () => new TwirpError('not_found', 'participant does not exist');
export const permissionDenied = () => new TwirpError('unauthenticated', 'permissions denied');
export const invalidField = (field: string) => new TwirpError('invalid_argument', `request has missing or invalid field: ${field}`);

/** `Content-Type` must be exactly `application/json`: the SDK only parses error bodies on an exact match. */
export function writeJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function writeTwirpError(res: ServerResponse, error: TwirpError): void {
  writeJson(res, error.status, { code: error.code, msg: error.msg, ...(error.meta ? { meta: error.meta } : {}) });
}

/** LiveKit's auth middleware answers with Go's `http.Error`: plain text and a trailing newline. */
export function writePlain(res: ServerResponse, status: number, text: string): void {
  const body = `${text}\n`;
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}
