import type { ParticipantInfo, WebhookEvent } from 'livekit-server-sdk';
import type { Logger } from '../platform/logger';
import { runAsJob } from '../platform/request-context';
import type { EndReason } from '../recordings/recording.model';
import { isPerson } from '../rooms/participant.model';

export interface AutoStopOptions {
  enabled: boolean;
  graceMs: number;
}

/** What runs in a room and stops when it empties: a recording or a live stream. */
export interface Stoppable {
  id: string;
  roomName: string;
  autoStopAt?: number;
}

/** How auto-stop reads and acts on one kind of thing, through that kind's own apply functions. */
export interface AutoStopSubject<T extends Stoppable = Stoppable> {
  /** Ours, running in the room, as we have them recorded. */
  running(roomName: string): Promise<T[]>;
  /** As recorded now (the mark may have moved since). */
  reload(item: T): Promise<T | undefined>;
  /** Sets the mark (the end of the grace period, ms; 0 clears it); with `onlyIf`, only while the stored mark is that one. */
  mark(item: T, autoStopAt: number, onlyIf?: number): Promise<unknown>;
  stopFor(item: T, endReason: EndReason): Promise<unknown>;
}

export type AutoStopKind = 'recording' | 'stream';

/**
 * Stops a room's recording and stream once everyone has left: each time a person leaves an empty
 * room, what runs there is marked with the end of a grace period (`autoStopAt`, stored with it, so a
 * restart keeps it). When the latest mark is due, LiveKit is asked again who is there; if nobody,
 * it stops with `roomEmpty`, else the mark is cleared. A timer here catches the moment; the
 * reconciler catches it after a restart.
 */
export class AutoStopService {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly listParticipants: (roomName: string) => Promise<ParticipantInfo[]>,
    private readonly subjects: Record<AutoStopKind, AutoStopSubject>,
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
    for (const kind of Object.keys(this.subjects) as AutoStopKind[]) {
      for (const item of await this.subjects[kind].running(roomName)) {
        // A new mark each time the room empties, so a short return does not shorten the grace period.
        const autoStopAt = Date.now() + this.options.graceMs;
        await this.subjects[kind].mark(item, autoStopAt);
        this.schedule(kind, item, autoStopAt);
      }
    }
  }

  /** A mark may be due: stop if the room is still empty, else forget the mark. */
  async check(kind: AutoStopKind, item: Stoppable): Promise<'stopped' | 'kept' | 'not-due'> {
    const subject = this.subjects[kind];
    const current = await subject.reload(item);
    if (!current?.autoStopAt || current.autoStopAt > Date.now()) return 'not-due';
    if (await this.anyoneIn(current.roomName)) {
      // Unless the room emptied again meanwhile and set a newer mark, whose own timer decides.
      await subject.mark(current, 0, current.autoStopAt);
      return 'kept';
    }
    await subject.stopFor(current, 'roomEmpty');
    return 'stopped';
  }

  stop(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  /** One timer per recording or stream: a later mark replaces the earlier timer. */
  private schedule(kind: AutoStopKind, item: Stoppable, autoStopAt: number) {
    const key = `${kind}:${item.id}`;
    clearTimeout(this.timers.get(key));
    const timer = setTimeout(
      () => {
        this.timers.delete(key);
        void runAsJob('auto-stop', () =>
          this.check(kind, item).catch((error: unknown) => {
            this.log.warn({ err: error, roomName: item.roomName, egressId: item.id }, 'auto-stop check failed; the reconciler will retry');
          }),
        );
      },
      autoStopAt - Date.now() + 10,
    );
    timer.unref();
    this.timers.set(key, timer);
  }

  private async anyoneIn(roomName: string): Promise<boolean> {
    return (await this.listParticipants(roomName)).some(isPerson);
  }
}
