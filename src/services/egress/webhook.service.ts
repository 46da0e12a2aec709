import type { WebhookEvent } from 'livekit-server-sdk';
import type { Logger } from '../platform/logger';
import { annotateContext } from '../platform/request-context';
import type { AutoStopService } from './auto-stop.service';
import { isStreamEgress } from '../streams/stream.model';
import type { RecordingEventsService } from '../recordings/recording-events.service';
import type { StreamEventsService } from '../streams/stream-events.service';

/** Routes verified LiveKit webhooks: egress events drive our recordings and streams, everything else is acknowledged. */
export class WebhookService {
  constructor(
    private readonly events: RecordingEventsService,
    private readonly streams: StreamEventsService,
    private readonly autoStop: AutoStopService,
    private readonly log: Logger,
  ) {}

  /**
   * Resolves once the event is durably applied, with what it did; throws so that LiveKit retries
   * when it is not.
   */
  async handle(event: WebhookEvent): Promise<'applied' | 'unchanged' | 'ignored'> {
    annotateContext({ roomName: event.room?.name || event.egressInfo?.roomName, egressId: event.egressInfo?.egressId });
    if (event.event.startsWith('participant_')) {
      await this.autoStop.onEvent(event);
      return 'applied';
    }
    if (event.event === 'track_published' && event.room) return this.events.trackPublished(event.room.name);
    const info = event.egressInfo;
    if (!event.event.startsWith('egress_') || !info) return 'ignored';
    const result = isStreamEgress(info) ? await this.streams.apply(info) : await this.events.apply(info);
    const context = { webhookId: event.id, event: event.event, egressId: info.egressId, roomName: info.roomName };
    if (result.outcome === 'ignored') {
      this.log.debug({ ...context, reason: result.reason }, 'egress event ignored');
      return 'ignored';
    }
    const { status } = 'stream' in result ? result.stream : result.recording;
    this.log.info({ ...context, outcome: result.outcome, status }, 'egress event applied');
    if (result.roomStatusError) throw result.roomStatusError;
    return result.outcome === 'updated' ? 'applied' : 'unchanged';
  }
}
