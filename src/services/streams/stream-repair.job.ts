import { EgressStatus, type EgressInfo } from 'livekit-server-sdk';
import type { Logger } from '../platform/logger';
import { isStreamEgress } from './stream.model';
import type { AutoStopService } from '../egress/auto-stop.service';
import { mapConcurrent } from '../platform/concurrency';
import type { EgressService } from '../egress/egress.service';
import { alone, REPAIR_CONCURRENCY, type ReconcileJob, type ReconcilePass, startedBefore } from '../reconciler/reconcile-job';
import type { StreamEventsService } from './stream-events.service';
import type { StreamStore } from './stream-store.service';

export interface StreamRepairDeps {
  egress: EgressService;
  store: StreamStore;
  events: StreamEventsService;
  autoStop: AutoStopService;
  log: Logger;
  startTimeoutMs: number;
}

/**
 * Streams by the recordings' rules: LiveKit's report applied, one stuck in STARTING stopped, a due
 * auto-stop checked, and one LiveKit no longer knows settled as FAILED (no media tells more).
 */
export function streamRepairJob(deps: StreamRepairDeps): ReconcileJob {
  return {
    name: 'stream repair',
    run: async (pass) => {
      const egresses = (await pass.egresses()).filter(isStreamEgress);
      await mapConcurrent(egresses, REPAIR_CONCURRENCY, (info) =>
        alone(deps.log, { id: info.egressId, roomName: info.roomName }, () => repairFromEgress(deps, info, pass)),
      );
      const known = new Set(egresses.map((info) => info.egressId));
      await mapConcurrent(await deps.store.open(), REPAIR_CONCURRENCY, (stream) =>
        alone(deps.log, stream, async () => {
          const { autoStop, egress, events } = deps;
          if (stream.autoStopAt && stream.autoStopAt <= Date.now() && (await autoStop.check('stream', stream)) !== 'not-due')
            pass.report.streamsRepaired++;
          if (known.has(stream.id)) return;
          const info = await egress.find(stream.id);
          const result = info
            ? await events.apply(info)
            : await events.amend(stream, { status: 'FAILED', error: 'LiveKit no longer knows this stream', endedAt: Date.now() });
          if (result.outcome === 'updated') pass.report.streamsRepaired++;
        }),
      );
    },
  };
}

async function repairFromEgress({ egress, store, events, startTimeoutMs }: StreamRepairDeps, info: EgressInfo, pass: ReconcilePass) {
  if (info.status === EgressStatus.EGRESS_STARTING && startedBefore(info, startTimeoutMs)) {
    if (!(await store.get(info.egressId))) return;
    const outcome = await egress.stopUnlessEnded(info.egressId, 'stream').catch(() => undefined);
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
    pass.report.streamsRepaired++;
  } else if ((await events.apply(info)).outcome === 'updated') {
    pass.report.streamsRepaired++;
  }
}
