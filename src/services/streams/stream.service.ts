import { isIP } from 'node:net';
import type { EgressInfo } from 'livekit-server-sdk';
import type { Config } from '../../config';
import type { Logger } from '../platform/logger';
import type { StreamStartRequest, StreamUpdateRequest } from '../../models/api.model';
import { AppError, badRequest, conflict, upstreamUnavailable } from '../platform/app-error';
import { isPublicAddress } from './public-address';
import { destinationHost, isStreamEgress, type Stream, streamFromEgress } from './stream.model';
import { annotateContext } from '../platform/request-context';
import type { EgressService } from '../egress/egress.service';
import type { ResolveHost } from './host-resolver';
import { type LockService, roomLockKey } from '../platform/lock.service';
import type { RoomStore } from '../rooms/room-store';
import type { StreamApplyResult, StreamEventsService } from './stream-events.service';
import type { StreamStore } from './stream-store.service';

/**
 * Live streams of a room to RTMP(S)/SRT destinations (Amazon IVS, YouTube, Twitch): one running
 * stream per room, beside its recording. Destinations are secrets: they go to LiveKit and are not
 * kept; what we keep and show has every key masked.
 */
export class StreamService {
  constructor(
    private readonly deps: {
      config: Config;
      egress: EgressService;
      events: StreamEventsService;
      store: StreamStore;
      roomRecords: RoomStore;
      locks: LockService;
      log: Logger;
      /** Resolves a destination's host name to check where egress would connect. */
      resolveHost: ResolveHost;
    },
  ) {}

  async start({ roomName, urls, layout, preset }: StreamStartRequest): Promise<Stream> {
    await this.checkDestinations(urls);
    const { egress, events, locks, log } = this.deps;
    return locks.withLock(roomLockKey(roomName), async () => {
      const [running] = await this.running(roomName);
      if (running)
        throw conflict('stream_active', 'The room is already streaming; update its destinations or stop it', {
          streamId: running.egressId,
        });
      const { defaults } = this.deps.config.recordings;
      const options = { layout: layout ?? defaults.layout, preset: preset ?? defaults.preset };
      const began = Date.now();
      const info = await egress.startStream(roomName, urls, options).catch(async (error: unknown) => {
        if (!(error instanceof AppError) || error.status >= 500) await this.stopUnanswered(roomName, began);
        throw error;
      });
      annotateContext({ egressId: info.egressId });
      try {
        return streamOf(await events.applyLocked(info, { options }), info);
      } catch (error) {
        // A stream we could not record as ours would run unseen: it is stopped.
        await egress.stop(info.egressId, 'stream').catch((stopError: unknown) => {
          log.error({ err: stopError, egressId: info.egressId }, 'could not stop a stream whose record failed');
        });
        throw error instanceof AppError ? error : upstreamUnavailable('s3', 'The stream could not be saved');
      }
    });
  }

  /**
   * A start whose answer was lost (a timeout, a dropped connection) may still have gone live, and a
   * stream we hold no record of would broadcast unseen: under the room's lock, a stream egress of
   * the room that began since and that we do not know is that one, and it is stopped.
   */
  private async stopUnanswered(roomName: string, since: number) {
    const { egress, store, log } = this.deps;
    try {
      for (const info of (await egress.active(roomName)).filter(isStreamEgress)) {
        if (Number(info.startedAt / 1_000_000n) < since - 1000 || (await store.get(info.egressId))) continue;
        await egress.stop(info.egressId, 'stream');
        log.warn({ egressId: info.egressId, roomName }, 'stopped a stream whose start was not answered');
      }
    } catch (error) {
      log.error({ err: error, roomName }, 'could not look for a stream whose start was not answered');
    }
  }

  /** Adds and removes destinations of the room's running stream (409 when there is none). */
  async update({ roomName, addUrls, removeUrls }: StreamUpdateRequest): Promise<Stream> {
    await this.checkDestinations(addUrls);
    return this.withRunning(roomName, (running) => this.deps.egress.updateStream(running.egressId, addUrls, removeUrls));
  }

  /** Stops the room's running stream (409 when there is none): every one, should a lost lock have let two start. */
  async stop(roomName: string): Promise<Stream> {
    return this.withRunning(roomName, async (running, others) => {
      for (const other of others) await this.deps.egress.stop(other.egressId, 'stream').catch(() => undefined);
      return this.deps.egress.stop(running.egressId, 'stream');
    });
  }

  /** The room's current stream (the latest this service started), running or not; undefined when it never streamed. */
  async current(roomName: string): Promise<Stream | undefined> {
    const pointer = (await this.deps.roomRecords.get(roomName))?.currentStream;
    return pointer && this.deps.store.get(pointer.id);
  }

  /**
   * Acts on the running stream and records what LiveKit answered. Once LiveKit
   * has accepted, the answer is a success: the webhooks record the rest if our own write fails now.
   */
  private async withRunning(roomName: string, act: (running: EgressInfo, others: EgressInfo[]) => Promise<EgressInfo>): Promise<Stream> {
    const { events, log } = this.deps;
    // Not under the room's lock: LiveKit may take seconds to answer a call racing the stream's end,
    // and a new stream in the room need not wait for that.
    const [running, ...others] = await this.running(roomName);
    if (!running) throw conflict('stream_not_active', 'The room is not streaming');
    const info = await act(running, others);
    annotateContext({ egressId: info.egressId });
    const result = await events.apply(info).catch((error: unknown) => {
      log.warn({ err: error, egressId: info.egressId, roomName }, 'stream changed, but not yet recorded; webhooks will catch up');
      return undefined;
    });
    return result ? streamOf(result, info) : streamFromEgress(info);
  }

  private async running(roomName: string): Promise<EgressInfo[]> {
    return (await this.deps.events.runningEgresses(roomName)).map(({ info }) => info);
  }

  /**
   * Egress connects to whatever a destination names: each must be a public address, or a name whose
   * every address is one (egress may pick any), unless private destinations are allowed. Egress
   * resolves the name again later: SECURITY.md's network rule closes that gap.
   */
  private async checkDestinations(urls: string[]) {
    if (this.deps.config.security.streamPrivateDestinations) return;
    await Promise.all(urls.map((url) => this.checkDestination(url)));
  }

  private async checkDestination(url: string) {
    const host = destinationHost(url);
    if (!host) throw badRequest('a stream URL has no valid host');
    const literal = isIP(host) !== 0;
    const addresses = literal
      ? [host]
      : await this.deps.resolveHost(host).catch((error: unknown) => {
          this.deps.log.warn({ err: error, host }, 'could not resolve a stream destination');
          throw upstreamUnavailable('dns', `The stream destination ${host} could not be resolved now; try again`);
        });
    // One answer whether the name does not resolve or resolves inside: else anyone who may stream
    // could map the service's internal DNS by the difference.
    if (addresses.length === 0 || !addresses.every(isPublicAddress)) {
      throw badRequest(
        `the stream destination ${host} must be a public address, or a name that resolves to public addresses only; set STREAM_PRIVATE_DESTINATIONS=true to allow private destinations`,
      );
    }
  }
}

const streamOf = (result: StreamApplyResult, info: EgressInfo) => (result.outcome === 'ignored' ? streamFromEgress(info) : result.stream);
