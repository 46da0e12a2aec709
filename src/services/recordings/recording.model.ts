import { EgressInfo, EgressStatus } from 'livekit-server-sdk';
import { z } from 'zod';
import { recordingMetadataSchema, recordingOptionsSchema } from './recording-options.model';

export const RECORDING_STATUSES = ['STARTING', 'ACTIVE', 'ENDING', 'COMPLETE', 'FAILED', 'ABORTED', 'LIMIT_REACHED'] as const;
export type RecordingStatus = (typeof RECORDING_STATUSES)[number];

export const ROOM_RECORDING_STATUSES = ['STARTING', 'STARTED', 'STOPPING', 'STOPPED', 'FAILED'] as const;
export type RoomRecordingStatus = (typeof ROOM_RECORDING_STATUSES)[number];

export const END_REASONS = ['stopped', 'roomClosed', 'maxDuration', 'startTimeout', 'roomEmpty', 'limit', 'noPublisher'] as const;
export type EndReason = (typeof END_REASONS)[number];

/** What the sidecar holds: one JSON object per recording, beside the media. */
export const recordingSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  roomName: z.string(),
  roomId: z.string(),
  status: z.enum(RECORDING_STATUSES),
  startedAt: z.number(),
  endedAt: z.number().optional(),
  duration: z.number().default(0),
  size: z.number().default(0),
  mediaKey: z.string().min(1),
  /** Set once the media object was seen in S3 with size > 0 after the egress finished. */
  mediaVerified: z.boolean().default(false),
  /** The media's validators as S3 reported them then (the media never changes afterwards). */
  etag: z.string().optional(),
  lastModified: z.number().optional(),
  /** What went wrong: LiveKit's error, or ours when we ended it for a reason of ours that we word (noPublisher). */
  error: z.string().optional(),
  /** LiveKit's own error, kept beside ours when `error` is the service's. */
  livekitError: z.string().optional(),
  endReason: z.enum(END_REASONS).optional(),
  /** While STARTING: nobody in the room publishes what it needs, so egress waits for its start signal. */
  waitingForPublisher: z.boolean().optional(),
  /** How it was asked for (recordings this service started with options). */
  options: recordingOptionsSchema.optional(),
  /** The host application's own fields (meeting id, who started it). */
  metadata: recordingMetadataSchema.optional(),
  /** Its maximum length (s) and the moment it must end by (ms), enforced by the reconciler. */
  maxDuration: z.number().optional(),
  deadline: z.number().optional(),
  /** Where egress puts the images it captures (`<prefix>_00000.jpeg`…), and the one kept as poster. */
  thumbnailPrefix: z.string().optional(),
  thumbnailKey: z.string().optional(),
  /** How many images egress captured (it reports the count; the keys follow from the prefix). */
  imageCount: z.number().optional(),
  /** When everyone had left: the end of the grace period (ms), after which it stops; 0 once someone came back. */
  autoStopAt: z.number().optional(),
  updatedAt: z.number(),
});
export type Recording = z.infer<typeof recordingSchema>;

/** A sidecar written by the OpenVidu reference tutorial: no status, no mediaKey. */
export const referenceSidecarSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  roomName: z.string(),
  roomId: z.string(),
  startedAt: z.number(),
  duration: z.number().default(0),
  size: z.number().default(0),
});
export type ReferenceSidecar = z.infer<typeof referenceSidecarSchema>;

/** The recording as the API shows it. */
export type RecordingView = Omit<Recording, 'mediaVerified' | 'etag' | 'lastModified'> & { playable: boolean };

const FINAL_STATUSES: ReadonlySet<RecordingStatus> = new Set(['COMPLETE', 'FAILED', 'ABORTED', 'LIMIT_REACHED']);

/** End reasons whose `error` is the service's words, not LiveKit's. */
const WORDED_BY_US: ReadonlySet<EndReason> = new Set(['noPublisher']);

export const isFinal = (status: RecordingStatus) => FINAL_STATUSES.has(status);

/** STARTING < ACTIVE < ENDING < every final status (the model's order). */
export const statusRank = (status: RecordingStatus) => (isFinal(status) ? 3 : ['STARTING', 'ACTIVE', 'ENDING'].indexOf(status));

export const producesMedia = (status: RecordingStatus) => status === 'COMPLETE' || status === 'LIMIT_REACHED';

export const isPlayable = (recording: Recording) => producesMedia(recording.status) && recording.size > 0 && recording.mediaVerified;

export function toView(recording: Recording): RecordingView {
  const { mediaVerified: _verified, etag: _etag, lastModified: _lastModified, ...fields } = recording;
  return { ...fields, playable: isPlayable(recording) };
}

const ROOM_STATUS_BY_RECORDING_STATUS: Record<RecordingStatus, RoomRecordingStatus> = {
  STARTING: 'STARTING',
  ACTIVE: 'STARTED',
  ENDING: 'STOPPING',
  COMPLETE: 'STOPPED',
  LIMIT_REACHED: 'STOPPED',
  FAILED: 'FAILED',
  ABORTED: 'FAILED',
};
export const roomStatusOf = (status: RecordingStatus) => ROOM_STATUS_BY_RECORDING_STATUS[status];

/** `EGRESS_COMPLETE` → `COMPLETE`. */
export const statusFromEgress = (status: EgressStatus): RecordingStatus => {
  const name = EgressStatus[status]?.replace(/^EGRESS_/, '');
  return (RECORDING_STATUSES as readonly string[]).includes(name ?? '') ? (name as RecordingStatus) : 'FAILED';
};

const nanosToMillis = (nanos: bigint) => Number(nanos / 1_000_000n);
const nanosToSeconds = (nanos: bigint) => Number(nanos) / 1e9;

/** Egress reports why it ended in `details` ("End reason: StopEgress API"). */
function endReasonOf(info: EgressInfo, status: RecordingStatus): EndReason | undefined {
  if (status === 'LIMIT_REACHED') return 'limit';
  if (!isFinal(status) && status !== 'ENDING') return undefined;
  if (/StopEgress API/i.test(info.details) || /Stop called/i.test(info.error)) return 'stopped';
  if (/Source closed|Start signal not received/i.test(`${info.details} ${info.error}`)) return 'roomClosed';
  return undefined;
}

/** The file output of an egress: `fileResults[0]`, else the deprecated `file` result. */
export function fileResultOf(info: EgressInfo) {
  return info.fileResults[0] ?? (info.result.case === 'file' ? info.result.value : undefined);
}

/** "Weekly sync 2026-11-21 14.05.mp4": the room and when it started (UTC), for people's download folders. */
export function downloadName(recording: Recording): string {
  const started = new Date(recording.startedAt).toISOString().slice(0, 16).replace('T', ' ').replace(':', '.');
  const extension = recording.name.slice(recording.name.lastIndexOf('.'));
  return `${recording.roomName.replace(/[\\/:*?"<>|\p{Cc}]+/gu, '_')} ${started}${extension}`;
}

/** A Content-Disposition for a download (RFC 6266): an ASCII fallback name, and the real one in UTF-8. */
export function attachment(fileName: string): string {
  const fallback = fileName.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

/** The last path segment of a key: a recording's handle never contains "/". */
export const baseName = (key: string) => key.slice(key.lastIndexOf('/') + 1);

/** What an EgressInfo says about a recording, or undefined when it has no file output. */
export function recordingFromEgress(info: EgressInfo, now = Date.now()): Recording | undefined {
  const file = fileResultOf(info);
  if (!file?.filename) return undefined;
  const status = statusFromEgress(info.status);
  return {
    id: info.egressId,
    name: baseName(file.filename),
    roomName: info.roomName,
    roomId: info.roomId,
    status,
    startedAt: nanosToMillis(info.startedAt),
    endedAt: info.endedAt > 0n ? nanosToMillis(info.endedAt) : undefined,
    duration: nanosToSeconds(file.duration),
    size: Number(file.size),
    mediaKey: file.filename,
    mediaVerified: false,
    error: info.error || undefined,
    endReason: endReasonOf(info, status),
    imageCount: info.imageResults[0]?.imageCount ? Number(info.imageResults[0].imageCount) : undefined,
    updatedAt: now,
  };
}

/** The key of a captured image: egress's `IMAGE_SUFFIX_INDEX` naming, `<prefix>_00000.jpeg`. */
export const imageKeyOf = (prefix: string, index: number) => `${prefix}_${String(index).padStart(5, '0')}.jpeg`;

/** Every image egress reported for a recording. */
export const imageKeysOf = (recording: Recording) =>
  recording.thumbnailPrefix ? Array.from({ length: recording.imageCount ?? 0 }, (_, i) => imageKeyOf(recording.thumbnailPrefix!, i)) : [];

/**
 * Applies what an egress reports to what we know, never moving backwards: a lower rank, or any
 * change out of a final status, leaves the recording as it is. Returns `current` itself when
 * nothing changes, so callers can skip the write.
 */
export function mergeRecording(current: Recording | undefined, incoming: Recording): Recording {
  if (!current) return incoming;
  if (statusRank(incoming.status) < statusRank(current.status) || isFinal(current.status)) return current;
  // Once we said why it ended in our own words, LiveKit's error goes beside ours.
  const ourError = current.endReason !== undefined && WORDED_BY_US.has(current.endReason);
  const merged: Recording = {
    ...incoming,
    error: ourError ? current.error : incoming.error,
    livekitError: incoming.livekitError ?? (ourError ? incoming.error : undefined) ?? current.livekitError,
    // Only a recording that has not started waits for a publisher.
    waitingForPublisher: incoming.status === 'STARTING' ? (incoming.waitingForPublisher ?? current.waitingForPublisher) : undefined,
    // Set once and kept: the handle, where its media lives, and why it ended when we decided it.
    name: current.name,
    mediaKey: current.mediaKey,
    startedAt: current.startedAt || incoming.startedAt,
    endReason: current.endReason ?? incoming.endReason,
    // Ours, never in what LiveKit reports: an amendment may change them, an egress event keeps them.
    options: incoming.options ?? current.options,
    metadata: incoming.metadata ?? current.metadata,
    maxDuration: incoming.maxDuration ?? current.maxDuration,
    deadline: incoming.deadline ?? current.deadline,
    autoStopAt: incoming.autoStopAt ?? current.autoStopAt,
    thumbnailPrefix: incoming.thumbnailPrefix ?? current.thumbnailPrefix,
    thumbnailKey: incoming.thumbnailKey ?? current.thumbnailKey,
    imageCount: incoming.imageCount ?? current.imageCount,
  };
  return sameRecording(current, merged) ? current : merged;
}

function sameRecording(a: Recording, b: Recording) {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof Recording>;
  return [...keys].every((key) => key === 'updatedAt' || a[key] === b[key]);
}
