// The shapes of the service's answers, as the pages read them (src/models/ and src/services/ define them).
// Types only: the pages import them in JSDoc, never at run time.

/** @typedef {'STARTING' | 'ACTIVE' | 'ENDING' | 'COMPLETE' | 'FAILED' | 'ABORTED' | 'LIMIT_REACHED'} RecordingStatus */
/** @typedef {'stopped' | 'roomClosed' | 'maxDuration' | 'startTimeout' | 'roomEmpty' | 'limit' | 'noPublisher'} EndReason */
/** A room's recording or streaming status (its metadata's `recordingStatus`, `streamingStatus`). @typedef {'STARTING' | 'STARTED' | 'STOPPING' | 'STOPPED' | 'FAILED'} RoomStatus */
/** @typedef {'record' | 'list' | 'play' | 'delete' | 'stream'} Permission */
/** @typedef {'moderator' | 'participant'} Role */

/**
 * A recording as the API shows it (RecordingView).
 * @typedef {object} Recording
 * @property {string} id
 * @property {string} name
 * @property {string} roomName
 * @property {string} roomId
 * @property {RecordingStatus} status
 * @property {boolean} playable  its media can be played and downloaded
 * @property {number} startedAt  ms
 * @property {number} [endedAt]  ms
 * @property {number} duration  s
 * @property {number} size  bytes
 * @property {string} mediaKey
 * @property {string} [error]  what went wrong: LiveKit's error, or the service's words
 * @property {string} [livekitError]  LiveKit's own error, beside the service's
 * @property {EndReason} [endReason]
 * @property {boolean} [waitingForPublisher]  STARTING in a room where nobody publishes yet
 * @property {{ layout: string, preset?: string, audioOnly: boolean }} [options]
 * @property {Record<string, string | number | boolean>} [metadata]  the host application's own fields
 * @property {number} [maxDuration]  s
 * @property {number} [deadline]  ms
 * @property {string} [thumbnailPrefix]
 * @property {string} [thumbnailKey]  set once it has a poster
 * @property {number} [imageCount]
 * @property {number} [autoStopAt]  ms
 * @property {number} updatedAt  ms
 */

/** GET /recordings: a page, newest first. @typedef {{ recordings: Recording[], nextCursor: string | null }} RecordingPage */

/** GET /recordings/{name}/url. @typedef {{ recordingUrl: string, expiresAt?: number }} RecordingUrl */

/** One recording's outcome in DELETE /recordings. @typedef {{ name: string, deleted: boolean, status: number, code?: string, errorMessage?: string }} DeleteResult */

/** @typedef {'ACTIVE' | 'FINISHED' | 'FAILED'} DestinationStatus */

/**
 * One live-stream destination, its URL masked.
 * @typedef {object} Destination
 * @property {string} url
 * @property {DestinationStatus} status
 * @property {string} [error]
 * @property {number} [startedAt]  ms
 * @property {number} [endedAt]  ms
 */

/**
 * A room's live stream.
 * @typedef {object} Stream
 * @property {string} id
 * @property {string} roomName
 * @property {string} roomId
 * @property {RecordingStatus} status
 * @property {number} startedAt  ms
 * @property {number} [endedAt]  ms
 * @property {Destination[]} destinations
 * @property {{ layout: string, preset?: string }} [options]
 * @property {string} [error]
 * @property {EndReason} [endReason]
 * @property {number} [autoStopAt]  ms
 * @property {number} updatedAt  ms
 */

/** What POST /token is given (what is absent is left out). @typedef {{ roomName?: string, participantName: string, passcode?: string, joinToken?: string }} AdmissionRequest */

/**
 * POST /token's answer: a room token and what it allows.
 * @typedef {object} Admission
 * @property {string} token
 * @property {string} livekitUrl
 * @property {string} roomName
 * @property {string} identity
 * @property {string} participantName
 * @property {Role} role
 * @property {Permission[]} permissions
 * @property {string} [moderatorPasscode]  given once, to whoever claims an unclaimed room
 * @property {Role[]} [shortPasscodes]  to moderators: the room's passcodes shorter than the rule
 */

/** A room token this tab holds (sessionStorage). @typedef {Pick<Admission, 'token' | 'permissions' | 'role'>} HeldRoom */

/**
 * GET /config: what the client connects to, and the service's own lists of values.
 * @typedef {object} ServerConfig
 * @property {string} livekitUrl
 * @property {boolean} openAdmission
 * @property {string[]} layouts  the recording and streaming layouts
 * @property {string[]} presets  the encoding presets
 * @property {string[]} roomStatuses  a room's recording or streaming statuses
 */

export {};
