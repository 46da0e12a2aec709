import type { Metrics } from '../platform/metrics';
import { AppError, type ErrorCode } from '../platform/app-error';

export interface MediaStreamCaps {
  /** Open at once on this instance, whoever reads. */
  max: number;
  /** Open at once from one client address. */
  maxPerClient: number;
}

/**
 * Counts the media responses open now, in all and per client address, and refuses one more beyond
 * either cap (429): each holds an S3 socket of the media pool for as long as its reader reads.
 */
export class MediaStreamSlots {
  private open = 0;
  private readonly byClient = new Map<string, number>();

  constructor(
    private readonly caps: MediaStreamCaps,
    private readonly metrics: Metrics,
  ) {}

  /** A slot for one stream from `client`, or a 429 AppError; the release may be called more than once. */
  take(client: string): () => void {
    const mine = this.byClient.get(client) ?? 0;
    if (mine >= this.caps.maxPerClient)
      throw this.refused('client', 'too_many_media_streams', `This client already has ${mine} media streams open; close one and try again`);
    if (this.open >= this.caps.max)
      throw this.refused('total', 'media_streams_full', 'The service is streaming all the media it may at once; try again shortly');
    this.count(client, +1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.count(client, -1);
    };
  }

  private count(client: string, change: 1 | -1) {
    this.open += change;
    const mine = (this.byClient.get(client) ?? 0) + change;
    if (mine === 0) this.byClient.delete(client);
    else this.byClient.set(client, mine);
    this.metrics.mediaStreams.set(this.open);
  }

  private refused(cap: 'client' | 'total', code: ErrorCode, message: string): AppError {
    this.metrics.mediaStreamsRefused.inc({ cap });
    return new AppError(429, code, message);
  }
}
