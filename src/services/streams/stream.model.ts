import type { EgressInfo } from 'livekit-server-sdk';
import { z } from 'zod';
import { LAYOUTS, PRESETS } from '../recordings/recording-options.model';
import { END_REASONS, isFinal, RECORDING_STATUSES, statusFromEgress, statusRank } from '../recordings/recording.model';

export const DESTINATION_STATUSES = ['ACTIVE', 'FINISHED', 'FAILED'] as const;

/** One RTMP/SRT destination as we show it: its URL masked (the stream key never leaves LiveKit whole). */
export const destinationSchema = z.object({
  url: z.string(),
  status: z.enum(DESTINATION_STATUSES),
  error: z.string().optional(),
  startedAt: z.number().optional(),
  endedAt: z.number().optional(),
});
export type Destination = z.infer<typeof destinationSchema>;

export const streamOptionsSchema = z.object({ layout: z.enum(LAYOUTS), preset: z.enum(PRESETS).optional() });
export type StreamOptions = z.infer<typeof streamOptionsSchema>;

/**
 * A live stream: an egress with stream outputs only, started by this service. Kept as one JSON
 * object per egress; it never counts as the room's recording.
 */
export const streamSchema = z.object({
  id: z.string().min(1),
  roomName: z.string(),
  roomId: z.string(),
  status: z.enum(RECORDING_STATUSES),
  startedAt: z.number(),
  endedAt: z.number().optional(),
  destinations: z.array(destinationSchema),
  options: streamOptionsSchema.optional(),
  error: z.string().optional(),
  endReason: z.enum(END_REASONS).optional(),
  /** As for recordings: the end of the grace period once everyone left; 0 once someone came back. */
  autoStopAt: z.number().optional(),
  updatedAt: z.number(),
});
export type Stream = z.infer<typeof streamSchema>;

/**
 * A stream key shown as LiveKit's own redaction does (`{abc...xyz}`): the first and last few
 * characters, so a person can tell destinations apart, never the key.
 */
function maskIdentifier(value: string): string {
  if (/^\{[^{}]{0,3}\.\.\.[^{}]{0,3}\}$/.test(value)) return value; // masked already (by LiveKit or by us)
  const shown = value.length >= 9 ? 3 : value.length >= 6 ? 2 : value.length >= 3 ? 1 : 0;
  return shown === 0 ? '{...}' : `{${value.slice(0, shown)}...${value.slice(-shown)}}`;
}

/**
 * A destination URL safe to show and log: the last path segment (the RTMP stream key), every query
 * value (SRT's `streamid`, `passphrase`) and any user info masked. Applying it twice changes nothing.
 */
export function maskStreamUrl(url: string): string {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)([^?#]*)(\?[^#]*)?/i.exec(url.trim());
  if (!match) return '{...}';
  const [, scheme, authority, path, query] = match;
  const host = authority.includes('@') ? `{...}@${authority.slice(authority.lastIndexOf('@') + 1)}` : authority;
  const segments = path.split('/');
  const last = segments.length - 1;
  if (segments[last] !== '') segments[last] = maskIdentifier(segments[last]);
  // mux://<key> and twitch://<key>: the key is all there is.
  const maskedHost = path === '' && !query && /^(mux|twitch):/i.test(scheme) ? maskIdentifier(host) : host;
  const maskedQuery = query
    ? `?${query
        .slice(1)
        .split('&')
        .map((pair) => {
          const at = pair.indexOf('=');
          if (at < 0) return pair === '' ? pair : maskIdentifier(pair); // a bare token may be the secret itself
          return at === pair.length - 1 ? pair : `${pair.slice(0, at)}=${maskIdentifier(pair.slice(at + 1))}`;
        })
        .join('&')}`
    : '';
  return `${scheme}${maskedHost}${segments.join('/')}${maskedQuery}`;
}

/**
 * The host a destination URL names (after any user info), as the WHATWG URL parser reads it: every
 * numeric IPv4 spelling (`127.1`, `0x7f000001`) as dotted decimal, IPv6 compressed and without its
 * brackets. Undefined when there is no valid host.
 */
export function destinationHost(url: string): string | undefined {
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(url)?.[1] ?? '';
  try {
    // Read as http: the parser normalises IP addresses only for special schemes, not rtmp: or srt:.
    const { hostname } = new URL(`http://${authority.slice(authority.lastIndexOf('@') + 1)}`);
    return hostname.replace(/^\[(.*)\]$/, '$1') || undefined;
  } catch {
    return undefined;
  }
}

/** A destination's protocol family: one stream takes one (egress refuses a mix). */
export const streamProtocolOf = (url: string) => (url.toLowerCase().startsWith('srt:') ? 'srt' : 'rtmp');

/** Every stream URL in a text (LiveKit's error messages quote the raw URL) masked. */
export const maskStreamUrlsIn = (text: string) =>
  // Punctuation right after a URL belongs to the sentence ("invalid url <url>: invalid scheme").
  text.replace(/\b(rtmps?|srt|mux|twitch):\/\/\S*[^\s:,.;)'"]/gi, (url) => maskStreamUrl(url));

/** `StreamInfo.Status` (livekit_egress.proto; the server SDK does not re-export the enum). */
const STREAM_FINISHED = 1;
const STREAM_FAILED = 2;

const destinationStatusOf = (status: number) => (status === STREAM_FAILED ? 'FAILED' : status === STREAM_FINISHED ? 'FINISHED' : 'ACTIVE');

const nanosToMillis = (nanos: bigint) => (nanos > 0n ? Number(nanos / 1_000_000n) : undefined);

/** The stream outputs' results: `streamResults`, else the deprecated `stream.info`. */
function streamResultsOf(info: EgressInfo) {
  return info.streamResults.length > 0 ? info.streamResults : info.result.case === 'stream' ? info.result.value.info : [];
}

/** A stream-only egress: stream outputs and no file, segments or images (a recording is never one). */
export function isStreamEgress(info: EgressInfo): boolean {
  const request = info.request.case === 'roomComposite' ? info.request.value : undefined;
  if (!request) return false;
  const streams = request.streamOutputs.length > 0 || request.output.case === 'stream';
  const others = request.fileOutputs.length + request.segmentOutputs.length + request.imageOutputs.length;
  return streams && others === 0 && request.output.case !== 'file' && request.output.case !== 'segments';
}

/** What an EgressInfo says about a stream. */
export function streamFromEgress(info: EgressInfo, now = Date.now()): Stream {
  return {
    id: info.egressId,
    roomName: info.roomName,
    roomId: info.roomId,
    status: statusFromEgress(info.status),
    startedAt: nanosToMillis(info.startedAt) ?? now,
    endedAt: nanosToMillis(info.endedAt),
    destinations: streamResultsOf(info).map((result) => ({
      url: maskStreamUrl(result.url),
      status: destinationStatusOf(result.status),
      // Egress quotes SRT URLs verbatim in its error texts.
      error: result.error ? maskStreamUrlsIn(result.error) : undefined,
      startedAt: nanosToMillis(result.startedAt),
      endedAt: nanosToMillis(result.endedAt),
    })),
    error: info.error ? maskStreamUrlsIn(info.error) : undefined,
    endReason: /StopEgress API/i.test(info.details) ? 'stopped' : /Source closed/i.test(info.details) ? 'roomClosed' : undefined,
    updatedAt: now,
  };
}

/**
 * Destinations by the same rules, matched by masked URL (the n-th of a URL with the n-th): none is
 * dropped (a late event may predate an addition), and one that ended (FINISHED, FAILED) stays so.
 */
function mergeDestinations(current: Destination[], incoming: Destination[]): Destination[] {
  const merged = [...current];
  const seen = new Map<string, number>();
  for (const entry of incoming) {
    const occurrence = seen.get(entry.url) ?? 0;
    seen.set(entry.url, occurrence + 1);
    let count = -1;
    const index = merged.findIndex((known) => known.url === entry.url && ++count === occurrence);
    if (index < 0) merged.push(entry);
    else if (merged[index].status === 'ACTIVE') merged[index] = { ...entry, startedAt: entry.startedAt ?? merged[index].startedAt };
  }
  return merged;
}

/**
 * The model's rules, as for recordings: never a lower rank, never out of a final status; what we
 * decided ourselves (options, why it ended, the auto-stop mark) is kept. `current` itself when
 * nothing changes.
 */
export function mergeStream(current: Stream | undefined, incoming: Stream): Stream {
  if (!current) return incoming;
  if (statusRank(incoming.status) < statusRank(current.status) || isFinal(current.status)) return current;
  const merged: Stream = {
    ...incoming,
    startedAt: current.startedAt || incoming.startedAt,
    endReason: current.endReason ?? incoming.endReason,
    options: incoming.options ?? current.options,
    autoStopAt: incoming.autoStopAt ?? current.autoStopAt,
    destinations: mergeDestinations(current.destinations, incoming.destinations),
  };
  const keys = new Set([...Object.keys(current), ...Object.keys(merged)]) as Set<keyof Stream>;
  const same = [...keys].every((key) => key === 'updatedAt' || JSON.stringify(current[key]) === JSON.stringify(merged[key]));
  return same ? current : merged;
}
