import type { EgressInfo } from 'livekit-server-sdk';
import { type EndReason, imageKeysOf, mergeRecording, producesMedia, type Recording, recordingFromEgress } from './recording.model';
import { someonePublishes } from '../rooms/participant.model';
import type { EgressService } from '../egress/egress.service';
import { type LockService, roomLockKey } from '../platform/lock.service';
import { type CommitDeps, commitChange } from '../egress/commit';
import { enqueueDeletion, notificationsFor } from '../notifications/notification.service';
import type { RecordingStore } from '../storage/recording-store.service';
import type { S3Service } from '../storage/s3.service';

/** An image smaller than this is taken for a blank frame (one flat colour compresses to little). */
const USEFUL_IMAGE_BYTES = 4096;
/** How many of the first images are looked at for the poster (one HEAD each). */
const POSTER_CANDIDATES = 5;

export type ApplyResult =
  | { outcome: 'ignored'; reason: 'not-a-recording' | 'not-ours' | 'deleted' | 'name-taken' }
  | {
      outcome: 'unchanged' | 'updated';
      recording: Recording;
      /** Set when the sidecar is safe but the room's status could not be published (LiveKit failed). */
      roomStatusError?: Error;
    };

/**
 * The one place where what an egress reports becomes our state: the sidecar, then the room's
 * `recordingStatus`. Webhooks, start/stop and the reconciler all come through here. It is
 * idempotent and monotonic, respects tombstones, and runs under the room's lock.
 */
export class RecordingEventsService {
  constructor(
    private readonly store: RecordingStore,
    private readonly s3: S3Service,
    private readonly egress: EgressService,
    private readonly locks: LockService,
    /** What a committed change is told to: notifications, metrics, the room, the log. */
    private readonly commitDeps: CommitDeps,
  ) {}

  private get log() {
    return this.commitDeps.log;
  }

  async apply(info: EgressInfo, ours: Partial<Recording> = {}): Promise<ApplyResult> {
    return this.locks.withLock(roomLockKey(info.roomName), () => this.applyLocked(info, ours));
  }

  /** For callers that already hold the room's lock. `ours`: what the start call adds (options, metadata, deadline). */
  async applyLocked(info: EgressInfo, ours: Partial<Recording> = {}): Promise<ApplyResult> {
    const reported = recordingFromEgress(info);
    if (!reported) return { outcome: 'ignored', reason: 'not-a-recording' };
    const incoming = { ...reported, ...ours };
    const current = await this.store.get(incoming.name);
    const ignored = await this.whyIgnore(info, incoming, current);
    if (ignored) return { outcome: 'ignored', reason: ignored };

    return this.commit(current, incoming);
  }

  /**
   * What we decide ourselves (an end LiveKit will not report, the layout, an auto-stop mark), by the
   * same rules as an event, so a final status stays final whatever LiveKit reports later.
   */
  async amend(recording: Recording, change: Partial<Recording>): Promise<ApplyResult> {
    return this.locks.withLock(roomLockKey(recording.roomName), () => this.amendLocked(recording, change));
  }

  /**
   * Stops an egress for a reason of ours (its maximum duration, an empty room), under the room's lock
   * so that no event about it comes between the stop and the reason (a stop checks ListEgress first,
   * and LIVEKIT_EGRESS_TIMEOUT bounds it). Undefined when it had already ended: its end, as LiveKit
   * reports it, is recorded now, once, without our reason.
   */
  async stopFor(recording: Recording, endReason: EndReason): Promise<ApplyResult | undefined> {
    return this.locks.withLock(roomLockKey(recording.roomName), async () => {
      // LiveKit no longer knows it: the reconciler settles it from S3.
      const outcome = await this.egress.stopUnlessEnded(recording.id, 'recording');
      if (!outcome) return undefined;
      if (outcome.stopped) return this.applyLocked(outcome.info, { endReason });
      await this.applyLocked(outcome.info);
      return undefined;
    });
  }

  /**
   * A track was published in the room (track_published, which does not say whether a person or an
   * agent published it): the room's current recording, if it waits for a publisher, is checked
   * against who publishes now. One S3 read when nothing waits.
   */
  async trackPublished(roomName: string): Promise<'applied' | 'ignored'> {
    const pointer = (await this.commitDeps.roomRecords.get(roomName))?.currentRecording;
    const waiting = pointer?.name ? await this.store.get(pointer.name) : undefined;
    if (!waiting || waiting.id !== pointer?.id || waiting.status !== 'STARTING' || !waiting.waitingForPublisher) return 'ignored';
    if (!someonePublishes(await this.commitDeps.rooms.participants(roomName), waiting.options?.audioOnly ?? false)) return 'ignored';
    const result = await this.amend(waiting, { waitingForPublisher: false });
    if (result.outcome !== 'ignored' && result.roomStatusError) throw result.roomStatusError;
    return 'applied';
  }

  /** Our recordings running in the room, as recorded (for auto-stop). */
  async running(roomName: string): Promise<Recording[]> {
    const found = await Promise.all(
      (await this.egress.activeRecordings(roomName)).map(async (info) => {
        const reported = recordingFromEgress(info);
        const recording = reported && (await this.store.get(reported.name));
        return recording?.id === info.egressId ? recording : undefined;
      }),
    );
    return found.filter((recording): recording is Recording => recording !== undefined);
  }

  async reload(recording: Recording): Promise<Recording | undefined> {
    const current = await this.store.get(recording.name);
    return current?.id === recording.id ? current : undefined;
  }

  /** The auto-stop mark: the end of the grace period (ms), 0 to clear it; with `onlyIf`, only while the mark is still that one. */
  async mark(recording: Recording, autoStopAt: number, onlyIf?: number): Promise<void> {
    await this.locks.withLock(roomLockKey(recording.roomName), () =>
      this.amendLocked(recording, { autoStopAt }, (current) => onlyIf === undefined || current.autoStopAt === onlyIf),
    );
  }

  /** As `amend`, for callers that already hold the room's lock; `when` may decline on what is stored now. */
  async amendLocked(
    recording: Recording,
    change: Partial<Recording>,
    when: (current: Recording) => boolean = () => true,
  ): Promise<ApplyResult> {
    const current = await this.store.get(recording.name);
    if (!current || current.id !== recording.id) return { outcome: 'ignored', reason: 'not-ours' };
    if (!when(current)) return { outcome: 'unchanged', recording: current };
    return this.commit(current, { ...current, ...change, updatedAt: Date.now() });
  }

  /** Media found with no sidecar at all becomes a recording, unless it was deleted on purpose. */
  async adopt(recording: Recording): Promise<ApplyResult> {
    return this.locks.withLock(roomLockKey(recording.roomName), async () => {
      if (await this.store.get(recording.name)) return { outcome: 'ignored', reason: 'name-taken' };
      if (await this.store.isDeleted(recording.name)) return { outcome: 'ignored', reason: 'deleted' };
      const result = await this.commit(undefined, recording);
      await this.commitDeps.roomRecords.keep(recording.roomName);
      return result;
    });
  }

  /**
   * A sidecar the listing index does not name gets its entries; one whose deletion was cut short
   * (tombstone written) is deleted for good instead, and only then announced: the failed deletion
   * took its notification back.
   */
  async reindex(recording: Recording): Promise<'indexed' | 'deleted' | 'ignored'> {
    return this.locks.withLock(roomLockKey(recording.roomName), async () => {
      const current = await this.store.get(recording.name);
      if (!current || current.id !== recording.id) return 'ignored';
      if (await this.store.isDeleted(current.name)) {
        await this.store.delete(current);
        const { notifications } = this.commitDeps;
        notifications.send(await enqueueDeletion(notifications, current));
        return 'deleted';
      }
      await this.store.index.add(current);
      await this.commitDeps.roomRecords.keep(current.roomName);
      return 'indexed';
    });
  }

  /** Merges, verifies media, writes the sidecar when something changed, then publishes the room status. */
  private async commit(current: Recording | undefined, incoming: Recording): Promise<ApplyResult> {
    let next = mergeRecording(current, incoming);
    // Also when nothing else changed: a retried final event may find media an earlier one did not.
    if (producesMedia(next.status) && !next.mediaVerified) next = await this.verifyMedia(next);
    if (producesMedia(next.status) && next.imageCount && !next.thumbnailKey) next = await this.choosePoster(next);
    const roomStatusError = await commitChange(this.commitDeps, 'recording', current, next, {
      notices: notificationsFor(current, next),
      about: { recording: next },
      save: () => this.store.save(next, current),
    });
    return { outcome: next === current ? 'unchanged' : 'updated', recording: next, roomStatusError };
  }

  private async whyIgnore(info: EgressInfo, incoming: Recording, current: Recording | undefined) {
    if (current) return current.id === incoming.id ? undefined : ('name-taken' as const);
    if (!this.egress.isOurRecording(info)) return 'not-ours' as const;
    if (await this.store.isDeleted(incoming.name)) return 'deleted' as const;
    return undefined;
  }

  /**
   * The first useful image egress captured (the first ones are often black, before any video: a
   * black JPEG is small), looking at a few at most, else the largest of those. The others are
   * removed afterwards, off the path of the event (what a crash leaves goes with the recording when
   * it is deleted). None found yet: asked again with the next event.
   */
  private async choosePoster(recording: Recording): Promise<Recording> {
    const keys = imageKeysOf(recording);
    const seen: Array<{ key: string; size: number }> = [];
    for (const key of keys.slice(0, POSTER_CANDIDATES)) {
      const head = await this.s3.head(key);
      if (head) seen.push({ key, size: head.size });
      if (head && head.size >= USEFUL_IMAGE_BYTES) break;
    }
    if (seen.length === 0) return recording;
    const poster = seen.find(({ size }) => size >= USEFUL_IMAGE_BYTES) ?? seen.reduce((a, b) => (b.size > a.size ? b : a));
    const others = keys.filter((key) => key !== poster.key);
    setImmediate(() => {
      this.s3.deleteMany(others).catch((error: unknown) => {
        this.log.warn({ err: error, egressId: recording.id }, 'images other than the poster not removed; they go with the recording');
      });
    });
    return { ...recording, thumbnailKey: poster.key };
  }

  /** The media must really be there before we call a recording playable. */
  private async verifyMedia(recording: Recording): Promise<Recording> {
    const head = await this.s3.head(recording.mediaKey);
    if (!head || head.size === 0) {
      this.log.warn({ egressId: recording.id, key: recording.mediaKey }, 'egress reported media that is not in S3');
      return recording;
    }
    return { ...recording, size: head.size, mediaVerified: true, etag: head.etag, lastModified: head.lastModified?.getTime() };
  }
}
