import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ClaimGrants, VideoGrant } from 'livekit-server-sdk';

/** LiveKit's verifier allows one minute of clock skew (protocol `auth/verifier.go`). */
const LEEWAY_SECONDS = 60;

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** An HS256 JWT signed with the UTF-8 bytes of `secret`, as both the SDK and the server mint them. */
export function signJwt(claims: Record<string, unknown>, secret: string): string {
  const signingInput = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  const signature = createHmac('sha256', secret).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}

export type AuthResult =
  | { kind: 'anonymous' } // no token at all: the handler's grant check refuses it (JSON 401)
  | { kind: 'verified'; claims: ClaimGrants }
  | { kind: 'rejected'; message: string }; // the middleware's plain-text 401

function parseSegment(segment: string | undefined): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment ?? '', 'base64url').toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function signatureMatches(token: string, secret: string): boolean {
  const dot = token.lastIndexOf('.');
  const expected = createHmac('sha256', secret).update(token.slice(0, dot)).digest();
  const actual = Buffer.from(token.slice(dot + 1), 'base64url');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Registered-claim checks of go-jose's `jwt.Expected` with LiveKit's options (exp required, 1 min leeway). */
function timeProblem(claims: Record<string, unknown>, nowSeconds: number): string | undefined {
  const { exp, nbf } = claims;
  if (typeof exp !== 'number') return 'go-jose/go-jose/jwt: validation failed, missing exp claim';
  if (nowSeconds > exp + LEEWAY_SECONDS) return 'go-jose/go-jose/jwt: validation failed, token is expired (exp)';
  if (typeof nbf === 'number' && nowSeconds < nbf - LEEWAY_SECONDS)
    return 'go-jose/go-jose/jwt: validation failed, token not valid yet (nbf)';
  return undefined;
}

/**
 * LiveKit's `APIKeyAuthMiddleware`: `Authorization: Bearer <jwt>` (or `?access_token=`), HS256 only,
 * API key from the unverified `iss`, then signature and times.
 */
export function verifyRequest(authorization: string | undefined, queryToken: string | null, keys: ReadonlyMap<string, string>): AuthResult {
  let token: string;
  if (authorization) {
    if (!authorization.startsWith('Bearer ')) return { kind: 'rejected', message: 'invalid authorization header. Must start with Bearer ' };
    token = authorization.slice('Bearer '.length);
  } else if (queryToken) {
    token = queryToken;
  } else {
    return { kind: 'anonymous' };
  }
  const [headerPart, claimsPart, signaturePart, ...rest] = token.split('.');
  const header = parseSegment(headerPart);
  const claims = parseSegment(claimsPart);
  if (!header || !claims || signaturePart === undefined || rest.length > 0 || header.alg !== 'HS256') {
    return { kind: 'rejected', message: 'invalid authorization token' };
  }
  const secret = typeof claims.iss === 'string' ? keys.get(claims.iss) : undefined;
  if (secret === undefined) return { kind: 'rejected', message: 'invalid API key' };
  if (!signatureMatches(token, secret))
    return { kind: 'rejected', message: 'invalid authorization token: go-jose/go-jose: error in cryptographic primitive' };
  const problem = timeProblem(claims, Date.now() / 1000);
  if (problem) return { kind: 'rejected', message: `invalid authorization token: ${problem}` };
  return { kind: 'verified', claims };
}

/** A grant check for one Twirp method (contract §2.3). */
export type GrantCheck<Req> = (video: VideoGrant | undefined, request: Req) => boolean;

/** `roomList`, `roomCreate` or `roomRecord`: a plain flag. */
export const needs =
  <Req>(grant: 'roomList' | 'roomCreate' | 'roomRecord'): GrantCheck<Req> =>
  (video) =>
    video?.[grant] === true;

/** `roomAdmin` for exactly the room the request names. */
export const adminOf =
  <Req>(roomOf: (request: Req) => string): GrantCheck<Req> =>
  (video, request) =>
    video?.roomAdmin === true && video.room === roomOf(request);
