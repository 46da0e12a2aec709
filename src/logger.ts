import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Secrets, tokens and signed URLs are never passed to it (request paths are
 * logged without their query); the redaction is a second line of defence.
 */
export function createLogger(level: string, name = 'recording-manager', destination?: DestinationStream): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', 'authorization', 'token', 'joinToken', 'passcode', 'recordingUrl', 'url'],
      censor: '[redacted]',
    },
  }, destination);
}
