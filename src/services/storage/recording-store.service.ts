import type { Logger } from '../platform/logger';
import {
  imageKeysOf,
  isFinal,
  producesMedia,
  type Recording,
  type RecordingStatus,
  type ReferenceSidecar,
  recordingSchema,
  referenceSidecarSchema,
} from '../recordings/recording.model';
import { mapConcurrent } from '../platform/concurrency';
import { entryKey, type IndexEntry, type IndexScope, RecordingIndex, startedBeforeKey } from './recording-index';
import type { S3Service } from './s3.service';

const SIDECAR_READ_CONCURRENCY = 16;
/** A filtered page reads at most this many sidecars, then hands back a cursor to go on from. */
const MAX_SCANNED_PER_PAGE = 500;
/** Finished recordings never change: this many are kept in memory, so a warm page costs one LIST. */
const FINISHED_CACHE_SIZE = 20_000;

export interface ListFilter {
  roomName?: string;
  roomId?: string;
  statuses?: RecordingStatus[];
  /** Started at or after (ms). */
  from?: number;
  /** Started before (ms). */
  to?: number;
  /** The host application's metadata: each key with exactly this value (compared as text). */
  metadata?: Record<string, string>;
}

export interface ListRequest extends ListFilter {
  limit: number;
  /** The entry key of the last recording of the previous page. */
  after?: string;
}

export interface ListResult {
  recordings: Recording[];
  /** Where the next page starts, when there may be one. */
  after?: string;
}

/**
 * Where recordings are kept in the bucket, under S3_PREFIX:
 *   <name>                      the media (for recordings this service names)
 *   .metadata/<stem>.json       one sidecar per recording (the reference tutorial's key, so its sidecars are read too)
 *   .tombstones/<name>.json     a deleted recording, so that late webhooks do not bring it back
 *   .rooms/<room>.json          per room name: its current recording (rooms/room-store.ts)
 * A recording's handle never contains "/", so none of these keys can leave its folder.
 */
export class RecordingStore {
  readonly index: RecordingIndex;
  private readonly finished = new Map<string, Recording>();

  constructor(
    private readonly s3: S3Service,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {
    this.index = new RecordingIndex(s3, prefix);
  }

  get metadataPrefix() {
    return `${this.prefix}.metadata/`;
  }

  sidecarKey(name: string) {
    return `${this.metadataPrefix}${name.replace(/\.mp4$/, '')}.json`;
  }

  private tombstoneKey(name: string) {
    return `${this.prefix}.tombstones/${name}.json`;
  }

  /** A recording by its handle; undefined when unknown or when its sidecar is unreadable. */
  async get(name: string): Promise<Recording | undefined> {
    return this.readSidecar(this.sidecarKey(name), name);
  }

  /**
   * Writes the sidecar. A new recording gets its index entries first, so that a failed write is
   * retried whole. A finished recording leaves the `open` index when the reconciler next looks
   * (see `open()`), which keeps a webhook to three S3 requests.
   */
  async save(recording: Recording, previous: Recording | undefined): Promise<void> {
    if (!previous) await this.index.add(recording);
    await this.s3.putJson(this.sidecarKey(recording.name), recording);
  }

  /**
   * One page, newest first, walking the narrowest index the filter allows: a page costs one LIST and
   * at most one GET per recording on it (none for finished recordings already read), however many
   * recordings the bucket holds. Entries whose sidecar is gone (a deletion under way) are skipped.
   */
  async list(request: ListRequest): Promise<ListResult> {
    const scope = scopeFor(request);
    const filtered =
      request.statuses !== undefined || request.metadata !== undefined || (request.roomName !== undefined && request.roomId !== undefined);
    const found: Recording[] = [];
    let after = laterOf(request.after, request.to === undefined ? undefined : startedBeforeKey(request.to));
    let scanned = 0;
    for (;;) {
      const batch = filtered ? Math.min(100, MAX_SCANNED_PER_PAGE - scanned) : request.limit - found.length;
      const page = await this.index.page(scope, batch + 1, after);
      const inRange = page.entries.filter((entry) => request.from === undefined || entry.startedAt >= request.from);
      const taken = inRange.slice(0, batch);
      const more = inRange.length > taken.length || (page.more && inRange.length === page.entries.length);
      const recordings = await mapConcurrent(taken, SIDECAR_READ_CONCURRENCY, (entry) => this.listed(entry));
      for (const [i, entry] of taken.entries()) {
        if (found.length === request.limit) return { recordings: found, after };
        after = entryKey(entry);
        const recording = recordings[i];
        if (recording && matches(recording, request)) found.push(recording);
      }
      scanned += taken.length;
      if (!more || taken.length === 0) return { recordings: found };
      if (found.length === request.limit || scanned >= MAX_SCANNED_PER_PAGE) return { recordings: found, after };
    }
  }

  /** The recordings that have not finished, as the `open` index holds them (for the reconciler). */
  async open(): Promise<Recording[]> {
    const entries: IndexEntry[] = [];
    for await (const entry of this.index.all({ kind: 'open' })) entries.push(entry);
    const recordings = await mapConcurrent(entries, SIDECAR_READ_CONCURRENCY, async (entry) => {
      const recording = await this.get(entry.name);
      if (recording && recording.id === entry.id && isFinal(recording.status)) {
        await this.index.close(recording); // finished since the last look
      }
      return recording?.id === entry.id ? recording : undefined;
    });
    return recordings.filter((recording): recording is Recording => recording !== undefined && !isFinal(recording.status));
  }

  /**
   * Sidecars the listing index does not name: written by an earlier version or by the reference, or
   * left by a write that failed half-way. Also returns every sidecar key, for finding orphan media.
   */
  async unindexed(): Promise<{ sidecarKeys: Set<string>; missing: string[] }> {
    const indexed = new Set<string>();
    for await (const entry of this.index.all({ kind: 'all' })) indexed.add(this.sidecarKey(entry.name));
    const sidecarKeys = new Set<string>();
    for await (const key of this.s3.listKeys(this.metadataPrefix, "the recordings' sidecars", { delimiter: '/' })) {
      if (key.endsWith('.json')) sidecarKeys.add(key);
    }
    return { sidecarKeys, missing: [...sidecarKeys].filter((key) => !indexed.has(key)) };
  }

  /** A sidecar by its key (for one the index does not name yet). */
  async readByKey(key: string): Promise<Recording | undefined> {
    return this.readSidecar(key);
  }

  /** Removes the index entries, the media and then the sidecar, leaving a tombstone first so nothing can recreate it. */
  async delete(recording: Recording): Promise<void> {
    await this.s3.putJson(this.tombstoneKey(recording.name), { id: recording.id, name: recording.name, deletedAt: Date.now() });
    this.forget(recording.name);
    await this.index.remove(recording);
    await this.s3.delete(recording.mediaKey);
    await this.s3.deleteMany(imageKeysOf(recording));
    await this.s3.delete(this.sidecarKey(recording.name));
  }

  async isDeleted(name: string): Promise<boolean> {
    return (await this.s3.getText(this.tombstoneKey(name))) !== undefined;
  }

  /**
   * Whether the room name has any recording: in its listing index, or as a sidecar the reference
   * wrote (`<room>-<room sid>-<time>.json`) that no pass has indexed yet. Two LISTs of one key.
   */
  async roomHasRecordings(roomName: string): Promise<boolean> {
    const [indexed, reference] = await Promise.all([
      this.s3.listPage(this.index.scopePrefix({ kind: 'room', roomName }), "the room's recordings", { maxKeys: 1 }),
      this.s3.listPage(`${this.metadataPrefix}${roomName}-RM_`, "the room's recordings", { maxKeys: 1 }),
    ]);
    return indexed.keys.length > 0 || reference.keys.length > 0;
  }

  /**
   * A recording for reading its media: from memory when it has finished (it no longer changes), else
   * its sidecar. Another instance may have deleted it since; the media read then finds nothing and
   * the caller calls `forget`.
   */
  async recall(name: string): Promise<Recording | undefined> {
    return this.finished.get(name) ?? this.remembered(await this.get(name));
  }

  forget(name: string): void {
    this.finished.delete(name);
  }

  /** A listed entry's recording: from memory when it had finished, else its sidecar. */
  private async listed(entry: IndexEntry): Promise<Recording | undefined> {
    const known = this.finished.get(entry.name);
    if (known?.id === entry.id) return known;
    const recording = await this.get(entry.name);
    return recording?.id === entry.id ? this.remembered(recording) : undefined;
  }

  /** Keeps a recording in memory once nothing about it can change any more. */
  private remembered(recording: Recording | undefined): Recording | undefined {
    if (recording && isFinal(recording.status) && (recording.mediaVerified || !producesMedia(recording.status))) {
      if (this.finished.size >= FINISHED_CACHE_SIZE) this.finished.delete(this.finished.keys().next().value!);
      this.finished.set(recording.name, recording);
    }
    return recording;
  }

  private async readSidecar(key: string, expectedName?: string): Promise<Recording | undefined> {
    const value = await this.readJson(key);
    if (value === undefined) return undefined;
    const ours = recordingSchema.safeParse(value);
    const reference = ours.success ? undefined : referenceSidecarSchema.safeParse(value);
    const recording = ours.success ? ours.data : reference?.success ? await this.adoptReference(key, reference.data) : undefined;
    if (!recording || (expectedName !== undefined && recording.name !== expectedName)) {
      this.log.warn({ key }, 'skipping a sidecar that is not a valid recording');
      return undefined;
    }
    return recording;
  }

  /**
   * The reference tutorial wrote a sidecar when an egress ended, failures included, with no status.
   * It is COMPLETE when its media exists, FAILED otherwise; it is rewritten in our format where it
   * lies, so the check happens once.
   */
  private async adoptReference(key: string, sidecar: ReferenceSidecar): Promise<Recording> {
    const mediaKey = `${this.prefix}${sidecar.name}`;
    const head = sidecar.size > 0 ? await this.s3.head(mediaKey) : undefined;
    const hasMedia = head !== undefined && head.size > 0;
    const recording: Recording = {
      ...sidecar,
      startedAt: Math.floor(sidecar.startedAt),
      status: hasMedia ? 'COMPLETE' : 'FAILED',
      size: hasMedia ? head.size : 0,
      mediaKey,
      mediaVerified: hasMedia,
      etag: head?.etag,
      lastModified: head?.lastModified?.getTime(),
      error: hasMedia ? undefined : 'No media was found for this recording',
      updatedAt: Date.now(),
    };
    await this.s3.putJson(key, recording).catch((error: unknown) => {
      this.log.warn({ err: error, key }, 'reference sidecar read but not yet rewritten');
    });
    return recording;
  }

  private async readJson(key: string): Promise<unknown> {
    const text = await this.s3.getText(key);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      this.log.warn({ key }, 'skipping an object that is not JSON');
      return null;
    }
  }
}

/** The narrowest index that holds every recording the filter can match. */
function scopeFor(filter: ListFilter): IndexScope {
  if (filter.roomName !== undefined) return { kind: 'room', roomName: filter.roomName };
  if (filter.roomId !== undefined) return { kind: 'session', roomId: filter.roomId };
  if (filter.statuses?.length && filter.statuses.every((status) => !isFinal(status))) return { kind: 'open' };
  return { kind: 'all' };
}

function matches(recording: Recording, filter: ListFilter): boolean {
  return (
    (filter.roomName === undefined || recording.roomName === filter.roomName) &&
    (filter.roomId === undefined || recording.roomId === filter.roomId) &&
    (filter.statuses === undefined || filter.statuses.includes(recording.status)) &&
    Object.entries(filter.metadata ?? {}).every(
      ([key, value]) => recording.metadata?.[key] !== undefined && String(recording.metadata[key]) === value,
    )
  );
}

/** Of two StartAfter positions, the one further down the order. */
function laterOf(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}
