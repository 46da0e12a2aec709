import { z } from 'zod';

/** How one environment variable reads: each a zod schema from text to what config.ts keeps. */

/**
 * Durations accept a bare number of seconds ("30") or a unit suffix ("500ms", "30s", "5m", "6h").
 * Stored in milliseconds.
 */
export const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
      if (!match) {
        ctx.addIssue({ code: 'custom', message: `expected a duration like 30, 500ms, 30s, 5m or 6h; got "${text}"` });
        return z.NEVER;
      }
      const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 's'] ?? 1000;
      return Math.round(Number(match[1]) * unitMs);
    });

export const anyUrl = () => z.url({ protocol: /^(https?|wss?)$/, error: 'expected an http(s) or ws(s) URL' });
export const url = (fallback: string) => anyUrl().default(fallback);
export const optionalUrl = () => anyUrl().optional();

/** Empty, or ends with one "/" and never starts with one: keys are `${S3_PREFIX}${name}`. */
export const keyPrefix = z
  .string()
  .transform((prefix) => prefix.replace(/^\/+/, ''))
  .transform((prefix) => (prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`))
  .refine((prefix) => !prefix.split('/').some((part) => part === '.' || part === '..'), {
    message: 'must not contain "." or ".." segments',
  });

export const booleanFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .default(fallback ? 'true' : 'false')
    .transform((value) => value === 'true' || value === '1');

/** Origins (scheme://host[:port]) allowed to call the API from a browser; comma-separated. */
export const originList = z
  .string()
  .default('')
  .transform((text) =>
    text
      .split(',')
      .map((origin) => origin.trim())
      .filter(Boolean),
  )
  .refine(
    (origins) => origins.every((origin) => /^https?:\/\/[^/\s]+$/.test(origin)),
    'expected origins like https://app.example.com, comma-separated',
  );

export const secret = (minLength: number) => z.string().min(minLength, `at least ${minLength} characters`).optional();
