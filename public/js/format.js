// How durations, sizes and dates read in the lists.
/** @import { DestinationStatus, Recording, RecordingStatus } from './types.js' */

/** @param {number} seconds */
export function formatDuration(seconds) {
  if (seconds > 0 && seconds < 1) return '<1s';
  const total = Math.round(seconds || 0);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return [h && `${h}h`, (h || m) && `${m}m`, `${s}s`].filter(Boolean).join(' ');
}

/** @param {number} bytes */
export function formatSize(bytes) {
  if (!bytes) return '0 B';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  const exponent = Math.min(units.length - 1, Math.floor(Math.log(bytes) / Math.log(1024)));
  const value = bytes / 1024 ** exponent;
  return `${value.toFixed(exponent >= 2 ? 1 : 0)} ${units[exponent]}`;
}

export const formatDate = (/** @type {number} */ millis) => new Date(millis).toLocaleString();

/**
 * Words a person understands for each recording status.
 * @type {Record<RecordingStatus, string>}
 */
export const STATUS_LABELS = {
  STARTING: 'Starting',
  ACTIVE: 'Recording',
  ENDING: 'Finishing',
  COMPLETE: 'Ready',
  LIMIT_REACHED: 'Ready (limit reached)',
  FAILED: 'Failed',
  ABORTED: 'Aborted',
};

/**
 * Why a recording went wrong: its error (the service's words when it ended it, with LiveKit's own
 * beside them), else why it ended, for one that failed.
 * @param {Recording | undefined} recording
 * @returns {string | undefined}
 */
export function problemOf(recording) {
  if (!recording) return undefined;
  if (recording.error) return recording.livekitError ? `${recording.error} (LiveKit: ${recording.livekitError})` : recording.error;
  return recording.status === 'ABORTED' || recording.status === 'FAILED' ? recording.endReason : undefined;
}

/**
 * Words for a destination's state.
 * @type {Record<DestinationStatus, string>}
 */
export const DESTINATION_LABELS = { ACTIVE: 'Live', FINISHED: 'Ended', FAILED: 'Failed' };

/**
 * `{abc...xyz}`: the first and last few characters of a secret, as the service and LiveKit show it.
 * @param {string} value
 */
function maskIdentifier(value) {
  if (/^\{[^{}]{0,3}\.\.\.[^{}]{0,3}\}$/.test(value)) return value;
  const shown = value.length >= 9 ? 3 : value.length >= 6 ? 2 : value.length >= 3 ? 1 : 0;
  return shown === 0 ? '{...}' : `{${value.slice(0, shown)}...${value.slice(-shown)}}`;
}

/**
 * A stream destination with its key (last path segment) and query values masked, exactly as the service masks it.
 * @param {string} url
 */
export function maskStreamUrl(url) {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)([^?#]*)(\?[^#]*)?/i.exec(url.trim());
  if (!match) return '{...}';
  const [, scheme, authority, path, query] = match;
  const host = authority.includes('@') ? `{...}@${authority.slice(authority.lastIndexOf('@') + 1)}` : authority;
  const segments = path.split('/');
  if (segments[segments.length - 1] !== '') segments[segments.length - 1] = maskIdentifier(segments[segments.length - 1]);
  const maskedQuery = query
    ? `?${query
        .slice(1)
        .split('&')
        .map((pair) => {
          const at = pair.indexOf('=');
          if (at < 0) return pair === '' ? pair : maskIdentifier(pair);
          return at === pair.length - 1 ? pair : `${pair.slice(0, at)}=${maskIdentifier(pair.slice(at + 1))}`;
        })
        .join('&')}`
    : '';
  return `${scheme}${host}${segments.join('/')}${maskedQuery}`;
}
