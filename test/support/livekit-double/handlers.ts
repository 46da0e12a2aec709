import {
  CreateRoomRequest,
  DataPacket_Kind,
  DeleteRoomRequest,
  DeleteRoomResponse,
  DisconnectReason,
  ListEgressRequest,
  ListEgressResponse,
  ListParticipantsRequest,
  ListParticipantsResponse,
  ListRoomsRequest,
  ListRoomsResponse,
  RemoveParticipantResponse,
  RoomCompositeEgressRequest,
  RoomParticipantIdentity,
  SendDataRequest,
  SendDataResponse,
  StopEgressRequest,
  UpdateLayoutRequest,
  UpdateRoomMetadataRequest,
  UpdateStreamRequest,
} from '@livekit/protocol';
import type { VideoGrant } from 'livekit-server-sdk';
import { type GrantCheck, adminOf, needs } from './auth';
import type { EgressSimulator } from './egress';
import { MAX_METADATA_BYTES, type RoomStore } from './rooms';
import { TwirpError, participantNotFound, permissionDenied, roomNotFound } from './twirp';

/** A data message as the room received it. */
export interface DataPacketRecord {
  room: string;
  topic?: string;
  payload: Buffer;
  kind: 'RELIABLE' | 'LOSSY';
  destinationIdentities: string[];
  destinationSids: string[];
}

/** What the Twirp methods act on, besides the room store and the egress simulator. */
export interface TwirpBackend {
  rooms: RoomStore;
  egress: EgressSimulator;
  /** DeleteRoom: closes the room now; its egresses end in the background. */
  deleteRoom(name: string): void;
  metadataChanged(room: string, metadata: string): void;
  dataReceived(packet: DataPacketRecord): void;
}

interface ProtoResponse {
  toJson(options?: { useProtoFieldName?: boolean; emitDefaultValues?: boolean }): unknown;
}
interface ProtoRequestType<Req> {
  // `never`: any JSON value protobuf-es accepts; the transport already parsed it.
  fromJson(json: never, options?: { ignoreUnknownFields?: boolean }): Req;
}

/** A method: decode (malformed → 400), check the grant (→ 401 JSON), act. */
export type TwirpMethod = (json: unknown, video: VideoGrant | undefined) => ProtoResponse | Promise<ProtoResponse>;

function method<Req>(
  type: ProtoRequestType<Req>,
  allowed: GrantCheck<Req>,
  run: (req: Req) => ProtoResponse | Promise<ProtoResponse>,
): TwirpMethod {
  return (json, video) => {
    let request: Req;
    try {
      request = type.fromJson(json as never, { ignoreUnknownFields: true });
    } catch {
      throw new TwirpError('malformed', 'the json request could not be decoded');
    }
    if (!allowed(video, request)) throw permissionDenied();
    return run(request);
  };
}

function checkMetadataSize(metadata: string): void {
  if (Buffer.byteLength(metadata) > MAX_METADATA_BYTES) throw new TwirpError('invalid_argument', 'metadata size exceeds limits');
}

function roomServiceMethods(backend: TwirpBackend): Record<string, TwirpMethod> {
  const { rooms } = backend;
  return {
    CreateRoom: method(CreateRoomRequest, needs('roomCreate'), (req) =>
      rooms
        .create({
          name: req.name,
          metadata: req.metadata,
          emptyTimeout: req.emptyTimeout,
          departureTimeout: req.departureTimeout,
          maxParticipants: req.maxParticipants,
        })
        .clone(),
    ),
    ListRooms: method(
      ListRoomsRequest,
      needs('roomList'),
      (req) => new ListRoomsResponse({ rooms: rooms.list(req.names).map((r) => r.clone()) }),
    ),
    DeleteRoom: method(DeleteRoomRequest, needs('roomCreate'), (req) => {
      backend.deleteRoom(req.room);
      return new DeleteRoomResponse();
    }),
    UpdateRoomMetadata: method(
      UpdateRoomMetadataRequest,
      adminOf((req) => req.room),
      (req) => {
        checkMetadataSize(req.metadata);
        const room = rooms.setMetadata(req.room, req.metadata);
        backend.metadataChanged(req.room, req.metadata);
        return room.clone();
      },
    ),
    SendData: method(
      SendDataRequest,
      adminOf((req) => req.room),
      (req) => {
        sendData(backend, req);
        return new SendDataResponse();
      },
    ),
    ListParticipants: method(
      ListParticipantsRequest,
      adminOf((req) => req.room),
      (req) =>
        // An unknown room is an empty list, not a 404 (default `enable_psrpc_for_get_list_participants: false`).
        new ListParticipantsResponse({ participants: rooms.participants(req.room).map((p) => p.clone()) }),
    ),
    GetParticipant: method(
      RoomParticipantIdentity,
      adminOf((req) => req.room),
      (req) => {
        const participant = rooms.participant(req.room, req.identity);
        if (!participant) throw participantNotFound();
        return participant.clone();
      },
    ),
    RemoveParticipant: method(
      RoomParticipantIdentity,
      adminOf((req) => req.room),
      (req) => {
        if (!rooms.leave(req.room, req.identity, DisconnectReason.PARTICIPANT_REMOVED)) throw participantNotFound();
        return new RemoveParticipantResponse();
      },
    ),
  };
}

/**
 * SendData (§3.6). The real server does not pre-check the room and times out after ~15 s for an
 * unknown one; the contract lets a double answer 404 at once, which it does.
 */
function sendData(backend: TwirpBackend, req: SendDataRequest): void {
  if (req.nonce.length !== 0 && req.nonce.length !== 16)
    throw new TwirpError('invalid_argument', 'nonce should be 16-bytes or not present');
  if (!backend.rooms.get(req.room)) throw roomNotFound();
  if (!backend.rooms.acceptNonce(req.room, req.nonce)) return;
  backend.dataReceived({
    room: req.room,
    topic: req.topic,
    payload: Buffer.from(req.data),
    kind: req.kind === DataPacket_Kind.LOSSY ? 'LOSSY' : 'RELIABLE',
    destinationIdentities: [...req.destinationIdentities],
    destinationSids: [...req.destinationSids],
  });
}

function egressMethods({ egress }: TwirpBackend): Record<string, TwirpMethod> {
  const record = needs<unknown>('roomRecord');
  return {
    StartRoomCompositeEgress: method(RoomCompositeEgressRequest, record, (req) => egress.start(req)),
    StopEgress: method(StopEgressRequest, record, (req) => egress.stop(req.egressId)),
    ListEgress: method(ListEgressRequest, record, (req) => new ListEgressResponse({ items: egress.list(req) })),
    UpdateLayout: method(UpdateLayoutRequest, record, (req) => egress.updateLayout(req.egressId, req.layout)),
    UpdateStream: method(UpdateStreamRequest, record, (req) => egress.updateStream(req.egressId, req.addOutputUrls, req.removeOutputUrls)),
  };
}

export type ServiceName = 'RoomService' | 'Egress';

/** The Twirp services the double serves, by service then method name; anything else is `bad_route`. */
export function twirpServices(backend: TwirpBackend): Record<ServiceName, Record<string, TwirpMethod>> {
  return { RoomService: roomServiceMethods(backend), Egress: egressMethods(backend) };
}
