import type { Logger } from '../logger';
import {
  type Recording,
  type ReferenceSidecar,
  recordingSchema,
  referenceSidecarSchema,
} from '../models/recording.model';
import { mapConcurrent } from './concurrency';
import type { S3Service } from './s3.service';

/** Per room name: which recording is the room's current one (the latest this service started). */
export interface RoomRecord {
  roomName: string;
  currentRecording?: { id: string; name: string; startedAt: number };
  updatedAt: number;
}

const SIDECAR_READ_CONCURRENCY = 16;

/**
 * Where recordings are kept in the bucket, under RECORDINGS_PATH:
 *   <name>                      the media (for recordings this service names)
 *   .metadata/<stem>.json       one sidecar per recording (the reference tutorial's key, so its sidecars are read too)
 *   .tombstones/<name>.json     a deleted recording, so that late webhooks do not bring it back
 *   .rooms/<room>.json          per room name: its current recording
 * A recording's handle never contains "/", so none of these keys can leave its folder.
 */
export class RecordingStore {
  constructor(
    private readonly s3: S3Service,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}

  get metadataPrefix() {
    return `${this.prefix}.metadata/`;
  }

  sidecarKey(name: string) {
    return `${this.metadataPrefix}${name.replace(/\.mp4$/, '')}.json`;
  }

  private tombstoneKey(name: string) {
    return `${this.prefix}.tombstones/${name}.json`;
  }

  private roomKey(roomName: string) {
    return `${this.prefix}.rooms/${encodeURIComponent(roomName)}.json`;
  }

  /** A recording by its handle; undefined when unknown or when its sidecar is unreadable. */
  async get(name: string): Promise<Recording | undefined> {
    return this.readSidecar(this.sidecarKey(name), name);
  }

  async put(recording: Recording): Promise<void> {
    await this.s3.putJson(this.sidecarKey(recording.name), recording);
  }

  /** Every recording in the bucket; corrupt sidecars are logged and skipped. */
  async all(): Promise<Recording[]> {
    const keys: string[] = [];
    for await (const key of this.s3.listKeys(this.metadataPrefix, { delimiter: '/' })) {
      if (key.endsWith('.json')) keys.push(key);
    }
    const recordings = await mapConcurrent(keys, SIDECAR_READ_CONCURRENCY, (key) => this.readSidecar(key));
    return recordings.filter((recording): recording is Recording => recording !== undefined);
  }

  /** Removes the media and then the sidecar, leaving a tombstone first so nothing can recreate it. */
  async delete(recording: Recording): Promise<void> {
    await this.s3.putJson(this.tombstoneKey(recording.name), { id: recording.id, name: recording.name, deletedAt: Date.now() });
    await this.s3.delete(recording.mediaKey);
    await this.s3.delete(this.sidecarKey(recording.name));
  }

  async isDeleted(name: string): Promise<boolean> {
    return (await this.s3.getText(this.tombstoneKey(name))) !== undefined;
  }

  async getRoom(roomName: string): Promise<RoomRecord | undefined> {
    const value = await this.readJson(this.roomKey(roomName));
    return value && typeof value === 'object' ? (value as RoomRecord) : undefined;
  }

  async putRoom(room: RoomRecord): Promise<void> {
    await this.s3.putJson(this.roomKey(room.roomName), room);
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
