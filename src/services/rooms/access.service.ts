import { createHash, createHmac, randomBytes, randomInt, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { jwtVerify, SignJWT } from 'jose';
import { TokenVerifier } from 'livekit-server-sdk';
import { AppError, type ErrorCode } from '../platform/app-error';
import { annotateContext } from '../platform/request-context';

import {
  isRole,
  PERMISSIONS,
  type Permission,
  type Role,
  roleAttribute,
  type SessionBound,
  sessionAttributes,
  withinSession,
} from './access.model';

export type { Permission, Role, SessionBound };

/** Who is calling: the host application (admin key) or a person admitted to one room. */
export type Principal =
  | { kind: 'admin' }
  /** `session`: admitted openly, so bound to that session's recordings and later ones. */
  | { kind: 'member'; roomName: string; identity: string; role: Role; session?: SessionBound };

/** The claims of a join token, once verified. */
export interface JoinClaims {
  roomName: string;
  participantName?: string;
  role: Role;
}

export interface AccessOptions {
  appName: string;
  adminApiKey?: string;
  livekitApiKey: string;
  livekitApiSecret: string;
  permissions: Record<Role, readonly Permission[]>;
  mediaUrlKey: string;
  maxJoinTokenTtlMs: number;
  /** The lifetime of the room tokens the service mints (PARTICIPANT_TOKEN_TTL): none may live longer. */
  participantTokenTtlMs: number;
}

const JOIN_AUDIENCE = 'recording-manager:join';
/** Room tokens may outlive PARTICIPANT_TOKEN_TTL by this much: clocks of instances and LiveKit differ a little. */
const TOKEN_LIFETIME_SLACK_S = 60;
const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, length: number) => Promise<Buffer>;

export const unauthenticated = (message: string, code: ErrorCode = 'unauthenticated') => new AppError(401, code, message);
export const forbidden = (message: string) => new AppError(403, 'forbidden', message);

/**
 * Credentials and permissions: who a bearer token is, what each role may do in its room, join
 * tokens, passcode hashes and signed media URLs. Pure logic over keys from config; no Express.
 */
export class AccessService {
  private readonly verifier: TokenVerifier;
  private readonly adminKeyDigest?: Buffer;
  private readonly joinKey?: Uint8Array;

  constructor(private readonly options: AccessOptions) {
    this.verifier = new TokenVerifier(options.livekitApiKey, options.livekitApiSecret);
    if (options.adminApiKey) {
      this.adminKeyDigest = sha256(options.adminApiKey);
      this.joinKey = new TextEncoder().encode(options.adminApiKey);
    }
  }

  /** `Authorization: Bearer <admin key | LiveKit token from POST /token>`; 401 when absent or not valid. */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    const credential = bearer(authorization);
    if (!credential) throw unauthenticated('An Authorization: Bearer token is required');
    if (this.isAdminKey(credential)) return { kind: 'admin' };
    const claims = await this.verifier.verify(credential).catch(() => undefined);
    const room = claims?.video?.room;
    const role = claims?.attributes?.[roleAttribute(this.options.appName)];
    const session = claims && this.sessionOf(claims.attributes);
    if (!claims?.sub || !room || !claims.video?.roomJoin || !isRole(role) || !this.lifetimeAllowed(claims) || session === null) {
      throw unauthenticated('The token is not one this service issued, or it has expired');
    }
    return { kind: 'member', roomName: room, identity: claims.sub, role, ...(session && { session }) };
  }

  /** The session bound a token carries: undefined when it has none, null when it is malformed. */
  private sessionOf(attributes: Record<string, string> | undefined): SessionBound | undefined | null {
    const names = sessionAttributes(this.options.appName);
    const id = attributes?.[names.id];
    const startedAt = attributes?.[names.startedAt];
    if (id === undefined && startedAt === undefined) return undefined;
    return id && startedAt && /^\d{1,15}$/.test(startedAt) ? { id, startedAt: Number(startedAt) } : null;
  }

  /**
   * A token that lives longer than the service's own (or forever) was not minted by it: someone holding
   * the LiveKit secret made it. livekit-server-sdk sets `exp` and `nbf` (no `iat`); without `nbf`, the
   * rest of its life counts.
   */
  private lifetimeAllowed({ exp, nbf }: { exp?: number; nbf?: number }): boolean {
    if (typeof exp !== 'number') return false;
    const from = typeof nbf === 'number' ? nbf : Date.now() / 1000;
    return exp - from <= this.options.participantTokenTtlMs / 1000 + TOKEN_LIFETIME_SLACK_S;
  }

  /** A bearer credential that is exactly the admin key, compared in constant time. */
  isAdminKey(credential: string | undefined): boolean {
    return this.adminKeyDigest !== undefined && credential !== undefined && timingSafeEqual(sha256(credential), this.adminKeyDigest);
  }

  permissionsOf(principal: Principal): Permission[] {
    return principal.kind === 'admin' ? [...PERMISSIONS] : [...this.options.permissions[principal.role]];
  }

  /** 403 unless the principal may do `permission` in `roomName`. */
  authorize(principal: Principal, permission: Permission, roomName: string): void {
    // Every request about a room is authorized for it: from here on its log lines name the room.
    annotateContext({ roomName });
    if (principal.kind === 'admin') return;
    if (principal.roomName !== roomName) throw forbidden('This token is for another room');
    if (!this.options.permissions[principal.role].includes(permission)) {
      throw forbidden(`A ${principal.role} may not ${PERMISSION_VERBS[permission]} in this room`);
    }
  }

  /**
   * 403 unless the principal may do `permission` to this recording: in its room, and for a person
   * admitted openly, of their session or a later one.
   */
  authorizeRecording(
    principal: Principal,
    permission: Permission,
    recording: { roomName: string; roomId: string; startedAt: number },
  ): void {
    this.authorize(principal, permission, recording.roomName);
    if (principal.kind === 'member' && principal.session && !withinSession(recording, principal.session)) {
      throw forbidden('This recording is from an earlier session of the room');
    }
  }

  /** 403 for anyone but the host application. */
  authorizeAdmin(principal: Principal, message = "Only the host application's key may do this"): void {
    if (principal.kind !== 'admin') throw forbidden(message);
  }

  /** A join token the host application hands to one person: HS256 with the admin key. */
  async mintJoinToken(claims: JoinClaims, ttlMs: number): Promise<{ joinToken: string; expiresAt: number }> {
    if (!this.joinKey) throw new AppError(501, 'admin_key_missing', 'ADMIN_API_KEY is not configured');
    const expiresAt = Math.floor((Date.now() + Math.min(ttlMs, this.options.maxJoinTokenTtlMs)) / 1000);
    const joinToken = await new SignJWT({ room: claims.roomName, name: claims.participantName, role: claims.role })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience(JOIN_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(expiresAt)
      .sign(this.joinKey);
    return { joinToken, expiresAt: expiresAt * 1000 };
  }

  /** Verifies a join token (signature, audience, expiry, lifetime no longer than allowed); 401 otherwise. */
  async verifyJoinToken(joinToken: string): Promise<JoinClaims> {
    if (!this.joinKey) throw unauthenticated('Join tokens are not accepted: ADMIN_API_KEY is not configured');
    const { payload } = await jwtVerify(joinToken, this.joinKey, {
      algorithms: ['HS256'],
      audience: JOIN_AUDIENCE,
      requiredClaims: ['exp', 'iat', 'room'],
      maxTokenAge: Math.floor(this.options.maxJoinTokenTtlMs / 1000),
    }).catch(() => {
      throw unauthenticated('The join token is not valid (forged, expired or too long-lived)', 'invalid_join_token');
    });
    const { room, name, role } = payload as { room?: unknown; name?: unknown; role?: unknown };
    if (typeof room !== 'string' || (name !== undefined && typeof name !== 'string') || (role !== undefined && !isRole(role))) {
      throw unauthenticated('The join token is not valid (unexpected claims)', 'invalid_join_token');
    }
    return { roomName: room, participantName: name, role: role ?? 'participant' };
  }

  /** `scrypt$<salt>$<hash>`, salted per passcode. */
  async hashPasscode(passcode: string): Promise<string> {
    const salt = randomBytes(16);
    return `scrypt$${salt.toString('base64url')}$${(await scryptAsync(passcode, salt, 32)).toString('base64url')}`;
  }

  async passcodeMatches(passcode: string, stored: string | undefined): Promise<boolean> {
    const [scheme, salt, hash] = stored?.split('$') ?? [];
    if (scheme !== 'scrypt' || !salt || !hash) return false;
    const expected = Buffer.from(hash, 'base64url');
    const actual = await scryptAsync(passcode, Buffer.from(salt, 'base64url'), expected.length);
    return timingSafeEqual(actual, expected);
  }

  /** The signature of a media URL: HMAC-SHA256 over the name and its expiry (seconds), with a key every instance shares. */
  mediaSignature(name: string, expires: number): string {
    return createHmac('sha256', this.options.mediaUrlKey).update(`${name}\n${expires}`).digest('base64url');
  }

  mediaSignatureValid(name: string, expires: string | undefined, signature: string | undefined): boolean {
    if (!expires || !signature || !/^\d{1,12}$/.test(expires) || Number(expires) * 1000 < Date.now()) return false;
    const expected = Buffer.from(this.mediaSignature(name, Number(expires)));
    const given = Buffer.from(signature);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

const PERMISSION_VERBS: Record<Permission, string> = {
  record: 'start or stop recordings',
  list: 'list recordings',
  play: 'play recordings',
  delete: 'delete recordings',
  stream: 'stream the room live',
};

export function bearer(authorization: string | undefined): string | undefined {
  const match = /^Bearer +(\S+)\s*$/i.exec(authorization ?? '');
  return match?.[1];
}

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** Two secrets compared in constant time (their digests, so their lengths do not show either). */
export const sameSecret = (given: string | undefined, expected: string) =>
  given !== undefined && timingSafeEqual(sha256(given), sha256(expected));

/** A random passcode people can type: 12 characters from an alphabet without look-alikes. */
export function generatePasscode(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  return Array.from({ length: 12 }, () => alphabet[randomInt(alphabet.length)]).join('');
}
