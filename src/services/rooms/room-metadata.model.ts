import type { RoomRecordingStatus } from '../recordings/recording.model';

/** Our keys in a room's metadata; every other key belongs to someone else and is kept. */
export interface OwnRoomMetadata {
  createdBy?: string;
  recordingStatus?: RoomRecordingStatus;
  /** True while the recording is STARTING and nobody publishes what it needs; absent otherwise. */
  recordingWaitingForPublisher?: true;
  /** The room's live stream, with the same five values. */
  streamingStatus?: RoomRecordingStatus;
}

type JsonObject = Record<string, unknown>;

/**
 * Room metadata is free text to LiveKit. We only ever write it when it is empty or a JSON object,
 * so that a room whose metadata belongs to another application is never clobbered.
 */
export function parseRoomMetadata(metadata: string): JsonObject | undefined {
  if (metadata.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(metadata);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : undefined;
  } catch {
    return undefined;
  }
}

/** The metadata with our keys set, or undefined when it is not ours to edit (not a JSON object). */
export function withOwnMetadata(metadata: string, own: OwnRoomMetadata): string | undefined {
  const current = parseRoomMetadata(metadata);
  if (!current) return undefined;
  return JSON.stringify({ ...current, ...own });
}
