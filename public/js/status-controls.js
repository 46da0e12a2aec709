// What every control shows in each of a room's statuses (its metadata's `recordingStatus`, `streamingStatus`).
/** @import { RoomStatus } from './types.js' */

/**
 * Per status: the words beside "Recording:" and "Live stream:", the recording button and its badge,
 * and the live-stream button and badge (`live`: a stream is starting, running or stopping, so the destinations shown are its own).
 * @typedef {object} StatusControls
 * @property {string} words
 * @property {{ label: string, disabled: boolean, stop: boolean, badge: boolean }} recording
 * @property {{ label: string, disabled: boolean, live: boolean, badge: boolean }} stream
 */

/** @type {Record<RoomStatus, StatusControls>} */
export const STATUS_CONTROLS = {
  STARTING: {
    words: 'Starting',
    recording: { label: 'Starting…', disabled: true, stop: false, badge: false },
    stream: { label: 'Going live…', disabled: true, live: true, badge: false },
  },
  STARTED: {
    words: 'On',
    recording: { label: 'Stop recording', disabled: false, stop: true, badge: true },
    stream: { label: 'Stop live stream', disabled: false, live: true, badge: true },
  },
  STOPPING: {
    words: 'Stopping',
    recording: { label: 'Stopping…', disabled: true, stop: true, badge: true },
    stream: { label: 'Stopping…', disabled: true, live: true, badge: false },
  },
  STOPPED: {
    words: 'Off',
    recording: { label: 'Start recording', disabled: false, stop: false, badge: false },
    stream: { label: 'Go live', disabled: false, live: false, badge: false },
  },
  FAILED: {
    words: 'Failed',
    recording: { label: 'Start recording', disabled: false, stop: false, badge: false },
    stream: { label: 'Go live', disabled: false, live: false, badge: false },
  },
};

/**
 * A status the service names (GET /config's `roomStatuses`) and this table describes; anything else,
 * unreadable metadata included, means "not recording" (or streaming).
 * @param {unknown} value
 * @param {readonly string[]} serverStatuses
 * @returns {RoomStatus}
 */
export function roomStatusOf(value, serverStatuses) {
  const known = serverStatuses.find((status) => status === value);
  return known !== undefined && Object.hasOwn(STATUS_CONTROLS, known) ? /** @type {RoomStatus} */ (known) : 'STOPPED';
}
