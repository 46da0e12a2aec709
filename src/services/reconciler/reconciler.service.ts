import { EventEmitter } from 'node:events';
import type { EgressInfo } from 'livekit-server-sdk';
import type { Logger } from '../platform/logger';
import { runAsJob } from '../platform/request-context';
import type { EgressService } from '../egress/egress.service';
import { emptyReport, type ReconcileJob, type ReconcilePass, type ReconcileReport } from './reconcile-job';

export type { ReconcileReport } from './reconcile-job';

export interface ReconcilerOptions {
  /** Between passes (0 turns scheduled passes off). */
  intervalMs: number;
  /** What a pass runs, in order. */
  jobs: ReconcileJob[];
  egress: EgressService;
  log: Logger;
}

/** Scheduled passes walk the whole bucket (index gaps, orphan media) at start-up and then one in ten. */
const FULL_PASS_EVERY = 10;

/**
 * Runs the jobs that repair what webhooks missed, at start-up and every interval: each job fails
 * alone, logged by its name, and runs again at the next pass. Emits 'pass' with its report after
 * every pass.
 */
export class ReconcilerService extends EventEmitter {
  passes = 0;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private markRepaired!: () => void;
  /** Settles once a full pass has run its full-pass jobs (index repair, orphan adoption) without failure: claims wait for it. */
  readonly repaired = new Promise<void>((resolve) => {
    this.markRepaired = resolve;
  });
  private repairDone = false;

  constructor(private readonly options: ReconcilerOptions) {
    super();
  }

  /** Whether `repaired` has settled: claims after it need not wait on the promise. */
  get hasRepaired(): boolean {
    return this.repairDone;
  }

  /** A first pass now, then one every interval (0 turns it off). */
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
      this.running = this.runPass({ full: this.passes % FULL_PASS_EVERY === 0 }).then(
        () => this.schedule(this.options.intervalMs),
        () => this.schedule(this.options.intervalMs),
      );
    }, delayMs);
    this.timer.unref();
  }

  /**
   * One pass. A `full` one also runs the jobs that list every sidecar, index entry and media object
   * (a few LISTs per thousand recordings).
   */
  async runPass({ full = true } = {}): Promise<ReconcileReport> {
    return runAsJob('reconcile', async () => {
      const pass = this.newPass(full);
      for (const job of this.options.jobs) if (full || !job.fullOnly) await this.runJob(job, pass);
      const fullJobsFailed = this.options.jobs.some((job) => job.fullOnly && job.name in pass.report.failed);
      if (full && !fullJobsFailed) {
        this.repairDone = true;
        this.markRepaired();
      }
      this.passes++;
      this.options.log.info({ ...pass.report, pass: this.passes }, 'reconcile pass done');
      this.emit('pass', pass.report);
      return pass.report;
    });
  }

  private async runJob(job: ReconcileJob, pass: ReconcilePass) {
    try {
      await job.run(pass);
    } catch (error) {
      pass.report.failed[job.name] = error instanceof Error ? error.message : String(error);
      this.options.log.warn({ err: error, job: job.name }, 'a reconcile job failed; it runs again at the next pass');
    }
  }

  /** LiveKit's egresses are asked for once per pass, by the first job that needs them. */
  private newPass(full: boolean): ReconcilePass {
    let egresses: Promise<EgressInfo[]> | undefined;
    return { full, report: emptyReport(), egresses: () => (egresses ??= this.options.egress.listAll()) };
  }
}
