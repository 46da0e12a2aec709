import type { EgressInfo } from 'livekit-server-sdk';
import type { Logger } from '../platform/logger';

/** What a pass did, by kind of repair (each a count), and which jobs failed (name → why). */
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
  /** The jobs that failed in this pass, with their error: each runs again at the next one. */
  failed: Record<string, string>;
}

export type RepairCount = Exclude<keyof ReconcileReport, 'failed'>;

export const emptyReport = (): ReconcileReport => ({
  repaired: 0,
  timedOut: 0,
  settled: 0,
  adopted: 0,
  indexed: 0,
  pastDeadline: 0,
  autoStopChecked: 0,
  expired: 0,
  streamsRepaired: 0,
  failed: {},
});

/** Every count of a report (for the repairs metric). */
export const REPAIR_COUNTS = Object.keys(emptyReport()).filter((key): key is RepairCount => key !== 'failed');

/** What the jobs of one pass share: what they report to, and LiveKit's egresses, asked once. */
export interface ReconcilePass {
  full: boolean;
  report: ReconcileReport;
  egresses(): Promise<EgressInfo[]>;
}

/** One named job of a pass: it fails alone, logged by its name, and the pass goes on. */
export interface ReconcileJob {
  name: string;
  /** Only in full passes: it walks the whole bucket. */
  fullOnly?: boolean;
  run(pass: ReconcilePass): Promise<void>;
}

/** How many recordings or streams a job repairs at once. */
export const REPAIR_CONCURRENCY = 8;

/** Started longer ago than `timeoutMs` (LiveKit reports nanoseconds). */
export const startedBefore = (info: EgressInfo, timeoutMs: number) => Date.now() - Number(info.startedAt / 1_000_000n) > timeoutMs;

/** One recording's or stream's repair: its failure is logged and retried next pass, and the job goes on. */
export async function alone(log: Logger, item: { id: string; roomName: string }, repair: () => Promise<void>): Promise<void> {
  await repair().catch((error: unknown) => {
    log.warn({ err: error, egressId: item.id, roomName: item.roomName }, 'a recording or stream could not be repaired in this pass');
  });
}
