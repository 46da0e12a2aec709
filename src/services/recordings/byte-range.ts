/** What a Range header asks of a representation of `size` bytes (RFC 9110 §14). */
export type RangeRequest = { kind: 'whole' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/** Longer Range headers are ignored: no player sends one, and nothing about them is worth parsing. */
export const MAX_RANGE_HEADER_LENGTH = 1024;

/**
 * Parses a single byte range against the known size. Anything we do not serve as a range (no header,
 * an overlong one, another unit, several ranges, a malformed or reversed range) is answered with the
 * whole representation, as RFC 9110 allows; a range starting past the end is unsatisfiable. One scan
 * of the header: no pattern that could backtrack over hostile whitespace.
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  const spec = header === undefined || header.length > MAX_RANGE_HEADER_LENGTH ? undefined : byteRangeSpec(header);
  if (!spec) return { kind: 'whole' };
  const { first, last } = spec;
  if (first === '' && last === '') return { kind: 'whole' };
  if (first === '') return suffixRange(Number(last), size);
  const start = Number(first);
  const end = last === '' ? Infinity : Number(last);
  if (end < start) return { kind: 'whole' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: Math.min(end, size - 1) };
}

const DIGITS = /^\d*$/;

/** `bytes = first - last`, white space allowed around each part; undefined for anything else. */
function byteRangeSpec(header: string): { first: string; last: string } | undefined {
  const equals = header.indexOf('=');
  if (equals < 0 || header.slice(0, equals).trim().toLowerCase() !== 'bytes') return undefined;
  const range = header.slice(equals + 1);
  const dash = range.indexOf('-');
  if (dash < 0) return undefined;
  const first = range.slice(0, dash).trim();
  const last = range.slice(dash + 1).trim();
  return DIGITS.test(first) && DIGITS.test(last) ? { first, last } : undefined;
}

/** `bytes=-n`: the last n bytes. S3 test servers get this wrong, so it is always made absolute. */
function suffixRange(length: number, size: number): RangeRequest {
  if (length === 0 || size === 0) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start: Math.max(0, size - length), end: size - 1 };
}
