import {
  Codec,
  DisconnectReason,
  ParticipantInfo,
  ParticipantInfo_Kind,
  ParticipantInfo_State,
  ParticipantPermission,
  Room,
  RoomEndReason,
  TimedVersion,
  TrackInfo,
  TrackSource,
  TrackType,
  WebhookEvent,
} from '@livekit/protocol';
import { randomBytes } from 'node:crypto';
import { newId, nowMsBig, nowNs } from './ids';
import { TwirpError, roomNotFound } from './twirp';

/** Server defaults (livekit `pkg/config/config.go`) and limits (`LimitConfig`). */
const DEFAULT_EMPTY_TIMEOUT = 300;
const DEFAULT_DEPARTURE_TIMEOUT = 20;
const MAX_ROOM_NAME_BYTES = 256;
export const MAX_METADATA_BYTES = 512 * 1024;
const ENABLED_CODECS = ['audio/opus', 'audio/red', 'video/VP8', 'video/H264', 'video/VP9', 'video/AV1'];

export type ParticipantKind = 'STANDARD' | 'EGRESS' | 'AGENT';
/** A published track: a camera or a microphone. */
export type TrackKind = 'video' | 'audio';

export interface ParticipantSpec {
  identity: string;
  name?: string;
  kind?: ParticipantKind;
  metadata?: string;
  attributes?: Record<string, string>;
  /** What it publishes right after joining (track_published each), as a browser with camera and microphone does. */
  tracks?: TrackKind[];
}

export interface RoomSpec {
  name: string;
  metadata?: string;
  emptyTimeout?: number;
  departureTimeout?: number;
  maxParticipants?: number;
}

interface LiveRoom {
  room: Room;
  participants: Map<string, ParticipantInfo>;
  /** SendData nonces already seen: LiveKit drops duplicates. */
  nonces: Set<string>;
}

/** What a participant of each kind may do; the recorder's grants come from egress `BuildEgressToken`. */
function permissionFor(kind: ParticipantKind): ParticipantPermission {
  if (kind === 'EGRESS') return new ParticipantPermission({ canSubscribe: true, hidden: true, recorder: true });
  return new ParticipantPermission({ canSubscribe: true, canPublish: true, canPublishData: true, agent: kind === 'AGENT' });
}

/** Recorders and agents are "dependent": they neither count in numParticipants nor keep a room alive. */
const isDependent = (p: ParticipantInfo) =>
  p.kind === ParticipantInfo_Kind.EGRESS || p.kind === ParticipantInfo_Kind.AGENT || !!p.permission?.recorder || !!p.permission?.agent;

const timedVersion = () => new TimedVersion({ unixMicro: nowNs() / 1000n, ticks: 0 });

/** Live rooms and their participants; every change that LiveKit reports by webhook is reported through `notify`. */
export class RoomStore {
  private readonly rooms = new Map<string, LiveRoom>();

  constructor(private readonly notify: (event: WebhookEvent) => void) {}

  /** CreateRoom: a live room is returned unchanged (request fields ignored), otherwise a new one starts. */
  create(spec: RoomSpec): Room {
    const existing = this.rooms.get(spec.name);
    if (existing) return existing.room;
    if (Buffer.byteLength(spec.name) > MAX_ROOM_NAME_BYTES) throw new TwirpError('invalid_argument', 'room name length exceeds limits');
    if (Buffer.byteLength(spec.metadata ?? '') > MAX_METADATA_BYTES)
      throw new TwirpError('invalid_argument', 'metadata size exceeds limits');
    const now = nowMsBig();
    const room = new Room({
      sid: newId('RM_'),
      name: spec.name,
      emptyTimeout: spec.emptyTimeout || DEFAULT_EMPTY_TIMEOUT,
      departureTimeout: spec.departureTimeout || DEFAULT_DEPARTURE_TIMEOUT,
      maxParticipants: spec.maxParticipants ?? 0,
      creationTime: now / 1000n,
      creationTimeMs: now,
      turnPassword: randomBytes(24).toString('base64url'),
      enabledCodecs: ENABLED_CODECS.map((mime) => new Codec({ mime })),
      metadata: spec.metadata ?? '',
      version: timedVersion(),
    });
    this.rooms.set(spec.name, { room, participants: new Map(), nonces: new Set() });
    this.notify(new WebhookEvent({ event: 'room_started', room: room.clone() }));
    return room;
  }

  /** The live room object (callers hand out clones). */
  get(name: string): Room | undefined {
    return this.rooms.get(name)?.room;
  }

  /** ListRooms: all rooms, or exact-name matches with unknown names skipped. */
  list(names: readonly string[]): Room[] {
    const live = [...this.rooms.values()].map((r) => r.room);
    return names.length === 0 ? live : live.filter((room) => names.includes(room.name));
  }

  setMetadata(name: string, metadata: string): Room {
    const live = this.require(name);
    live.room.metadata = metadata;
    live.room.version = timedVersion();
    return live.room;
  }

  /** LiveKit creates rooms on join (`auto_create`), so joining an unknown room starts it. */
  join(roomName: string, spec: ParticipantSpec): ParticipantInfo {
    const live = this.rooms.get(roomName) ?? this.require(this.create({ name: roomName }).name);
    if (live.participants.has(spec.identity)) this.leave(roomName, spec.identity, DisconnectReason.DUPLICATE_IDENTITY);
    const now = nowMsBig();
    const kind = spec.kind ?? 'STANDARD';
    const participant = new ParticipantInfo({
      sid: newId('PA_'),
      identity: spec.identity,
      name: spec.name ?? '',
      state: ParticipantInfo_State.ACTIVE,
      metadata: spec.metadata ?? '',
      attributes: spec.attributes ?? {},
      joinedAt: now / 1000n,
      joinedAtMs: now,
      version: 1,
      permission: permissionFor(kind),
      kind: ParticipantInfo_Kind[kind],
    });
    live.participants.set(spec.identity, participant);
    this.refresh(live);
    this.notify(new WebhookEvent({ event: 'participant_joined', room: live.room.clone(), participant: participant.clone() }));
    for (const track of spec.tracks ?? []) this.publish(roomName, spec.identity, track);
    return participant;
  }

  /**
   * The participant publishes a track: it is listed in its `tracks`, and track_published carries only
   * the room's and participant's sid and name/identity beside the track (livekit/livekit@788d4c354474383956067e3a22ffba88dd4803e4
   * pkg/rtc/room.go:2043-2059, pkg/telemetry/events.go:249-273).
   */
  publish(roomName: string, identity: string, kind: TrackKind): TrackInfo {
    const live = this.require(roomName);
    const participant = live.participants.get(identity);
    if (!participant) throw new Error(`participant "${identity}" is not in room "${roomName}"`);
    const video = kind === 'video';
    const track = new TrackInfo({
      sid: newId('TR_'),
      type: video ? TrackType.VIDEO : TrackType.AUDIO,
      source: video ? TrackSource.CAMERA : TrackSource.MICROPHONE,
      name: video ? 'camera' : 'microphone',
      mimeType: video ? 'video/VP8' : 'audio/opus',
      ...(video ? { width: 1280, height: 720 } : {}),
    });
    participant.tracks.push(track);
    participant.version += 1;
    this.notify(
      new WebhookEvent({
        event: 'track_published',
        room: new Room({ sid: live.room.sid, name: live.room.name }),
        participant: new ParticipantInfo({ sid: participant.sid, identity }),
        track: track.clone(),
      }),
    );
    return track;
  }

  /** Whether someone other than a recorder or agent publishes a track of `kind` (any kind when omitted). */
  hasPublisher(roomName: string, kind?: TrackKind): boolean {
    const type = kind && (kind === 'video' ? TrackType.VIDEO : TrackType.AUDIO);
    return this.participants(roomName).some((p) => !isDependent(p) && p.tracks.some((t) => type === undefined || t.type === type));
  }

  /** Removes a participant (participant_left); undefined when it is not there. */
  leave(roomName: string, identity: string, reason: DisconnectReason): ParticipantInfo | undefined {
    const live = this.rooms.get(roomName);
    const participant = live?.participants.get(identity);
    if (!live || !participant) return undefined;
    live.participants.delete(identity);
    this.refresh(live);
    this.notify(new WebhookEvent({ event: 'participant_left', room: live.room.clone(), participant: departed(participant, reason) }));
    return participant;
  }

  participants(roomName: string): ParticipantInfo[] {
    return [...(this.rooms.get(roomName)?.participants.values() ?? [])];
  }

  participant(roomName: string, identity: string): ParticipantInfo | undefined {
    return this.rooms.get(roomName)?.participants.get(identity);
  }

  setParticipantMetadata(roomName: string, identity: string, metadata: string): ParticipantInfo | undefined {
    const participant = this.participant(roomName, identity);
    if (!participant) return undefined;
    participant.metadata = metadata;
    participant.version += 1;
    return participant;
  }

  /** True the first time a room sees a non-empty nonce (duplicates are dropped by LiveKit). */
  acceptNonce(roomName: string, nonce: Uint8Array): boolean {
    const live = this.require(roomName);
    if (nonce.length === 0) return true;
    const key = Buffer.from(nonce).toString('hex');
    if (live.nonces.has(key)) return false;
    live.nonces.add(key);
    return true;
  }

  /** Closes a room: everyone is disconnected, then room_finished. Returns false for an unknown room. */
  close(name: string, reason: DisconnectReason, endReason: RoomEndReason): boolean {
    const live = this.rooms.get(name);
    if (!live) return false;
    for (const identity of [...live.participants.keys()]) this.leave(name, identity, reason);
    this.rooms.delete(name);
    this.notify(new WebhookEvent({ event: 'room_finished', room: live.room.clone(), roomEndReason: endReason }));
    return true;
  }

  names(): string[] {
    return [...this.rooms.keys()];
  }

  private require(name: string): LiveRoom {
    const live = this.rooms.get(name);
    if (!live) throw roomNotFound();
    return live;
  }

  /** The counters LiveKit keeps in the room proto (`room.go` `updateProto`). */
  private refresh(live: LiveRoom): void {
    const all = [...live.participants.values()];
    live.room.numParticipants = all.filter((p) => !isDependent(p)).length;
    live.room.activeRecording = all.some((p) => p.permission?.recorder === true);
    live.room.version = timedVersion();
  }
}

function departed(participant: ParticipantInfo, reason: DisconnectReason): ParticipantInfo {
  const gone = participant.clone();
  gone.state = ParticipantInfo_State.DISCONNECTED;
  gone.disconnectReason = reason;
  gone.version += 1;
  return gone;
}
