import type { Logger } from '../platform/logger';
import { isFinal } from '../recordings/recording.model';
import { type Stream, streamSchema } from './stream.model';
import { mapConcurrent } from '../platform/concurrency';
import type { S3Service } from '../storage/s3.service';

/** A marker with no record this long after it was written belongs to a start that failed. */
const ORPHAN_MARKER_AGE_MS = 10 * 60_000;

/**
 * Where streams are kept, under S3_PREFIX:
 *   .streams/<egressId>.json      one record per stream this service started (what makes it ours)
 *   .streams/open/<egressId>      an empty marker while it has not reached a final status, so the
 *                                 reconciler finds the running ones with one small LIST
 */
export class StreamStore {
  constructor(
    private readonly s3: S3Service,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}

  private recordKey(id: string) {
    return `${this.prefix}.streams/${encodeURIComponent(id)}.json`;
  }

  private get openPrefix() {
    return `${this.prefix}.streams/open/`;
  }

  async get(id: string): Promise<Stream | undefined> {
    const text = await this.s3.getText(this.recordKey(id));
    if (text === undefined) return undefined;
    try {
      return streamSchema.parse(JSON.parse(text));
    } catch {
      this.log.warn({ egressId: id }, 'skipping a stream record that is not valid');
      return undefined;
    }
  }

  /** The marker first, so a write cut short still leaves the stream where the reconciler looks. */
  async save(stream: Stream, previous: Stream | undefined): Promise<void> {
    if (!previous && !isFinal(stream.status)) await this.s3.putEmpty(this.openPrefix + encodeURIComponent(stream.id));
    await this.s3.putJson(this.recordKey(stream.id), stream);
    if (isFinal(stream.status) && previous && !isFinal(previous.status)) await this.close(stream.id);
  }

  /**
   * Streams that have not reached a final status. Markers of finished ones are removed on the way,
   * and so are markers without a record once they are old: a start whose record was never written
   * (one still being written has its marker for a moment only).
   */
  async open(): Promise<Stream[]> {
    const ids: string[] = [];
    for await (const key of this.s3.listKeys(this.openPrefix, 'the open streams'))
      ids.push(decodeURIComponent(key.slice(this.openPrefix.length)));
    const streams = await mapConcurrent(ids, 8, async (id) => {
      const stream = await this.get(id);
      if (stream ? isFinal(stream.status) : await this.markerOlderThan(id, ORPHAN_MARKER_AGE_MS)) await this.close(id);
      return stream;
    });
    return streams.filter((stream): stream is Stream => stream !== undefined && !isFinal(stream.status));
  }

  /** How many streams run now, as the markers tell (one LIST; stale markers are the reconciler's to remove). */
  async countOpen(): Promise<number> {
    let count = 0;
    for await (const _key of this.s3.listKeys(this.openPrefix, 'the open streams')) count++;
    return count;
  }

  private async markerOlderThan(id: string, ageMs: number): Promise<boolean> {
    const head = await this.s3.head(this.openPrefix + encodeURIComponent(id));
    return head?.lastModified !== undefined && Date.now() - head.lastModified.getTime() > ageMs;
  }

  private async close(id: string): Promise<void> {
    await this.s3.delete(this.openPrefix + encodeURIComponent(id)).catch((error: unknown) => {
      this.log.warn({ err: error, egressId: id }, 'open-stream marker not removed; the reconciler removes it');
    });
  }
}
