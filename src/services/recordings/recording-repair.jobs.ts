import { EgressStatus, type EgressInfo } from 'livekit-server-sdk';
import type { Logger } from '../platform/logger';
import { baseName, isFinal, type Recording } from './recording.model';
import type { AutoStopService } from '../egress/auto-stop.service';
import { mapConcurrent } from '../platform/concurrency';
import { type EgressService, ROOM_METADATA_KEY } from '../egress/egress.service';
import { alone, REPAIR_CONCURRENCY, type ReconcileJob, type ReconcilePass, startedBefore } from '../reconciler/reconcile-job';
import type { RecordingEventsService } from './recording-events.service';
import { entryKey, startedBeforeKey } from '../storage/recording-index';
import type { RecordingStore } from '../storage/recording-store.service';
import type { S3Service } from '../storage/s3.service';

export interface RecordingRepairDeps {
  egress: EgressService;
  store: RecordingStore;
  events: RecordingEventsService;
  s3: S3Service;
  autoStop: AutoStopService;
  /** Deletes a recording with all its objects, as `DELETE /recordings/:name` does. */
  remove: (recording: Recording) => Promise<void>;
  log: Logger;
  startTimeoutMs: number;
  /** S3_PREFIX, under which media lies. */
  prefix: string;
  /** The file template puts media in folders below the prefix. */
  mediaInFolders: boolean;
  /** Recordings that started longer ago than this are deleted (0: kept for ever). */
  retentionMs: number;
}

/** How many expired recordings one pass deletes at most; the next pass goes on. */
const RETENTION_BATCH = 100;
const MEDIA_FILE = /\.(mp4|ogg|mp3|m4a|webm)$/i;

/** The reconciler's jobs for recordings, in the order a pass runs them. */
export function recordingJobs(deps: RecordingRepairDeps): ReconcileJob[] {
  const repairs = new RecordingRepairs(deps);
  const jobs: ReconcileJob[] = [
    { name: 'recording repair', run: (pass) => repairs.repairFromEgresses(pass) },
    { name: 'deadline', run: (pass) => repairs.stopPastDeadline(pass) },
    { name: 'auto-stop', run: (pass) => repairs.checkEmptiedRooms(pass) },
    { name: 'settle forgotten', run: (pass) => repairs.settleForgotten(pass) },
    { name: 'index repair', fullOnly: true, run: (pass) => repairs.indexMissing(pass) },
    { name: 'orphan adoption', fullOnly: true, run: (pass) => repairs.adoptOrphanMedia(pass) },
  ];
  if (deps.retentionMs > 0) jobs.push({ name: 'retention', run: (pass) => repairs.deleteExpired(pass) });
  return jobs;
}

/**
 * Repairs what webhooks missed, through the same apply function: LiveKit's egresses → sidecars and
 * room status; egresses stuck in STARTING → stopped; unfinished recordings LiveKit forgot → settled
 * from S3; media without a sidecar → adopted; recordings past retention → deleted.
 */
class RecordingRepairs {
  /** Where the next retention pass goes on from (an index position), after a full batch. */
  private retentionCursor?: string;
  /** What several jobs of one pass read: asked once per pass. */
  private readonly openOf = new WeakMap<ReconcilePass, Promise<Recording[]>>();
  private readonly unindexedOf = new WeakMap<ReconcilePass, ReturnType<RecordingStore['unindexed']>>();

  constructor(private readonly deps: RecordingRepairDeps) {}

  async repairFromEgresses(pass: ReconcilePass) {
    const ours = (await pass.egresses()).filter((info) => this.deps.egress.isOurRecording(info));
    await mapConcurrent(ours, REPAIR_CONCURRENCY, (info) => this.reconcileEgress(info, pass));
  }

  /** Past their maximum duration: stopped, and they end with `maxDuration` whatever LiveKit reports next. */
  async stopPastDeadline(pass: ReconcilePass) {
    const overdue = (await this.running(pass)).filter((r) => r.deadline !== undefined && r.deadline <= Date.now());
    await mapConcurrent(overdue, REPAIR_CONCURRENCY, (r) =>
      alone(this.deps.log, r, async () => {
        if (await this.deps.events.stopFor(r, 'maxDuration')) pass.report.pastDeadline++;
      }),
    );
  }

  /** A grace period that ended while no timer of this process was waiting for it (a restart). */
  async checkEmptiedRooms(pass: ReconcilePass) {
    const emptied = (await this.running(pass)).filter((r) => r.autoStopAt && r.autoStopAt <= Date.now());
    await mapConcurrent(emptied, REPAIR_CONCURRENCY, (r) =>
      alone(this.deps.log, r, async () => {
        await this.deps.autoStop.check('recording', r);
        pass.report.autoStopChecked++;
      }),
    );
  }

  /** Unfinished recordings missing from LiveKit's list, asked for one by one. */
  async settleForgotten(pass: ReconcilePass) {
    const known = new Set((await pass.egresses()).map((info) => info.egressId));
    const unfinished = (await this.open(pass)).filter((r) => !known.has(r.id));
    await mapConcurrent(unfinished, REPAIR_CONCURRENCY, (r) => this.settleIfForgotten(r, pass));
  }

  /** Sidecars the listing index misses get their entries (the migration from earlier versions, which also settles unfinished ones). */
  async indexMissing(pass: ReconcilePass) {
    const { missing } = await this.unindexed(pass);
    await mapConcurrent(missing, REPAIR_CONCURRENCY, async (key) => {
      const recording = await this.deps.store.readByKey(key);
      if (recording && (await this.deps.events.reindex(recording)) === 'indexed') {
        pass.report.indexed++;
        if (!isFinal(recording.status)) await this.settleIfForgotten(recording, pass);
      }
    });
  }

  /**
   * Media under S3_PREFIX with no sidecar: written while we were down, or by the reference.
   * Directly under it, or, when the file template makes folders, in any folder but ours (".metadata/",
   * ".index/"…), which then means listing those too.
   */
  async adoptOrphanMedia(pass: ReconcilePass) {
    const { sidecarKeys } = await this.unindexed(pass);
    const orphans: string[] = [];
    const { prefix, mediaInFolders, s3, store, events } = this.deps;
    for await (const key of s3.listKeys(prefix, 'recordings', mediaInFolders ? {} : { delimiter: '/' })) {
      if (
        key
          .slice(prefix.length)
          .split('/')
          .some((segment) => segment.startsWith('.'))
      )
        continue;
      const name = baseName(key);
      if (MEDIA_FILE.test(name) && !sidecarKeys.has(store.sidecarKey(name))) orphans.push(key);
    }
    await mapConcurrent(orphans, REPAIR_CONCURRENCY, async (key) => {
      const recording = await this.describeOrphan(key);
      if (recording && (await events.adopt(recording)).outcome === 'updated') pass.report.adopted++;
    });
  }

  /**
   * The oldest recordings, past the retention period: the index is ordered by start time, so they are
   * one LIST away, however large the archive. Recordings still running are left alone.
   */
  async deleteExpired(pass: ReconcilePass) {
    const { store, remove, retentionMs } = this.deps;
    const cutoff = startedBeforeKey(Date.now() - retentionMs);
    // Entries it must leave (still running) are passed over: the next pass goes on after them, and
    // only a pass that reaches the end starts again from the cutoff.
    const after = this.retentionCursor && this.retentionCursor > cutoff ? this.retentionCursor : cutoff;
    const { entries, more } = await store.index.page({ kind: 'all' }, RETENTION_BATCH, after);
    this.retentionCursor = more && entries.length > 0 ? entryKey(entries[entries.length - 1]) : undefined;
    await mapConcurrent(entries, 4, async (entry) => {
      const recording = await store.get(entry.name);
      if (!recording || recording.id !== entry.id || !isFinal(recording.status)) return;
      await remove(recording);
      pass.report.expired++;
    });
  }

  private open(pass: ReconcilePass): Promise<Recording[]> {
    let open = this.openOf.get(pass);
    if (!open) this.openOf.set(pass, (open = this.deps.store.open()));
    return open;
  }

  private unindexed(pass: ReconcilePass) {
    let unindexed = this.unindexedOf.get(pass);
    if (!unindexed) this.unindexedOf.set(pass, (unindexed = this.deps.store.unindexed()));
    return unindexed;
  }

  /** Recording now: neither finished nor ending. */
  private async running(pass: ReconcilePass) {
    return (await this.open(pass)).filter((r) => !isFinal(r.status) && r.status !== 'ENDING');
  }

  private async reconcileEgress(info: EgressInfo, pass: ReconcilePass) {
    if (info.status === EgressStatus.EGRESS_STARTING && startedBefore(info, this.deps.startTimeoutMs)) {
      await this.timeOut(info);
      pass.report.timedOut++;
      return;
    }
    const result = await this.deps.events.apply(info);
    if (result.outcome === 'updated') pass.report.repaired++;
  }

  /**
   * Stopped, and FAILED with `startTimeout` whatever LiveKit reports afterwards (it answers ABORTED).
   * One that waited for a publisher ends as LiveKit reports the stop, with `noPublisher` and our words
   * beside LiveKit's error. One that ended by itself since the listing is recorded as LiveKit reports it.
   */
  private async timeOut(info: EgressInfo) {
    const { events, egress, log, startTimeoutMs } = this.deps;
    const result = await events.apply(info);
    const outcome = await egress.stopUnlessEnded(info.egressId, 'recording').catch((error: unknown) => {
      log.warn({ err: error, egressId: info.egressId }, 'could not stop an egress that never started');
      return undefined;
    });
    if (outcome && !outcome.stopped) {
      await events.apply(outcome.info);
      return;
    }
    if (result.outcome === 'ignored') return;
    const seconds = Math.round(startTimeoutMs / 1000);
    if (outcome && result.recording.waitingForPublisher) {
      // Egress waits for a start signal with no timeout of its own: the stop ends it as LiveKit reports it.
      await events.apply(outcome.info, {
        endReason: 'noPublisher',
        error: `Nobody published within ${seconds} s`,
        livekitError: outcome.info.error || undefined,
      });
      return;
    }
    await events.amend(result.recording, {
      status: 'FAILED',
      endReason: 'startTimeout',
      error: `The recording did not start within ${seconds} s`,
      endedAt: Date.now(),
    });
  }

  /** Asked one by one: an egress missing from the list may simply have started after it was made. */
  private async settleIfForgotten(recording: Recording, pass: ReconcilePass) {
    const { egress, s3, events } = this.deps;
    const info = await egress.find(recording.id);
    if (info) {
      await this.reconcileEgress(info, pass);
      return;
    }
    const head = await s3.head(recording.mediaKey);
    const hasMedia = head !== undefined && head.size > 0;
    await events.amend(
      recording,
      hasMedia
        ? { status: 'COMPLETE', size: head.size }
        : { status: 'FAILED', error: 'LiveKit no longer knows this recording and no media was found' },
    );
    pass.report.settled++;
  }

  /**
   * What the object tells: its room (our upload metadata, else the name), its size, and when it
   * started: the time egress put in its name, else the object's (which is when the upload ended,
   * maybe after a later session of the room began).
   */
  private async describeOrphan(key: string): Promise<Recording | undefined> {
    const head = await this.deps.s3.head(key);
    if (!head || head.size === 0) return undefined;
    const name = baseName(key);
    const parsed = /^(.*)-(RM_[A-Za-z0-9]+)-(\d{17}|\d{4}-\d{2}-\d{2}T\d{6})\.\w+$/.exec(name);
    const storedRoom = head.metadata?.[ROOM_METADATA_KEY];
    const roomName = storedRoom ? decodeURIComponent(storedRoom) : (parsed?.[1] ?? '');
    const time = head.lastModified?.getTime() ?? Date.now();
    return {
      id: `adopted:${name}`,
      name,
      roomName,
      roomId: parsed?.[2] ?? '',
      status: 'COMPLETE',
      startedAt: (parsed && timeOfStamp(parsed[3])) ?? time,
      endedAt: time,
      duration: 0,
      size: head.size,
      mediaKey: key,
      mediaVerified: false,
      updatedAt: Date.now(),
    };
  }
}

/** Egress's `{utc}` (`20261121120000000`) or `{time}` (`2026-11-21T120000`), both UTC, in ms. */
function timeOfStamp(stamp: string): number | undefined {
  const d = stamp.replace(/\D/g, '');
  const time = Date.parse(
    `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${d.slice(8, 10)}:${d.slice(10, 12)}:${d.slice(12, 14)}.${d.slice(14) || '000'}Z`,
  );
  return Number.isNaN(time) ? undefined : time;
}
