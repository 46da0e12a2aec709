import type { Config } from '../../config';
import type { Logger } from '../platform/logger';
import type { Room } from 'livekit-server-sdk';
import { PASSCODE_MIN_LENGTH } from './access.model';
import { AppError, upstreamError } from '../platform/app-error';
import { parseRoomMetadata } from './room-metadata.model';
import { randomBytes } from 'node:crypto';
import {
  type AccessService,
  bearer,
  forbidden,
  generatePasscode,
  type Permission,
  type Role,
  type SessionBound,
  unauthenticated,
} from './access.service';
import { withTimeout } from '../platform/concurrency';
import { failureKey, type FailureCounter } from './failure-counter';
import { type LockService, roomLockKey } from '../platform/lock.service';
import type { RecordingStore } from '../storage/recording-store.service';
import type { RoomAccess, RoomStore } from './room-store';
import type { RoomService } from './room.service';

/** What `POST /token` may carry: one of the host application's key (header), a join token, a passcode. */
export interface AdmissionRequest {
  authorization?: string;
  roomName?: string;
  participantName?: string;
  role?: Role;
  joinToken?: string;
  passcode?: string;
  /** Who is asking, as the rate limits see them (one IPv6 /56 is one address): wrong passcodes count per address. */
  clientAddress?: string;
}

export interface Admission {
  token: string;
  livekitUrl: string;
  roomName: string;
  identity: string;
  participantName: string;
  role: Role;
  permissions: Permission[];
  /** Given once, to whoever claims an unclaimed room in open admission: their way back in as moderator. */
  moderatorPasscode?: string;
  /** To moderators: the kinds of this room's passcodes that are shorter than the rule, for the host application to change. */
  shortPasscodes?: Role[];
}

export interface RoomSettings {
  /** A string sets it, null removes it, absent leaves it. */
  passcode?: string | null;
  moderatorPasscode?: string | null;
  owner?: string | null;
}

export interface RoomAccessView {
  roomName: string;
  owner: string | null;
  hasPasscode: boolean;
  hasModeratorPasscode: boolean;
  /** Kinds whose passcode, set before the 8-character rule, is shorter (learnt when it last admitted someone). */
  shortPasscodes: Role[];
}

interface Decision {
  roomName: string;
  participantName: string;
  role: Role;
  /** Open admission into a room name nobody holds: the person may become its owner. */
  claim?: boolean;
  /** The host application admitted them: the room name is the host's from now on. */
  hosted?: boolean;
  /** Nobody vouched for them: they are bound to the session they join (and later ones). */
  open?: boolean;
  /** Nobody vouched for them either: they are bound to the session they claimed the name in (and later ones). */
  claimSession?: SessionBound;
  /** The room's passcodes shorter than the rule, as the room record read to decide says (unread: undefined). */
  shortPasscodes?: Role[];
}

/** The owner recorded for rooms the host application admits people to. */
export const HOST_OWNER = 'host application';

const admissionRequired = () =>
  unauthenticated("Joining needs a join link, the room's passcode, or the host application's key", 'admission_required');

/**
 * Who may join which room, and as what. Admission is decided before the room is created, so a
 * refused person creates nothing. Room access (owner, passcodes) is kept in S3 per room name.
 */
export class AdmissionService {
  constructor(
    private readonly access: AccessService,
    private readonly rooms: RoomService,
    private readonly store: RecordingStore,
    private readonly roomRecords: RoomStore,
    private readonly locks: LockService,
    private readonly failures: FailureCounter,
    private readonly config: Config,
    /** Whether the start-up repair has finished (false: there is none), or when it does; names are claimed only after it. */
    private readonly startupRepair: () => boolean | Promise<boolean>,
    private readonly log: Logger,
  ) {}

  async admit(request: AdmissionRequest): Promise<Admission> {
    const decision = await this.decide(request);
    const identity = uniqueIdentity(decision.participantName);
    const room = await this.rooms.ensureRoom(decision.roomName);
    // Claimed only once the room exists, so a LiveKit failure leaves the name free for the next try.
    const hostAccess = decision.hosted ? await this.holdForHost(decision.roomName) : undefined;
    const moderatorPasscode = decision.claim ? await this.claim(room, identity) : undefined;
    const role = moderatorPasscode ? 'moderator' : decision.role;
    const session = decision.open ? sessionOf(room) : decision.claimSession;
    const token = await this.rooms.participantToken(decision.roomName, { identity, name: decision.participantName, role, session });
    const shortPasscodes = role === 'moderator' ? (decision.shortPasscodes ?? hostAccess?.shortPasscodes ?? []) : [];
    return {
      token,
      livekitUrl: this.config.livekit.publicUrl,
      roomName: decision.roomName,
      identity,
      participantName: decision.participantName,
      role,
      permissions: this.access.permissionsOf({ kind: 'member', roomName: decision.roomName, identity, role }),
      moderatorPasscode,
      ...(shortPasscodes.length > 0 ? { shortPasscodes } : {}),
    };
  }

  /** The host application's settings for a room (admin only): passcodes are stored hashed. */
  async configure(roomName: string, settings: RoomSettings): Promise<RoomAccessView> {
    return this.locks.withLock(roomLockKey(roomName), async () => {
      const room = await this.roomRecords.get(roomName);
      const access: RoomAccess = { ...(room?.access ?? { claimedAt: Date.now() }) };
      if (settings.owner !== undefined) access.owner = settings.owner ?? undefined;
      // Equal passcodes would make every participant a moderator (the moderator one is tried first).
      const sameAsOther = async (passcode: string | null | undefined, otherHash: string | undefined) =>
        typeof passcode === 'string' && (await this.access.passcodeMatches(passcode, otherHash));
      if (
        (await sameAsOther(settings.passcode, settings.moderatorPasscode === undefined ? access.moderatorPasscodeHash : undefined)) ||
        (await sameAsOther(settings.moderatorPasscode, settings.passcode === undefined ? access.passcodeHash : undefined))
      ) {
        throw new AppError(400, 'invalid_request', 'passcode and moderatorPasscode must differ');
      }
      if (settings.passcode !== undefined)
        access.passcodeHash = settings.passcode === null ? undefined : await this.access.hashPasscode(settings.passcode);
      if (settings.moderatorPasscode !== undefined) {
        access.moderatorPasscodeHash =
          settings.moderatorPasscode === null ? undefined : await this.access.hashPasscode(settings.moderatorPasscode);
        // No longer the claimant's own passcode: who holds it now, the host application vouched for.
        delete access.claimSession;
      }
      // A passcode set or removed is no longer the short one.
      const stillShort = access.shortPasscodes?.filter(
        (kind) => (kind === 'moderator' ? settings.moderatorPasscode : settings.passcode) === undefined,
      );
      access.shortPasscodes = stillShort?.length ? stillShort : undefined;
      await this.roomRecords.put({ ...room, roomName, access, updatedAt: Date.now() });
      return viewOf(roomName, access);
    });
  }

  async describe(roomName: string): Promise<RoomAccessView> {
    return viewOf(roomName, (await this.roomRecords.get(roomName))?.access);
  }

  private async decide(request: AdmissionRequest): Promise<Decision> {
    if (request.authorization !== undefined) return this.byHostApplication(request);
    if (request.joinToken !== undefined) return this.byJoinToken(request);
    const roomName = required(request.roomName, 'roomName');
    const participantName = required(request.participantName, 'participantName');
    const room = await this.roomRecords.get(roomName);
    if (request.passcode !== undefined) {
      const role = await this.byPasscode(roomName, request.passcode, room?.access, request.clientAddress ?? '');
      const shortPasscodes = await this.shortPasscodesAfter(roomName, room?.access, role, request.passcode);
      // The moderator passcode a claim generated vouches for nobody but the claimant: their bound stays.
      return {
        roomName,
        participantName,
        role,
        shortPasscodes,
        claimSession: role === 'moderator' ? room?.access?.claimSession : undefined,
      };
    }
    if (!this.config.security.openAdmission) throw admissionRequired();
    if (room?.access?.passcodeHash) throw passcodeRequired();
    // A name with a record already belongs to someone (the host, a claimant, its recordings); claim() checks the rest.
    return { roomName, participantName, role: 'participant', claim: !room, open: true, shortPasscodes: room?.access?.shortPasscodes ?? [] };
  }

  private byHostApplication(request: AdmissionRequest): Decision {
    if (!this.access.isAdminKey(bearer(request.authorization)))
      throw unauthenticated("Only the host application's key admits people by header");
    return {
      roomName: required(request.roomName, 'roomName'),
      participantName: required(request.participantName, 'participantName'),
      role: request.role ?? 'participant',
      hosted: true,
    };
  }

  private async byJoinToken(request: AdmissionRequest): Promise<Decision> {
    const claims = await this.access.verifyJoinToken(request.joinToken!);
    if (request.roomName !== undefined && request.roomName !== claims.roomName) throw forbidden('The join token is for another room');
    const participantName = claims.participantName ?? required(request.participantName, 'participantName');
    return { roomName: claims.roomName, participantName, role: claims.role, hosted: true };
  }

  /**
   * Wrong passcodes are counted twice: per room and kind, whoever guesses (many addresses cannot
   * share out the guesses at one room), and per client address, whichever room (one address cannot
   * go from room to room). An attempt is reserved on the address and each kind before any compare,
   * so a burst at once gets no more compares than the limit; a kind that is locked out or fully
   * reserved is not even compared (every attempt is refused, 429), nor is anything while the address
   * is. A wrong one was wrong for both kinds, so it counts against both. A success resets only its
   * own kind and gives the rest back: knowing the participant passcode does not wipe out the count
   * of guesses at the moderator one, nor the address's guesses elsewhere.
   */
  private async byPasscode(roomName: string, passcode: string, access: RoomAccess | undefined, address: string): Promise<Role> {
    const kindKey = (kind: Role) => failureKey('room', roomName, kind);
    const addressKey = failureKey('address', address);
    const [addressWait, ...kindWaits] = await this.failures.reserve([addressKey, ...PASSCODE_KINDS.map(kindKey)]);
    const open = PASSCODE_KINDS.filter((_, index) => kindWaits[index] === 0);
    const giveBack = (keys: string[]) => Promise.all(keys.map((key) => this.failures.release(key)));
    if (addressWait > 0 || open.length === 0) {
      await giveBack([...(addressWait > 0 ? [] : [addressKey]), ...open.map(kindKey)]);
      throw passcodeLocked(addressWait > 0 ? addressWait : Math.min(...kindWaits));
    }
    // The moderator passcode first, as the two can never be equal.
    for (const kind of open) {
      const hash = hashOf(access, kind);
      if (!(await this.access.passcodeMatches(passcode, hash))) continue;
      await Promise.all([
        this.failures.reset(kindKey(kind)),
        giveBack([addressKey, ...open.filter((other) => other !== kind).map(kindKey)]),
      ]);
      return kind;
    }
    await Promise.all([addressKey, ...open.map(kindKey)].map((key) => this.failures.fail(key)));
    const locks = kindWaits.filter((ms) => ms > 0);
    if (locks.length > 0) throw passcodeLocked(Math.min(...locks));
    throw unauthenticated('The passcode is not right for this room', 'invalid_passcode');
  }

  /** The room's short passcodes once this admission is counted: a passcode set before the rule is noted the first time it admits. */
  private async shortPasscodesAfter(roomName: string, access: RoomAccess | undefined, kind: Role, passcode: string): Promise<Role[]> {
    const known = access?.shortPasscodes ?? [];
    if (passcode.length >= PASSCODE_MIN_LENGTH || known.includes(kind)) return known;
    await this.noteShort(roomName, kind, hashOf(access, kind)!);
    return [...known, kind];
  }

  /**
   * Remembers that a kind's passcode is shorter than the rule (unless it changed meanwhile), so that
   * moderators and the host application are told. Best effort: the passcode was right, and a failed
   * note is tried again at its next use.
   */
  private async noteShort(roomName: string, kind: Role, hash: string): Promise<void> {
    try {
      await this.locks.withLock(roomLockKey(roomName), async () => {
        const room = await this.roomRecords.get(roomName);
        const access = room?.access;
        if (!access || hashOf(access, kind) !== hash || access.shortPasscodes?.includes(kind)) return;
        await this.roomRecords.put({
          ...room,
          roomName,
          access: { ...access, shortPasscodes: [...(access.shortPasscodes ?? []), kind] },
          updatedAt: Date.now(),
        });
      });
    } catch (error) {
      this.log.warn({ err: error, roomName, kind }, 'could not note a short passcode; it is tried again when the passcode next admits');
    }
  }

  /** Records that the host application holds the room name, unless someone already does; returns the name's access. */
  private async holdForHost(roomName: string): Promise<RoomAccess> {
    const known = (await this.roomRecords.get(roomName))?.access;
    if (known) return known;
    return this.locks.withLock(roomLockKey(roomName), async () => {
      const room = await this.roomRecords.get(roomName);
      if (room?.access) return room.access;
      const access: RoomAccess = { owner: HOST_OWNER, claimedAt: Date.now() };
      await this.roomRecords.put({ ...room, roomName, access, updatedAt: Date.now() });
      return access;
    });
  }

  /**
   * Open admission: the first person into a room name nobody holds becomes its owner, and gets the
   * moderator passcode that brings them back as moderator. Under the room's lock, so one wins. A
   * name is held by its record, by any recording of it, and by a live room another application made;
   * recordings an earlier version or the reference left are known once the start-up repair is done.
   */
  private async claim(liveRoom: Room, owner: string): Promise<string | undefined> {
    const roomName = liveRoom.name;
    if (!(await this.startupRepairDone())) return undefined;
    return this.locks.withLock(roomLockKey(roomName), async () => {
      const room = await this.roomRecords.get(roomName);
      // Someone was first after all; a passcode set meanwhile still applies.
      if (room?.access?.passcodeHash) throw passcodeRequired();
      if (room || !this.createdByUs(liveRoom)) return undefined;
      if (await this.store.roomHasRecordings(roomName)) {
        // The record holds the name from now on: later walk-ins are refused without these LISTs.
        await this.roomRecords.keep(roomName);
        return undefined;
      }
      const moderatorPasscode = generatePasscode();
      const access: RoomAccess = {
        owner,
        moderatorPasscodeHash: await this.access.hashPasscode(moderatorPasscode),
        claimSession: sessionOf(liveRoom),
        claimedAt: Date.now(),
      };
      await this.roomRecords.put({ roomName, access, updatedAt: Date.now() });
      return moderatorPasscode;
    });
  }

  /** Whether the start-up repair has finished, waiting for it up to CLAIM_WAIT_MS (then 503 starting_up). */
  private async startupRepairDone(): Promise<boolean> {
    const done = this.startupRepair();
    return typeof done === 'boolean' ? done : withTimeout(done, CLAIM_WAIT_MS, startingUp);
  }

  /** Another application's live room (on the same LiveKit) is not ours to hand out. */
  private createdByUs(room: Room): boolean {
    return parseRoomMetadata(room.metadata)?.createdBy === this.config.appName;
  }
}

/** Names are what people see; identities must be unique in a room, or LiveKit drops the earlier holder. */
function uniqueIdentity(participantName: string): string {
  return `${participantName}#${randomBytes(4).toString('hex')}`;
}

/** LiveKit's session of the room: its sid and creation time (ms; older servers give seconds only). */
function sessionOf(room: Room): SessionBound {
  const startedAt = Number(room.creationTimeMs) || Number(room.creationTime) * 1000;
  if (!room.sid || !startedAt) throw upstreamError('livekit', "LiveKit answered without the room's session");
  return { id: room.sid, startedAt };
}

/** How long a claim waits for the start-up repair before answering 503. */
const CLAIM_WAIT_MS = 15_000;
const startingUp = () => new AppError(503, 'starting_up', 'The service is still checking its recordings; try again in a moment');

const passcodeRequired = () => unauthenticated('This room needs its passcode', 'passcode_required');

const PASSCODE_KINDS: readonly Role[] = ['moderator', 'participant'];
const hashOf = (access: RoomAccess | undefined, kind: Role) =>
  kind === 'moderator' ? access?.moderatorPasscodeHash : access?.passcodeHash;

function passcodeLocked(lockedForMs: number): AppError {
  const retryAfterSeconds = Math.ceil(lockedForMs / 1000);
  return new AppError(429, 'passcode_locked', `Too many wrong passcodes: try again in ${retryAfterSeconds} s, or join with a link`, {
    retryAfterSeconds,
  });
}

function required(value: string | undefined, field: string): string {
  if (value === undefined) throw new AppError(400, 'invalid_request', `${field} is required`);
  return value;
}

function viewOf(roomName: string, access: RoomAccess | undefined): RoomAccessView {
  return {
    roomName,
    owner: access?.owner ?? null,
    hasPasscode: Boolean(access?.passcodeHash),
    hasModeratorPasscode: Boolean(access?.moderatorPasscodeHash),
    shortPasscodes: access?.shortPasscodes ?? [],
  };
}
