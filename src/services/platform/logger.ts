import pino, { type DestinationStream, type Logger } from 'pino';
import { currentContext } from './request-context';

export type { Logger };

/**
 * Structured JSON logs. Secrets, tokens and signed URLs are never passed to it (request paths are
 * logged without their query); the redaction is a second line of defence.
 */
export function createLogger(level: string, name = 'recording-manager', destination?: DestinationStream): Logger {
  return pino(
    {
      name,
      level,
      // The request (or background job) each line belongs to, and its room and egress once known.
      mixin: () => ({ ...currentContext() }),
      redact: {
        paths: [
          'req.headers.authorization',
          'headers.authorization',
          'authorization',
          'token',
          'joinToken',
          'passcode',
          'recordingUrl',
          'url',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
