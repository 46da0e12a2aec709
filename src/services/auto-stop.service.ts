import type { ParticipantInfo, WebhookEvent } from 'livekit-server-sdk';
import type { Logger } from '../logger';
import { type Recording, recordingFromEgress } from '../models/recording.model';
import type { EgressService } from './egress.service';
import type { RecordingEventsService } from './recording-events.service';
import type { RecordingStore } from './recording-store.service';
import type { RoomService } from './room.service';

export interface AutoStopOptions {
  enabled: boolean;
  graceMs: number;
}

/** `ParticipantInfo.Kind` values (livekit_models.proto; the server SDK does not re-export the enum). */
const EGRESS_KIND = 2;
const AGENT_KIND = 4;

/** A person, as opposed to a recorder (kind EGRESS) or an agent, which LiveKit also lists. */
export function isPerson(participant: ParticipantInfo): boolean {
  const dependent = participant.kind === EGRESS_KIND || participant.kind === AGENT_KIND;
  return !dependent && !participant.permission?.recorder && !participant.permission?.agent;
}

/**
 * Stops a room's recording once everyone has left: when the last person leaves, the recording is
 * marked with the end of a grace period (`autoStopAt`, in its sidecar, so a restart keeps it). At
 * that moment LiveKit is asked again who is there; if nobody, the recording stops with `roomEmpty`.
 * A timer here catches the moment; the reconciler catches it after a restart.
 */
export class AutoStopService {
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly rooms: RoomService,
    private readonly egress: EgressService,
    private readonly store: RecordingStore,
    private readonly events: RecordingEventsService,
    private readonly options: AutoStopOptions,
    private readonly log: Logger,
  ) {}

  /** `participant_left` / `participant_connection_aborted` of a person: maybe the room is empty now. */
  async onEvent(event: WebhookEvent): Promise<void> {
    if (!this.options.enabled || !event.room || !event.participant) return;
    if (event.event !== 'participant_left' && event.event !== 'participant_connection_aborted') return;
    if (!isPerson(event.participant)) return;
    const roomName = event.room.name;
    if (await this.anyoneIn(roomName)) return;
    for (const info of await this.egress.activeRecordings(roomName)) {
      const reported = recordingFromEgress(info);
      const recording = reported && (await this.store.get(reported.name));
      if (!recording || recording.id !== info.egressId || recording.autoStopAt) continue;
      await this.events.amend(recording, { autoStopAt: Date.now() + this.options.graceMs });
      this.schedule(recording);
    }
  }

  /** The grace period is over: stop if the room is still empty, else forget the mark. */
  async check(recording: Recording): Promise<'stopped' | 'kept'> {
    if (await this.anyoneIn(recording.roomName)) {
      await this.events.amend(recording, { autoStopAt: 0 });
      return 'kept';
    }
    await this.events.stopFor(recording, 'roomEmpty');
    return 'stopped';
  }

  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private schedule(recording: Recording) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.check(recording).catch((error: unknown) => {
        this.log.warn({ err: error, roomName: recording.roomName, egressId: recording.id }, 'auto-stop check failed; the reconciler will retry');
      });
    }, this.options.graceMs);
    timer.unref();
    this.timers.add(timer);
  }

  private async anyoneIn(roomName: string): Promise<boolean> {
    return (await this.rooms.participants(roomName)).some(isPerson);
  }
}
