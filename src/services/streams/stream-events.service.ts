import type { EgressInfo } from 'livekit-server-sdk';
import type { EndReason } from '../recordings/recording.model';
import { isStreamEgress, mergeStream, type Stream, streamFromEgress } from './stream.model';
import type { EgressService } from '../egress/egress.service';
import { type LockService, roomLockKey } from '../platform/lock.service';
import { type CommitDeps, commitChange } from '../egress/commit';
import { streamNotificationsFor } from '../notifications/notification.service';
import type { StreamStore } from './stream-store.service';

export type StreamApplyResult =
  { outcome: 'ignored'; reason: 'not-ours' } | { outcome: 'unchanged' | 'updated'; stream: Stream; roomStatusError?: Error };

/**
 * What a stream egress reports becomes our state here, by the recordings' rules (idempotent,
 * monotonic, under the room's lock): the stream's record, its notifications, then the room's
 * `streamingStatus`. A stream is ours when its record exists: the start call writes it under the
 * room's lock, so an event that overtakes the start's answer waits for it.
 */
export class StreamEventsService {
  constructor(
    private readonly store: StreamStore,
    private readonly egress: EgressService,
    private readonly locks: LockService,
    /** What a committed change is told to: notifications, metrics, the room, the log. */
    private readonly commitDeps: CommitDeps,
  ) {}

  async apply(info: EgressInfo): Promise<StreamApplyResult> {
    return this.locks.withLock(roomLockKey(info.roomName), () => this.applyLocked(info));
  }

  /** `started`: what the start call adds (the options); only it may create the record. */
  async applyLocked(info: EgressInfo, started?: Pick<Stream, 'options'>): Promise<StreamApplyResult> {
    const current = await this.store.get(info.egressId);
    if (!current && !started) return { outcome: 'ignored', reason: 'not-ours' };
    return this.commit(current, { ...streamFromEgress(info), ...started });
  }

  /** What we decide ourselves (why it ended, the auto-stop mark), by the same rules. */
  async amend(stream: Stream, change: Partial<Stream>, when: (current: Stream) => boolean = () => true): Promise<StreamApplyResult> {
    return this.locks.withLock(roomLockKey(stream.roomName), async () => {
      const current = await this.store.get(stream.id);
      if (!current) return { outcome: 'ignored', reason: 'not-ours' };
      if (!when(current)) return { outcome: 'unchanged', stream: current };
      return this.commit(current, { ...current, ...change, updatedAt: Date.now() });
    });
  }

  /** Stops it for a reason of ours; undefined when it had already ended (its end, as LiveKit reports it, recorded now). */
  async stopFor(stream: Stream, endReason: EndReason): Promise<StreamApplyResult | undefined> {
    return this.locks.withLock(roomLockKey(stream.roomName), async () => {
      const outcome = await this.egress.stopUnlessEnded(stream.id, 'stream');
      if (!outcome) return undefined;
      if (outcome.stopped) return this.commit(await this.store.get(stream.id), { ...streamFromEgress(outcome.info), endReason });
      await this.applyLocked(outcome.info);
      return undefined;
    });
  }

  /** The room's streams this service started that have not ended, newest first, with what LiveKit reports. */
  async runningEgresses(roomName: string): Promise<Array<{ info: EgressInfo; stream: Stream }>> {
    const streams = (await this.egress.active(roomName)).filter(isStreamEgress);
    const ours = await Promise.all(streams.map(async (info) => ({ info, stream: await this.store.get(info.egressId) })));
    return ours.filter((item): item is { info: EgressInfo; stream: Stream } => item.stream !== undefined);
  }

  /** For auto-stop: the room's running streams, as recorded. */
  async running(roomName: string): Promise<Stream[]> {
    return (await this.runningEgresses(roomName)).map(({ stream }) => stream);
  }

  reload(stream: Stream): Promise<Stream | undefined> {
    return this.store.get(stream.id);
  }

  /** The auto-stop mark, as for recordings. */
  async mark(stream: Stream, autoStopAt: number, onlyIf?: number): Promise<void> {
    await this.amend(stream, { autoStopAt }, (current) => onlyIf === undefined || current.autoStopAt === onlyIf);
  }

  private async commit(current: Stream | undefined, incoming: Stream): Promise<StreamApplyResult> {
    const next = mergeStream(current, incoming);
    const roomStatusError = await commitChange(this.commitDeps, 'stream', current, next, {
      notices: streamNotificationsFor(current, next),
      about: { stream: next },
      save: () => this.store.save(next, current),
    });
    return { outcome: next === current ? 'unchanged' : 'updated', stream: next, roomStatusError };
  }
}
