import { createHash } from 'node:crypto';
import { isFinal, type Recording } from '../recordings/recording.model';
import type { S3Service } from './s3.service';

/**
 * Which part of the archive a listing walks. Each scope is a folder of empty objects whose keys sort
 * newest first, so one LIST with StartAfter is one page, whatever the size of the archive.
 */
export type IndexScope =
  | { kind: 'all' }
  | { kind: 'room'; roomName: string }
  | { kind: 'session'; roomId: string }
  /** Recordings that have not reached a final status: what the reconciler watches. */
  | { kind: 'open' };

/** Where a recording sits in the order: newest first by startedAt, then by id. */
export interface IndexEntry {
  startedAt: number;
  id: string;
  name: string;
}

/** Inverted so that S3's ascending key order is newest first; 13 digits last until the year 2286. */
const LATEST = 9_999_999_999_999;
const SEPARATOR = ','; // encodeURIComponent always escapes it, so it never occurs inside an encoded id

const orderKey = (startedAt: number) => String(LATEST - Math.max(0, Math.min(LATEST, Math.floor(startedAt)))).padStart(13, '0');

/** Room names and ids may be long or hold any character: a fixed-length digest keeps keys short and safe. */
const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 32);

/** `<inverted startedAt>,<encoded id>,<name>`: the name (never a "/") tells where the sidecar is. */
export function entryKey(entry: IndexEntry): string {
  return [orderKey(entry.startedAt), encodeURIComponent(entry.id), entry.name].join(SEPARATOR);
}

export function parseEntryKey(key: string): IndexEntry | undefined {
  const first = key.indexOf(SEPARATOR);
  const second = key.indexOf(SEPARATOR, first + 1);
  if (first !== 13 || second < 0) return undefined;
  try {
    return {
      startedAt: LATEST - Number(key.slice(0, first)),
      id: decodeURIComponent(key.slice(first + 1, second)),
      name: key.slice(second + 1),
    };
  } catch {
    return undefined;
  }
}

/**
 * A StartAfter value for "started before `time`": past every entry at `time` or later ("~" sorts after
 * the "," that follows the order key in every entry).
 */
export const startedBeforeKey = (time: number) => `${orderKey(time)}~`;

export interface IndexPage {
  entries: IndexEntry[];
  /** Whether entries exist after the last one returned. */
  more: boolean;
}

/** Where one scope's entries live, under `<S3_PREFIX>.index/`. */
export function indexScopePrefix(recordingsPath: string, scope: IndexScope): string {
  const base = `${recordingsPath}.index/`;
  switch (scope.kind) {
    case 'all':
      return `${base}all/`;
    case 'open':
      return `${base}open/`;
    case 'room':
      return `${base}room/${digest(scope.roomName)}/`;
    case 'session':
      return `${base}session/${digest(scope.roomId)}/`;
  }
}

/**
 * The listing index under `<S3_PREFIX>.index/`: one empty object per recording and scope. It is
 * written when a recording is first saved (its order never changes), the `open` entry is removed when
 * it reaches a final status, and all are removed when it is deleted. The sidecar stays the truth:
 * an entry whose sidecar is gone is skipped, and the reconciler re-creates entries that are missing.
 */
export class RecordingIndex {
  constructor(
    private readonly s3: S3Service,
    private readonly prefix: string,
  ) {}

  scopePrefix(scope: IndexScope): string {
    return indexScopePrefix(this.prefix, scope);
  }

  /** The scopes a recording stays in for good: all, its room and its session. */
  private lastingScopes(recording: Recording): IndexScope[] {
    const scopes: IndexScope[] = [{ kind: 'all' }, { kind: 'room', roomName: recording.roomName }];
    if (recording.roomId) scopes.push({ kind: 'session', roomId: recording.roomId });
    return scopes;
  }

  /** Its lasting scopes, and `open` until it is final. */
  async add(recording: Recording): Promise<void> {
    const entry = entryKey(recording);
    const scopes = isFinal(recording.status)
      ? this.lastingScopes(recording)
      : [...this.lastingScopes(recording), { kind: 'open' } as const];
    await Promise.all(scopes.map((scope) => this.s3.putEmpty(`${this.scopePrefix(scope)}${entry}`)));
  }

  /** The recording reached a final status: the reconciler need not look at it again. */
  async close(recording: Recording): Promise<void> {
    await this.s3.delete(`${this.scopePrefix({ kind: 'open' })}${entryKey(recording)}`);
  }

  async remove(recording: Recording): Promise<void> {
    const entry = entryKey(recording);
    const scopes = [...this.lastingScopes(recording), { kind: 'open' } as const];
    await Promise.all(scopes.map((scope) => this.s3.delete(`${this.scopePrefix(scope)}${entry}`)));
  }

  /** Up to `count` entries of a scope after the entry key `after` (or the bound of a time range). */
  async page(scope: IndexScope, count: number, after?: string): Promise<IndexPage> {
    const prefix = this.scopePrefix(scope);
    const listed = await this.s3.listPage(prefix, 'recordings', {
      startAfter: after === undefined ? undefined : `${prefix}${after}`,
      maxKeys: count,
    });
    const entries = listed.keys.map((key) => parseEntryKey(key.slice(prefix.length))).filter((e): e is IndexEntry => e !== undefined);
    return { entries, more: listed.truncated };
  }

  /** How many entries a scope holds (for the `active` gauge: the open scope is small). */
  async count(scope: IndexScope): Promise<number> {
    let count = 0;
    for await (const _entry of this.all(scope)) count++;
    return count;
  }

  /** Every entry of a scope, in order (for the reconciler). */
  async *all(scope: IndexScope): AsyncGenerator<IndexEntry> {
    const prefix = this.scopePrefix(scope);
    for await (const key of this.s3.listKeys(prefix, 'the listing index')) {
      const entry = parseEntryKey(key.slice(prefix.length));
      if (entry) yield entry;
    }
  }
}
