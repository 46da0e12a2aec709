// How durations, sizes and dates read in the lists.

export function formatDuration(seconds) {
  if (seconds > 0 && seconds < 1) return '<1s';
  const total = Math.round(seconds || 0);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return [h && `${h}h`, (h || m) && `${m}m`, `${s}s`].filter(Boolean).join(' ');
}

export function formatSize(bytes) {
  if (!bytes) return '0 B';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  const exponent = Math.min(units.length - 1, Math.floor(Math.log(bytes) / Math.log(1024)));
  const value = bytes / 1024 ** exponent;
  return `${value.toFixed(exponent >= 2 ? 1 : 0)} ${units[exponent]}`;
}

export const formatDate = (millis) => new Date(millis).toLocaleString();

/** Words a person understands for each recording status. */
export const STATUS_LABELS = {
  STARTING: 'Starting',
  ACTIVE: 'Recording',
  ENDING: 'Finishing',
  COMPLETE: 'Ready',
  LIMIT_REACHED: 'Ready (limit reached)',
  FAILED: 'Failed',
  ABORTED: 'Aborted',
};
