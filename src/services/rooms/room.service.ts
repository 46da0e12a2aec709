import { AccessToken, DataPacket_Kind, type ParticipantInfo, type Room, RoomServiceClient } from 'livekit-server-sdk';
import type { Logger } from '../platform/logger';
import { type OwnRoomMetadata, withOwnMetadata } from './room-metadata.model';
import { roleAttribute, type SessionBound, sessionAttributes } from './access.model';
import { livekitError, retryTransient, twirpCode } from '../platform/livekit-errors';

export interface RoomServiceOptions {
  appName: string;
  apiKey: string;
  apiSecret: string;
  participantTokenTtlMs: number;
}

/** LiveKit rooms: admission tokens, room metadata (what participants see) and data messages. */
export class RoomService {
  constructor(
    private readonly client: RoomServiceClient,
    private readonly options: RoomServiceOptions,
    private readonly log: Logger,
  ) {}

  /**
   * Creates the room with our metadata. LiveKit's CreateRoom returns a live room unchanged, so there is
   * no check-then-create race and a room someone else created keeps its metadata.
   */
  async ensureRoom(roomName: string): Promise<Room> {
    const metadata = JSON.stringify({ createdBy: this.options.appName, recordingStatus: 'STOPPED', streamingStatus: 'STOPPED' });
    try {
      return await retryTransient(() => this.client.createRoom({ name: roomName, metadata }));
    } catch (error) {
      throw livekitError(error, 'create the room');
    }
  }

  /**
   * A participant's token: join, publish and subscribe in one room; never Egress or admin rights. The
   * role, and the session of someone admitted openly, travel as signed attributes, which the service
   * reads back when the token is presented.
   */
  async participantToken(
    roomName: string,
    participant: { identity: string; name: string; role: string; session?: SessionBound },
  ): Promise<string> {
    const names = sessionAttributes(this.options.appName);
    const session = participant.session && { [names.id]: participant.session.id, [names.startedAt]: String(participant.session.startedAt) };
    const token = new AccessToken(this.options.apiKey, this.options.apiSecret, {
      identity: participant.identity,
      name: participant.name,
      attributes: { [roleAttribute(this.options.appName)]: participant.role, ...session },
      ttl: Math.floor(this.options.participantTokenTtlMs / 1000),
    });
    token.addGrant({ room: roomName, roomJoin: true, canPublish: true, canSubscribe: true, canPublishData: true });
    return token.toJwt();
  }

  async getRoom(roomName: string): Promise<Room | undefined> {
    try {
      const [room] = await retryTransient(() => this.client.listRooms([roomName]));
      return room;
    } catch (error) {
      throw livekitError(error, 'look up the room');
    }
  }

  /**
   * Sets our status keys (`recordingStatus`, `streamingStatus`) in the room's metadata, keeping every
   * other key. A room that is gone is not an error (returns false), and neither is metadata that is
   * not ours to edit (logged, left alone). `known` is the room as just read, to save asking again.
   */
  async setStatus(roomName: string, status: OwnRoomMetadata, known?: Room): Promise<boolean> {
    const room = known ?? (await this.getRoom(roomName));
    if (!room) return false;
    const metadata = withOwnMetadata(room.metadata, status);
    if (metadata === undefined) {
      this.log.warn({ roomName }, 'room metadata is not a JSON object: status not published');
      return false;
    }
    if (metadata === room.metadata) return true;
    try {
      await retryTransient(() => this.client.updateRoomMetadata(roomName, metadata));
      return true;
    } catch (error) {
      if (twirpCode(error) === 'not_found') return false;
      throw livekitError(error, 'update the room metadata');
    }
  }

  /** A reliable data message to everyone in the room, when the room still exists. */
  async broadcast(roomName: string, topic: string, payload: unknown): Promise<boolean> {
    if (!(await this.getRoom(roomName))) return false;
    const data = new TextEncoder().encode(JSON.stringify(payload));
    try {
      await this.client.sendData(roomName, data, DataPacket_Kind.RELIABLE, { topic, destinationIdentities: [] });
      return true;
    } catch (error) {
      if (twirpCode(error) === 'not_found') return false;
      throw livekitError(error, 'send a data message');
    }
  }

  /** Who is in the room now (LiveKit lists recorders and agents too); none when it is gone. */
  async participants(roomName: string): Promise<ParticipantInfo[]> {
    try {
      return await retryTransient(() => this.client.listParticipants(roomName));
    } catch (error) {
      if (twirpCode(error) === 'not_found') return [];
      throw livekitError(error, "list the room's participants");
    }
  }

  /** Readiness: LiveKit answers an authenticated call. */
  async ping(): Promise<void> {
    try {
      await this.client.listRooms(['readiness-check']);
    } catch (error) {
      throw livekitError(error, 'list rooms');
    }
  }
}
