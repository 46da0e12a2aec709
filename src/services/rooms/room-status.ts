import { type RecordingStatus, roomStatusOf } from '../recordings/recording.model';
import type { OwnRoomMetadata } from './room-metadata.model';
import type { RoomRecord, RoomStore } from './room-store';
import type { RoomService } from './room.service';

/** What the room shows: its recording's status as `recordingStatus`, its stream's as `streamingStatus`. */
const ACTIVITIES = {
  recording: { pointer: 'currentRecording', metadataKey: 'recordingStatus', waitingKey: 'recordingWaitingForPublisher' },
  stream: { pointer: 'currentStream', metadataKey: 'streamingStatus', waitingKey: undefined },
} as const satisfies Record<string, { pointer: keyof RoomRecord; metadataKey: keyof OwnRoomMetadata; waitingKey?: keyof OwnRoomMetadata }>;
export type RoomActivity = keyof typeof ACTIVITIES;

export interface RoomActivitySubject {
  id: string;
  roomName: string;
  startedAt: number;
  status: RecordingStatus;
  name?: string;
  waitingForPublisher?: boolean;
}

/**
 * Publishes the status of the room's current recording or stream: the latest one this service
 * started for the room name. An event about an older one never changes what the room shows.
 * Callers hold the room's lock.
 */
export async function publishRoomStatus(
  rooms: RoomService,
  roomRecords: RoomStore,
  kind: RoomActivity,
  subject: RoomActivitySubject,
): Promise<void> {
  // A room that is gone shows nothing; its next session starts with a status of its own.
  const liveRoom = await rooms.getRoom(subject.roomName);
  if (!liveRoom) return;
  const { pointer, metadataKey, waitingKey } = ACTIVITIES[kind];
  const room = await roomRecords.get(subject.roomName);
  const current = room?.[pointer];
  if (current && current.id !== subject.id) {
    const newer = subject.startedAt > current.startedAt || (subject.startedAt === current.startedAt && subject.id > current.id);
    if (!newer) return;
  }
  if (current?.id !== subject.id) {
    const { id, startedAt, name } = subject;
    await roomRecords.put({ ...room, roomName: subject.roomName, [pointer]: { id, startedAt, name }, updatedAt: Date.now() });
  }
  const waiting = waitingKey && { [waitingKey]: (subject.status === 'STARTING' && subject.waitingForPublisher) || undefined };
  await rooms.setStatus(subject.roomName, { [metadataKey]: roomStatusOf(subject.status), ...waiting }, liveRoom);
}
