import { randomBytes } from 'node:crypto';
import type { EgressInfo } from 'livekit-server-sdk';
import type { Config } from '../../config';
import type { Logger } from '../platform/logger';
import { AppError, badRequest, conflict, notFound, upstreamUnavailable } from '../platform/app-error';
import type { StartRequest } from '../../models/api.model';
import { parseRange } from './byte-range';
import { expandFileTemplate } from './file-template.model';
import { ENCODING_FIELDS, type Layout, type RecordingOptions } from './recording-options.model';
import { attachment, downloadName, isFinal, isPlayable, type Recording, recordingFromEgress } from './recording.model';
import { someonePublishes } from '../rooms/participant.model';
import { annotateContext } from '../platform/request-context';
import { mapConcurrent } from '../platform/concurrency';
import type { EgressService } from '../egress/egress.service';
import { enqueueDeletion, type NotificationService } from '../notifications/notification.service';
import { type LockService, roomLockKey } from '../platform/lock.service';
import type { ApplyResult, RecordingEventsService } from './recording-events.service';
import { parseEntryKey } from '../storage/recording-index';
import type { ListFilter, RecordingStore } from '../storage/recording-store.service';
import type { RoomService } from '../rooms/room.service';
import type { ObjectHead, ObjectRead, S3Service } from '../storage/s3.service';

export const RECORDING_DELETED_TOPIC = 'RECORDING_DELETED';

export interface ListQuery extends ListFilter {
  limit: number;
  cursor?: string;
}

export interface RecordingPage {
  recordings: Recording[];
  nextCursor: string | null;
}

export type MediaRead =
  | { kind: 'whole' | 'partial'; object: ObjectRead; start: number; end: number; recording: Recording }
  | { kind: 'unsatisfiable'; size: number }
  | { kind: 'not-modified' };

/** The request headers that shape a media read (RFC 9110 §13, §14). */
export interface MediaRequest {
  range?: string;
  ifRange?: string;
  ifNoneMatch?: string;
}

const URL_CACHE_SIZE = 10_000;
const urlCacheKey = (name: string, download: boolean) => `${download ? 'download' : 'play'}:${name}`;

/** Checks, once the recording is known, that the caller may act on it (throws 403 otherwise). */
export type Guard = (recording: Recording) => void;

export interface PlaybackUrl {
  url: string;
  /** When the URL stops working (ms since the epoch): the client asks for a fresh one before. */
  expiresAt: number;
}

/** Starting, stopping, listing, playing and deleting recordings. */
export class RecordingService {
  private readonly urls = new Map<string, { answer: PlaybackUrl; recording: Recording; until: number }>();

  constructor(
    private readonly deps: {
      config: Config;
      store: RecordingStore;
      s3: S3Service;
      egress: EgressService;
      rooms: RoomService;
      events: RecordingEventsService;
      locks: LockService;
      log: Logger;
      notifications: NotificationService;
      /** Signs a proxy media URL: the name and its expiry (seconds). */
      signMedia: (name: string, expires: number) => string;
    },
  ) {}

  /** Starts the room's recording; one at a time per room (409 otherwise). */
  async start({ roomName, ...request }: StartRequest): Promise<Recording> {
    const { egress, locks } = this.deps;
    return locks.withLock(roomLockKey(roomName), async () => {
      const [active] = await egress.activeRecordings(roomName);
      if (active) {
        throw conflict('recording_active', 'The room already has an active recording', { recordingId: active.egressId });
      }
      const options = this.optionsFor(request);
      const { path, thumbnailIntervalMs } = this.deps.config.recordings;
      // A random folder of ours per recording: known before egress fills in the file name, never
      // guessed, and small to list.
      const thumbnailPrefix =
        thumbnailIntervalMs > 0 && !options.audioOnly ? `${path}.thumbnails/${randomBytes(12).toString('hex')}/frame` : undefined;
      const thumbnails = thumbnailPrefix ? { prefix: thumbnailPrefix, intervalMs: thumbnailIntervalMs } : undefined;
      const info = await egress.startRecording(roomName, this.mediaPath(roomName), options, thumbnails);
      annotateContext({ egressId: info.egressId });
      const maxDurationMs =
        request.maxDuration !== undefined ? request.maxDuration * 1000 : this.deps.config.recordings.defaults.maxDurationMs;
      return this.recordStarted(info, {
        options,
        thumbnailPrefix,
        metadata: request.metadata,
        waitingForPublisher: await this.waitsForPublisher(roomName, options.audioOnly),
        ...(maxDurationMs > 0 ? { maxDuration: maxDurationMs / 1000, deadline: Date.now() + maxDurationMs } : {}),
      });
    });
  }

  /**
   * True when nobody in the room publishes what the recording needs: egress then waits for its start
   * signal (track_published clears it). Unknown, and left out, when LiveKit cannot say.
   */
  private async waitsForPublisher(roomName: string, audioOnly: boolean): Promise<true | undefined> {
    try {
      return someonePublishes(await this.deps.rooms.participants(roomName), audioOnly) ? undefined : true;
    } catch (error) {
      this.deps.log.warn({ err: error, roomName }, 'could not tell whether anyone publishes in the room');
      return undefined;
    }
  }

  /** Changes the layout of the room's active recording (409 when none is active). */
  async changeLayout(roomName: string, layout: Layout): Promise<Recording> {
    const { egress, locks, events, store } = this.deps;
    return locks.withLock(roomLockKey(roomName), async () => {
      const [active] = await egress.activeRecordings(roomName);
      if (!active) throw conflict('recording_not_active', 'The room has no active recording');
      await egress.updateLayout(active, layout);
      const recording = recordingFromEgressOrFail(active);
      const current = (await store.get(recording.name)) ?? recording;
      const result = await events.amendLocked(current, { options: { ...(current.options ?? this.optionsFor({})), layout } });
      return recordingOf(result) ?? current;
    });
  }

  /** The request's options over the configured defaults; an audio-only recording has no video settings. */
  private optionsFor(request: Omit<StartRequest, 'roomName'>): RecordingOptions {
    const { defaults } = this.deps.config.recordings;
    const audioOnly = request.audioOnly ?? false;
    const encoding = Object.fromEntries(
      ENCODING_FIELDS.filter((field) => request[field] !== undefined).map((field) => [field, request[field]]),
    );
    const explicit = Object.keys(encoding).length > 0;
    return {
      layout: request.layout ?? defaults.layout,
      preset: audioOnly || explicit ? undefined : (request.preset ?? defaults.preset),
      encoding: explicit ? encoding : undefined,
      audioOnly,
    };
  }

  /**
   * Stops the room's active recordings (one, unless an earlier start outlived its caller); 409 when
   * there is none. Once LiveKit has accepted the stop, the answer is a success: the webhooks will
   * record the rest even if our own write fails now.
   */
  async stop(roomName: string): Promise<Recording> {
    const { egress, events, log } = this.deps;
    // Not under the room's lock: a stop racing the egress's end may wait seconds for LiveKit, and a
    // new recording in the room need not wait for that. A second stop meanwhile is harmless.
    const active = await egress.activeRecordings(roomName);
    if (active.length === 0) throw conflict('recording_not_active', 'The room has no active recording');
    const stopped: Recording[] = [];
    for (const recording of active) {
      const info = await egress.stop(recording.egressId);
      annotateContext({ egressId: info.egressId });
      const result = await events.apply(info).catch((error: unknown) => {
        log.warn({ err: error, egressId: info.egressId, roomName }, 'stopped, but not yet recorded; webhooks will catch up');
        return undefined;
      });
      stopped.push((result && recordingOf(result)) ?? recordingFromEgressOrFail(info));
    }
    return stopped[0];
  }

  /** A page of recordings, newest first; `nextCursor` continues exactly after its last one. */
  async list({ cursor, ...request }: ListQuery): Promise<RecordingPage> {
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const page = await this.deps.store.list({ ...request, after });
    return { recordings: page.recordings, nextCursor: page.after === undefined ? null : encodeCursor(page.after) };
  }

  async get(name: string, guard: Guard): Promise<Recording> {
    const recording = this.found(name, await this.deps.store.get(name));
    guard(recording);
    return recording;
  }

  private found(name: string, recording: Recording | undefined): Recording {
    if (!recording || !recording.mediaKey.startsWith(this.deps.config.recordings.path)) {
      throw notFound(`Recording "${name}" not found`);
    }
    return recording;
  }

  /**
   * A URL the browser can play: presigned for S3's public endpoint, or our own proxy with a signature
   * (a media element cannot send a bearer token). The same answer is given again for a while (a tenth
   * of its lifetime, at most a minute), without asking S3.
   */
  async playbackUrl(name: string, guard: Guard, download = false): Promise<PlaybackUrl> {
    const cached = this.urls.get(urlCacheKey(name, download));
    if (cached && cached.until > Date.now()) {
      guard(cached.recording);
      return cached.answer;
    }
    const recording = await this.playable(name, guard);
    const { playbackStrategy, urlTtlMs } = this.deps.config.recordings;
    const ttlSeconds = Math.max(1, Math.floor(urlTtlMs / 1000));
    const expires = Math.floor(Date.now() / 1000) + ttlSeconds;
    const url =
      playbackStrategy === 'PROXY'
        ? this.signedProxyUrl(recording.name, expires, download)
        : await this.deps.s3.presignGet(recording.mediaKey, ttlSeconds, download ? attachment(downloadName(recording)) : undefined);
    const answer = { url, expiresAt: expires * 1000 };
    if (this.urls.size >= URL_CACHE_SIZE) this.urls.delete(this.urls.keys().next().value!);
    this.urls.set(urlCacheKey(name, download), { answer, recording, until: Date.now() + Math.min(60_000, urlTtlMs / 10) });
    return answer;
  }

  /** The signature covers the name and expiry: the same one lets a player stream and a link download. */
  private signedProxyUrl(name: string, expires: number, download: boolean): string {
    const query = new URLSearchParams({ expires: String(expires), signature: this.deps.signMedia(name, expires) });
    return `/recordings/${encodeURIComponent(name)}${download ? '/download' : ''}?${query}`;
  }

  private forgetUrls(name: string) {
    this.urls.delete(urlCacheKey(name, false));
    this.urls.delete(urlCacheKey(name, true));
  }

  /** The recording's poster image, read whole (it is small); 404 when it has none. */
  async thumbnail(name: string, guard: Guard, signal: AbortSignal): Promise<ObjectRead> {
    const recording = this.found(name, await this.deps.store.recall(name));
    guard(recording);
    const object = recording.thumbnailKey ? await this.deps.s3.read(recording.thumbnailKey, undefined, signal) : 'missing';
    if (typeof object === 'string') throw notFound(`Recording "${name}" has no thumbnail`);
    return object;
  }

  /** The media's headers without its body (HEAD). */
  async mediaHead(name: string, guard: Guard): Promise<ObjectHead> {
    const recording = await this.playable(name, guard);
    const head = await this.deps.s3.head(recording.mediaKey);
    if (!head) throw this.gone(name);
    return head;
  }

  /**
   * One S3 GET for what the client asked, which streams until `signal` aborts. The validators of a
   * finished recording's media are in its sidecar (the media never changes), so If-None-Match and
   * If-Range are decided here without asking S3 first.
   */
  async readMedia(name: string, request: MediaRequest, signal: AbortSignal, guard: Guard): Promise<MediaRead> {
    const recording = await this.playable(name, guard);
    if (recording.etag && request.ifNoneMatch && matchesAny(request.ifNoneMatch, recording.etag)) return { kind: 'not-modified' };
    const asked = parseRange(request.range, recording.size);
    const range =
      asked.kind !== 'whole' && request.ifRange && !ifRangeHolds(request.ifRange, recording) ? { kind: 'whole' as const } : asked;
    if (range.kind === 'unsatisfiable') return { kind: 'unsatisfiable', size: recording.size };
    const object = await this.deps.s3.read(recording.mediaKey, range.kind === 'partial' ? range : undefined, signal, request.ifNoneMatch);
    if (object === 'unsatisfiable') return { kind: 'unsatisfiable', size: recording.size };
    if (object === 'not-modified') return { kind: 'not-modified' };
    if (object === 'missing') throw this.gone(name);
    const start = range.kind === 'partial' ? range.start : 0;
    return { kind: range.kind, object, start, end: start + object.contentLength - 1, recording };
  }

  /** Its media is gone (deleted, maybe by another instance): forget what we knew. */
  private gone(name: string): AppError {
    this.deps.store.forget(name);
    this.forgetUrls(name);
    return notFound(`Recording "${name}" has no media`);
  }

  /** Deletes each named recording as `delete` does, answering for each. */
  async deleteMany(
    names: string[],
    guard: Guard,
  ): Promise<Array<{ name: string; deleted: boolean; status: number; code?: string; errorMessage?: string }>> {
    return mapConcurrent(names, 4, async (name) => {
      try {
        await this.delete(name, guard);
        return { name, deleted: true, status: 200 };
      } catch (error) {
        const known = error instanceof AppError ? error : upstreamUnavailable('s3', 'The recording could not be deleted');
        return { name, deleted: false, status: known.status, code: known.code, errorMessage: known.message };
      }
    });
  }

  /** Deletes a finished recording's media and sidecar and tells the room, if it still exists. */
  async delete(name: string, guard: Guard): Promise<void> {
    const { roomName } = await this.get(name, guard);
    // Looked at again under the room's lock, so that of two concurrent deletes only one succeeds.
    const recording = await this.deps.locks.withLock(roomLockKey(roomName), async () => {
      const current = await this.get(name, guard);
      if (!isFinal(current.status)) {
        throw conflict('recording_in_progress', 'The recording has not finished yet; stop it first');
      }
      // Queued first, so a crash cannot lose it; taken back if the deletion fails.
      const queued = await enqueueDeletion(this.deps.notifications, current);
      try {
        await this.deps.store.delete(current);
      } catch (error) {
        await this.deps.notifications.discard(queued).catch(() => undefined);
        throw error;
      }
      this.deps.notifications.send(queued);
      this.forgetUrls(name);
      return current;
    });
    try {
      await this.deps.rooms.broadcast(roomName, RECORDING_DELETED_TOPIC, { recordingName: recording.name });
    } catch (error) {
      this.deps.log.warn({ err: error, roomName }, 'deletion not announced to the room');
    }
  }

  /** A finished recording is read from memory: its media request then is the only S3 request. */
  private async playable(name: string, guard: Guard): Promise<Recording> {
    const recording = this.found(name, await this.deps.store.recall(name));
    guard(recording);
    if (!isPlayable(recording)) {
      throw conflict('recording_not_playable', `Recording "${name}" is not playable (status ${recording.status})`);
    }
    return recording;
  }

  /** The sidecar must exist once start returns; if it cannot be written, the egress is stopped. */
  private async recordStarted(info: EgressInfo, ours: Partial<Recording>): Promise<Recording> {
    let result: ApplyResult;
    try {
      result = await this.deps.events.applyLocked(info, ours);
    } catch (error) {
      await this.deps.egress.stop(info.egressId).catch((stopError) => {
        this.deps.log.error({ err: stopError, egressId: info.egressId }, 'could not stop an egress whose sidecar failed');
      });
      throw error instanceof AppError ? error : upstreamUnavailable('s3', 'The recording could not be saved');
    }
    return recordingOf(result) ?? recordingFromEgressOrFail(info);
  }

  /** `<room>-<roomSid>-<utc>.mp4` under S3_PREFIX; egress fills the placeholders. */
  private mediaPath(roomName: string): string {
    const { path, fileTemplate } = this.deps.config.recordings;
    return `${path}${expandFileTemplate(fileTemplate, safeNamePart(roomName), new Date())}`;
  }
}

/** If-None-Match: "*" or a list of entity tags, compared weakly (RFC 9110 §13.1.2). */
function matchesAny(header: string, etag: string): boolean {
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.trim() === '*' || header.split(',').some((tag) => opaque(tag) === opaque(etag));
}

/** If-Range: a strong entity tag equal to ours, or exactly our Last-Modified date (RFC 9110 §13.1.5). */
function ifRangeHolds(ifRange: string, recording: Recording): boolean {
  const value = ifRange.trim();
  if (value.startsWith('"')) return value === recording.etag;
  if (value.startsWith('W/')) return false;
  const date = Date.parse(value);
  return recording.lastModified !== undefined && Math.floor(date / 1000) === Math.floor(recording.lastModified / 1000);
}

const recordingOf = (result: ApplyResult) => (result.outcome === 'ignored' ? undefined : result.recording);

function recordingFromEgressOrFail(info: EgressInfo): Recording {
  const recording = recordingFromEgress(info);
  if (!recording) throw new AppError(502, 'livekit_error', 'LiveKit answered without a file result');
  return recording;
}

/** A cursor is the index position of the last recording a page showed. */
const encodeCursor = (after: string) => Buffer.from(after, 'utf8').toString('base64url');

function decodeCursor(cursor: string): string {
  const after = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!parseEntryKey(after)) throw badRequest('cursor is not one this service issued');
  return after;
}

/**
 * A room name as part of a recording's handle: letters and digits of any script, "-", "_" and ".",
 * everything else "_", so the handle is URL-safe, never holds "/" and cannot start with ".".
 */
export function safeNamePart(roomName: string): string {
  const part = roomName
    .normalize('NFC')
    .replace(/[^\p{L}\p{N}_.-]+/gu, '_')
    .replace(/^\.+/, '')
    .slice(0, 100);
  return part || 'room';
}
