import { type RoomCompositeEgressRequest, StreamInfo, StreamInfo_Status, type StreamOutput, StreamProtocol } from '@livekit/protocol';
import { TwirpError, invalidField } from './twirp';

/**
 * Stream outputs (§8.1): URL checks, shorthand expansion and the two redactions egress applies.
 * Only the double ever sees a raw URL; EgressInfo carries the redacted forms.
 */

/** Scheme → protocol (egress `types.StreamOutputTypes`). */
const SCHEMES = new Map<string, StreamProtocol>([
  ['rtmp', StreamProtocol.RTMP],
  ['rtmps', StreamProtocol.RTMP],
  ['mux', StreamProtocol.RTMP],
  ['twitch', StreamProtocol.RTMP],
  ['srt', StreamProtocol.SRT],
  ['ws', StreamProtocol.WEBSOCKET],
  ['wss', StreamProtocol.WEBSOCKET],
]);

// protocol `utils/redact.go`: the 4th group is the stream key.
const RTMP_SHAPE = /^(rtmps?:\/\/)(.*\/)(.*\/)(\S*)( live=1)?$/;
const RTMP_FORMAT = 'rtmp urls must be of format rtmp(s)://{host}(/{path})/{app}/{stream_key}( live=1)';

/** What a destination error reads like when a test does not say (GStreamer's GST_RESOURCE_ERROR_OPEN_WRITE text). */
export const DEFAULT_STREAM_ERROR = 'Could not open resource for writing.';

export const invalidUrl = (url: string, reason: string) => new TwirpError('invalid_argument', `invalid url ${url}: ${reason}`);
export const streamNotFound = (url: string) => new TwirpError('not_found', `stream ${url} not found`);
const noWebsocket = () => new TwirpError('unimplemented', 'the LiveKit double simulates RTMP and SRT stream outputs only (no websocket)');

/** One destination: the URL egress dials (shorthands expanded) and its `StreamInfo.url`. */
export interface StreamTarget {
  url: string;
  redacted: string;
}

export interface ChosenStream {
  protocol: StreamProtocol;
  targets: StreamTarget[];
}

const schemeOf = (url: string) => /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1].toLowerCase() ?? '';
/** `mux://<key>`: Go's url.Parse puts the key in the host. */
const hostOf = (url: string) => url.slice(url.indexOf('//') + 2).split(/[/?#]/)[0];

/**
 * `mux://<key>` and `twitch://<key>` as egress dials them (`pkg/config/urls.go`). Twitch is
 * simplified: a fixed global ingest instead of egress's lookup at ingest.twitch.tv.
 */
export function expandShorthand(url: string): string {
  const scheme = schemeOf(url);
  if (scheme === 'mux') return `rtmps://global-live.mux.com:443/app/${hostOf(url)}`;
  if (scheme === 'twitch') return `rtmps://ingest.global-contribute.live-video.net/app/${hostOf(url)}`;
  return url;
}

/** `RedactIdentifier`: `{abc...xyz}` with 3, 2 or 1 characters kept at each end (none below 3 characters). */
export function redactIdentifier(id: string): string {
  const n = [3, 2, 1].find((k) => id.length >= k * 3);
  return n ? `{${id.slice(0, n)}...${id.slice(-n)}}` : '{...}';
}

/** `RedactStreamKey`: the key of an RTMP URL redacted; undefined when the URL does not have the RTMP shape. */
export function redactStreamKey(url: string): string | undefined {
  const match = RTMP_SHAPE.exec(url);
  if (!match) return undefined;
  return `${match[1]}${match[2]}${match[3]}${redactIdentifier(match[4])}${match[5] ?? ''}`;
}

/** The request echo (protocol `egress/redact.go`): RTMP keys, shorthand keys, then any query value (SRT streamid, passphrase). */
export function redactEchoUrl(url: string): string {
  const rtmp = redactStreamKey(url);
  if (rtmp !== undefined) return rtmp;
  const scheme = schemeOf(url);
  if (scheme === 'mux' || scheme === 'twitch') return `${scheme}://${redactIdentifier(hostOf(url))}`;
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((param) => param.replace(/=(.+)$/, '={...}'));
  return `${url.slice(0, q + 1)}${params.join('&')}`;
}

/** `ValidateUrl` against the egress's protocol: the scheme must match, an RTMP URL must have the RTMP shape. SRT stays verbatim. */
export function validateStreamUrl(raw: string, protocol: StreamProtocol): StreamTarget {
  if (SCHEMES.get(schemeOf(raw)) !== protocol) throw invalidUrl(raw, 'invalid scheme');
  if (protocol !== StreamProtocol.RTMP) return { url: raw, redacted: raw };
  const url = expandShorthand(raw);
  const redacted = redactStreamKey(url);
  if (redacted === undefined) throw invalidUrl(url, RTMP_FORMAT);
  return { url, redacted };
}

/**
 * The stream output of a request (`output.go` `updateEncodedOutputs`): `streamOutputs[0]`, else the
 * deprecated `stream` member. `alongside`: the request has another output kind, so an empty URL
 * list is fine (URLs can come later through UpdateStream).
 */
export function chooseStream(req: RoomCompositeEgressRequest, alongside: boolean): ChosenStream | undefined {
  if (req.streamOutputs.length > 1) throw invalidField('multiple stream outputs');
  const stream = req.streamOutputs[0] ?? (req.output.case === 'stream' ? req.output.value : undefined);
  if (!stream) return undefined;
  const protocol = protocolOf(stream);
  const targets = stream.urls.map((url) => validateStreamUrl(url, protocol));
  if (!alongside && targets.length === 0) throw invalidField('stream url');
  return { protocol, targets };
}

/** DEFAULT_PROTOCOL: taken from the first URL's scheme. */
function protocolOf(stream: StreamOutput): StreamProtocol {
  let protocol = stream.protocol;
  if (protocol === StreamProtocol.DEFAULT_PROTOCOL) {
    if (stream.urls.length === 0) throw invalidField('stream protocol');
    const derived = SCHEMES.get(schemeOf(stream.urls[0]));
    if (derived === undefined) throw invalidUrl(stream.urls[0], 'invalid protocol');
    protocol = derived;
  }
  if (protocol === StreamProtocol.WEBSOCKET) throw noWebsocket();
  return protocol;
}

/** A new entry: SRT counts as started at once, RTMP only once its connection is up (§8.1 row 1). */
export function newStreamInfo(target: StreamTarget, protocol: StreamProtocol, now: bigint): StreamInfo {
  return new StreamInfo({ url: target.redacted, startedAt: protocol === StreamProtocol.SRT ? now : 0n });
}

/** An entry that stops (`removeSink`/`updateDuration`): ended now; a never-started one has startedAt = endedAt. */
export function closeStreamInfo(entry: StreamInfo, status: StreamInfo_Status, now: bigint, error?: string): void {
  entry.status = status;
  if (error) entry.error = error;
  entry.endedAt = now;
  if (entry.startedAt === 0n) entry.startedAt = now;
  entry.duration = now - entry.startedAt;
}

export const isLive = (entry: StreamInfo) => entry.status === StreamInfo_Status.ACTIVE;
