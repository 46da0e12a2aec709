import { EventEmitter } from 'node:events';
import { EgressStatus, type EgressInfo } from 'livekit-server-sdk';
import type { Logger } from '../logger';
import { runAsJob } from '../request-context';
import { baseName, isFinal, type Recording } from '../models/recording.model';
import type { AutoStopService } from './auto-stop.service';
import { mapConcurrent } from './concurrency';
import { entryKey, startedBeforeKey } from './recording-index';
import { type EgressService, ROOM_METADATA_KEY } from './egress.service';
import type { RecordingEventsService } from './recording-events.service';
import type { RecordingStore } from './recording-store.service';
import type { S3Service } from './s3.service';
import type { StreamEventsService } from './stream-events.service';
import type { StreamStore } from './stream-store.service';
import { isStreamEgress } from '../models/stream.model';

export interface ReconcileReport {
  /** Recordings whose state an egress in LiveKit's list changed (webhooks had missed it). */
  repaired: number;
  /** Egresses stopped and recorded as FAILED because they never left STARTING. */
  timedOut: number;
  /** Unfinished recordings whose egress LiveKit no longer knows, settled from what S3 holds. */
  settled: number;
  /** Media with no sidecar, adopted as recordings. */
  adopted: number;
  /** Recordings stopped because their maximum duration had passed. */
  pastDeadline: number;
  /** Recordings whose room had emptied and whose grace period had passed (stopped or kept). */
  autoStopChecked: number;
  /** Recordings deleted because they were older than the retention period. */
  expired: number;
  /** Sidecars given their listing index entries (from an earlier version, or a write cut short). */
  indexed: number;
  /** Live streams repaired, timed out, auto-stop checked or settled, as above for recordings. */
  streamsRepaired: number;
}

export interface ReconcilerOptions {
  intervalMs: number;
  startTimeoutMs: number;
  recordingsPath: string;
  /** The file template puts media in folders below RECORDINGS_PATH. */
  mediaInFolders: boolean;
  /** Recordings that started longer ago than this are deleted (0: kept for ever). */
  retentionMs: number;
}

/** How many expired recordings one pass deletes at most; the next pass goes on. */
const RETENTION_BATCH = 100;

const CONCURRENCY = 8;
/** Scheduled passes walk the whole bucket (index gaps, orphan media) at start-up and then one in ten. */
const FULL_PASS_EVERY = 10;
const MEDIA_FILE = /\.(mp4|ogg|mp3|m4a|webm)$/i;

/**
 * Repairs what webhooks missed, at start-up and every interval, through the same apply function:
 * LiveKit's egresses → sidecars and room status; egresses stuck in STARTING → stopped and FAILED;
 * unfinished recordings LiveKit forgot → settled from S3; media without a sidecar → adopted.
 * Emits 'pass' with its report after every completed pass.
 */
export class ReconcilerService extends EventEmitter {
  passes = 0;
  /** Where the next retention pass goes on from (an index position), after a full batch. */
  private retentionCursor?: string;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private markRepaired!: () => void;
  /** Settles once a full pass has indexed every sidecar and adopted media without one: claims wait for it. */
  readonly repaired = new Promise<void>((resolve) => {
    this.markRepaired = resolve;
  });
  private repairDone = false;

  constructor(
    private readonly egress: EgressService,
    private readonly store: RecordingStore,
    private readonly events: RecordingEventsService,
    private readonly s3: S3Service,
    private readonly autoStop: AutoStopService,
    private readonly streams: { store: StreamStore; events: StreamEventsService },
    /** Deletes a recording with all its objects, as `DELETE /recordings/:name` does. */
    private readonly remove: (recording: Recording) => Promise<void>,
    private readonly options: ReconcilerOptions,
    private readonly log: Logger,
  ) {
    super();
  }

  /** Whether `repaired` has settled: claims after it need not wait on the promise. */
  get hasRepaired(): boolean {
    return this.repairDone;
  }

  /** A first pass now, then one every interval (0 turns it off); a failed pass is logged and the next tries again. */
  start(): void {
    if (this.options.intervalMs === 0) return;
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number) {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runPass({ full: this.passes % FULL_PASS_EVERY === 0 })
        .then(
          () => undefined,
          () => undefined,
        ) // logged by the pass itself
        .finally(() => this.schedule(this.options.intervalMs));
    }, delayMs);
    this.timer.unref();
  }

  /**
   * One pass. A `full` one also lists every sidecar, index entry and media object (a few LISTs per
   * thousand recordings) to index what earlier versions wrote and adopt media without a sidecar.
   */
  async runPass({ full = true } = {}): Promise<ReconcileReport> {
    return runAsJob('reconcile', async () => {
      try {
        const report = await this.pass(full);
        this.log.info({ ...report, pass: this.passes }, 'reconcile pass done');
        return report;
      } catch (error) {
        this.log.warn({ err: error }, 'reconcile pass failed; retrying at the next interval');
        throw error;
      }
    });
  }

  private async pass(full: boolean): Promise<ReconcileReport> {
    const report: ReconcileReport = {
      repaired: 0,
      timedOut: 0,
      settled: 0,
      adopted: 0,
      indexed: 0,
      pastDeadline: 0,
      autoStopChecked: 0,
      expired: 0,
      streamsRepaired: 0,
    };
    const egresses = await this.egress.listAll();
    await this.reconcileStreams(egresses.filter(isStreamEgress), report);
    const ours = egresses.filter((info) => this.egress.isOurRecording(info));
    await mapConcurrent(ours, CONCURRENCY, (info) => this.reconcileEgress(info, report));
    const known = new Set(ours.map((info) => info.egressId));
    const open = await this.store.open();
    const running = open.filter((r) => !isFinal(r.status) && r.status !== 'ENDING');
    const overdue = running.filter((r) => r.deadline !== undefined && r.deadline <= Date.now());
    await mapConcurrent(overdue, CONCURRENCY, (r) => this.alone(r, () => this.stopAtDeadline(r, report)));
    // A grace period that ended while no timer of this process was waiting for it (a restart).
    const emptied = running.filter((r) => r.autoStopAt && r.autoStopAt <= Date.now());
    await mapConcurrent(emptied, CONCURRENCY, (r) =>
      this.alone(r, async () => {
        await this.autoStop.check('recording', r);
        report.autoStopChecked++;
      }),
    );
    const unfinished = open.filter((r) => !known.has(r.id));
    await mapConcurrent(unfinished, CONCURRENCY, (r) => this.settleIfForgotten(r, report));
    if (full) {
      await this.adoptOrphanMedia(await this.indexMissing(report), report);
      this.repairDone = true;
      this.markRepaired();
    }
    if (this.options.retentionMs > 0) await this.deleteExpired(report);
    this.passes++;
    this.emit('pass', report);
    return report;
  }

  /**
   * Streams by the same rules: LiveKit's report applied, one stuck in STARTING stopped, a due
   * auto-stop checked, and one LiveKit no longer knows settled as FAILED (no media tells more).
   */
  private async reconcileStreams(egresses: EgressInfo[], report: ReconcileReport) {
    const { store, events } = this.streams;
    await mapConcurrent(egresses, CONCURRENCY, (info) =>
      this.alone({ id: info.egressId, roomName: info.roomName }, async () => {
        if (info.status === EgressStatus.EGRESS_STARTING && this.startTimedOut(info)) {
          if (!(await store.get(info.egressId))) return;
          const outcome = await this.egress.stopUnlessEnded(info.egressId, 'stream').catch(() => undefined);
          // Ended by itself since the listing: recorded as LiveKit reports it.
          const ended = outcome && !outcome.stopped ? outcome.info : undefined;
          const result = await events.apply(ended ?? info);
          if (!ended && result.outcome !== 'ignored')
            await events.amend(result.stream, {
              status: 'FAILED',
              endReason: 'startTimeout',
              error: 'The stream did not start in time',
              endedAt: Date.now(),
            });
          report.streamsRepaired++;
        } else if ((await events.apply(info)).outcome === 'updated') {
          report.streamsRepaired++;
        }
      }),
    );
    const known = new Set(egresses.map((info) => info.egressId));
    await mapConcurrent(await store.open(), CONCURRENCY, (stream) =>
      this.alone(stream, async () => {
        if (stream.autoStopAt && stream.autoStopAt <= Date.now() && (await this.autoStop.check('stream', stream)) !== 'not-due')
          report.streamsRepaired++;
        if (known.has(stream.id)) return;
        const info = await this.egress.find(stream.id);
        const result = info
          ? await events.apply(info)
          : await events.amend(stream, { status: 'FAILED', error: 'LiveKit no longer knows this stream', endedAt: Date.now() });
        if (result.outcome === 'updated') report.streamsRepaired++;
      }),
    );
  }

  private startTimedOut(info: EgressInfo): boolean {
    return Date.now() - Number(info.startedAt / 1_000_000n) > this.options.startTimeoutMs;
  }

  private async reconcileEgress(info: EgressInfo, report: ReconcileReport) {
    if (info.status === EgressStatus.EGRESS_STARTING && this.startTimedOut(info)) {
      await this.timeOut(info);
      report.timedOut++;
      return;
    }
    const result = await this.events.apply(info);
    if (result.outcome === 'updated') report.repaired++;
  }

  /** One recording's repair: its failure is logged and retried next pass, and the pass goes on. */
  private async alone(item: { id: string; roomName: string }, repair: () => Promise<void>): Promise<void> {
    await repair().catch((error: unknown) => {
      this.log.warn({ err: error, egressId: item.id, roomName: item.roomName }, 'a recording or stream could not be repaired in this pass');
    });
  }

  /** Its maximum duration has passed: stopped, and it ends with `maxDuration` whatever LiveKit reports next. */
  private async stopAtDeadline(recording: Recording, report: ReconcileReport) {
    if (await this.events.stopFor(recording, 'maxDuration')) report.pastDeadline++;
  }

  /**
   * The oldest recordings, past the retention period: the index is ordered by start time, so they are
   * one LIST away, however large the archive. Recordings still running are left alone.
   */
  private async deleteExpired(report: ReconcileReport) {
    const cutoff = startedBeforeKey(Date.now() - this.options.retentionMs);
    // Entries it must leave (still running) are passed over: the next pass goes on after them, and
    // only a pass that reaches the end starts again from the cutoff.
    const after = this.retentionCursor && this.retentionCursor > cutoff ? this.retentionCursor : cutoff;
    const { entries, more } = await this.store.index.page({ kind: 'all' }, RETENTION_BATCH, after);
    this.retentionCursor = more && entries.length > 0 ? entryKey(entries[entries.length - 1]) : undefined;
    await mapConcurrent(entries, 4, async (entry) => {
      const recording = await this.store.get(entry.name);
      if (!recording || recording.id !== entry.id || !isFinal(recording.status)) return;
      await this.remove(recording);
      report.expired++;
    });
  }

  /**
   * Stopped, and FAILED with `startTimeout` whatever LiveKit reports afterwards (it answers ABORTED).
   * One that waited for a publisher ends as LiveKit reports the stop, with `noPublisher` and our words
   * beside LiveKit's error. One that ended by itself since the listing is recorded as LiveKit reports it.
   */
  private async timeOut(info: EgressInfo) {
    const result = await this.events.apply(info);
    const outcome = await this.egress.stopUnlessEnded(info.egressId, 'recording').catch((error: unknown) => {
      this.log.warn({ err: error, egressId: info.egressId }, 'could not stop an egress that never started');
      return undefined;
    });
    if (outcome && !outcome.stopped) {
      await this.events.apply(outcome.info);
      return;
    }
    if (result.outcome === 'ignored') return;
    const seconds = Math.round(this.options.startTimeoutMs / 1000);
    if (outcome && result.recording.waitingForPublisher) {
      // Egress waits for a start signal with no timeout of its own: the stop ends it as LiveKit reports it.
      await this.events.apply(outcome.info, {
        endReason: 'noPublisher',
        error: `Nobody published within ${seconds} s`,
        livekitError: outcome.info.error || undefined,
      });
      return;
    }
    await this.events.amend(result.recording, {
      status: 'FAILED',
      endReason: 'startTimeout',
      error: `The recording did not start within ${seconds} s`,
      endedAt: Date.now(),
    });
  }

  /** Asked one by one: an egress missing from the list may simply have started after it was made. */
  private async settleIfForgotten(recording: Recording, report: ReconcileReport) {
    const info = await this.egress.find(recording.id);
    if (info) {
      await this.reconcileEgress(info, report);
      return;
    }
    const head = await this.s3.head(recording.mediaKey);
    const hasMedia = head !== undefined && head.size > 0;
    await this.events.amend(
      recording,
      hasMedia
        ? { status: 'COMPLETE', size: head.size }
        : { status: 'FAILED', error: 'LiveKit no longer knows this recording and no media was found' },
    );
    report.settled++;
  }

  /**
   * Sidecars the listing index misses get their entries (the migration from earlier versions, which
   * also settles unfinished ones); returns every sidecar key.
   */
  private async indexMissing(report: ReconcileReport): Promise<Set<string>> {
    const { sidecarKeys, missing } = await this.store.unindexed();
    await mapConcurrent(missing, CONCURRENCY, async (key) => {
      const recording = await this.store.readByKey(key);
      if (recording && (await this.events.reindex(recording)) === 'indexed') {
        report.indexed++;
        if (!isFinal(recording.status)) await this.settleIfForgotten(recording, report);
      }
    });
    return sidecarKeys;
  }

  /**
   * Media under RECORDINGS_PATH with no sidecar: written while we were down, or by the reference.
   * Directly under it, or, when the file template makes folders, in any folder but ours (".metadata/",
   * ".index/"…), which then means listing those too.
   */
  private async adoptOrphanMedia(sidecarKeys: Set<string>, report: ReconcileReport) {
    const orphans: string[] = [];
    const { recordingsPath, mediaInFolders } = this.options;
    for await (const key of this.s3.listKeys(recordingsPath, 'recordings', mediaInFolders ? {} : { delimiter: '/' })) {
      if (
        key
          .slice(recordingsPath.length)
          .split('/')
          .some((segment) => segment.startsWith('.'))
      )
        continue;
      const name = baseName(key);
      if (MEDIA_FILE.test(name) && !sidecarKeys.has(this.store.sidecarKey(name))) orphans.push(key);
    }
    await mapConcurrent(orphans, CONCURRENCY, async (key) => {
      const recording = await this.describeOrphan(key);
      if (recording && (await this.events.adopt(recording)).outcome === 'updated') report.adopted++;
    });
  }

  /**
   * What the object tells: its room (our upload metadata, else the name), its size, and when it
   * started: the time egress put in its name, else the object's (which is when the upload ended,
   * maybe after a later session of the room began).
   */
  private async describeOrphan(key: string): Promise<Recording | undefined> {
    const head = await this.s3.head(key);
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
