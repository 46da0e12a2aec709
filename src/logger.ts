import pino, { type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs; secrets, tokens and signed URLs are never passed to it. */
export function createLogger(level: string, name = 'recording-manager'): Logger {
  return pino({
    name,
    level,
    redact: { paths: ['req.headers.authorization', 'headers.authorization', 'token', 'recordingUrl'], censor: '[redacted]' },
  });
}
