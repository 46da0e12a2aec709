// The service's HTTP API. Every path segment and query value is encoded.
/** @import { Admission, AdmissionRequest, DeleteResult, HeldRoom, Recording, RecordingPage, RecordingUrl, ServerConfig, Stream } from './types.js' */

export class ApiError extends Error {
  /**
   * @param {number} status  the HTTP status; 0 when the service was not reached
   * @param {string} message
   * @param {string} [code]  the service's error code
   */
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * The bearer credential every call carries: a room token from /token, or the host application's key;
 * with what renews a room token the service refuses.
 */
class Credential {
  /** @type {string | undefined} */
  #value;
  /**
   * Gets a fresh admission (POST /token's answer) when the service refuses the held room token; absent for the host key.
   * @type {(() => Promise<Admission>) | undefined}
   */
  #renew;
  /** @type {Promise<void> | undefined} */
  #renewing;
  /** Bumped at every change of credential (Leave, a new join): a renewal begun before answers for nobody. */
  #generation = 0;

  get value() {
    return this.#value;
  }

  get renewable() {
    return this.#renew !== undefined;
  }

  /**
   * @param {string | undefined} value
   * @param {() => Promise<Admission>} [renewal]
   */
  use(value, renewal) {
    this.#value = value || undefined;
    this.#renew = renewal;
    this.#renewing = undefined;
    this.#generation += 1;
  }

  /**
   * One renewal at a time, however many calls were refused together. Its failure says what to do and
   * is final: trying a stale passcode again would only count as failed attempts. One that answers
   * after the person left changes nothing: the token would let them back in unseen.
   * @returns {Promise<void>}
   */
  renew() {
    if (this.#renewing) return this.#renewing;
    const started = this.#generation;
    const current = () => this.#generation === started;
    const renewal = /** @type {() => Promise<Admission>} */ (this.#renew)()
      .then(
        (fresh) => {
          if (!current()) throw new ApiError(401, 'You left the room before its access was renewed', 'left');
          this.#value = fresh.token;
          heldRooms.set(fresh.roomName, fresh);
        },
        (error) => {
          const ended = renewalFailure(error);
          if (current()) this.#renew = () => Promise.reject(ended);
          throw ended;
        },
      )
      .finally(() => {
        if (this.#renewing === renewal) this.#renewing = undefined;
      });
    this.#renewing = renewal;
    return renewal;
  }
}

/** @param {unknown} error  why a renewal failed */
function renewalFailure(error) {
  if (error instanceof ApiError && error.code === 'renewal_failed') return error;
  return new ApiError(
    401,
    `Your access to this room has ended and could not be renewed (${errorMessage(error)}). Leave and join again.`,
    'renewal_failed',
  );
}

/** The one credential of this page: created once, changed only through `useCredential`. */
const credential = new Credential();

/**
 * @param {string | undefined} value
 * @param {() => Promise<Admission>} [renewal]
 */
export function useCredential(value, renewal) {
  credential.use(value, renewal);
}

/** What was thrown, in words: its message (what this client catches is an Error). */
export const errorMessage = (/** @type {unknown} */ error) => /** @type {Error} */ (error).message;

/**
 * fetch with the credential; a refused room token is renewed once and the call made again.
 * @param {string} path
 * @param {Omit<RequestInit, 'headers'> & { headers?: Record<string, string> }} [init]
 * @param {boolean} [authenticated]
 * @returns {Promise<Response>}
 */
async function send(path, { headers = {}, ...init } = {}, authenticated = true) {
  const attempt = () => {
    const bearer = authenticated ? credential.value : undefined;
    return fetch(path, { ...init, headers: bearer ? { ...headers, Authorization: `Bearer ${bearer}` } : headers });
  };
  const used = credential.value;
  const response = await attempt();
  if (response.status !== 401 || !authenticated || !credential.renewable) return response;
  if (credential.value === used) await credential.renew();
  return attempt();
}

/**
 * @template T  the answer's shape
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @param {{ authenticated?: boolean }} [options]
 * @returns {Promise<T>}
 */
async function request(method, path, body, { authenticated = true } = {}) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await send(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }, authenticated);
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError(0, `The recording service is unreachable (${errorMessage(error)})`);
  }
  /** @type {unknown} */
  const payload = await response.json().catch(() => ({}));
  if (!response.ok) {
    const problem = /** @type {{ errorMessage?: string, code?: string }} */ (payload);
    throw new ApiError(response.status, problem.errorMessage || `${method} ${path} failed (${response.status})`, problem.code);
  }
  return /** @type {T} */ (payload);
}

const recordingPath = (/** @type {string} */ name) => `/recordings/${encodeURIComponent(name)}`;

/**
 * An image the service guards: fetched with the credential (an <img> cannot send it), as an object URL.
 * @param {string} path
 */
async function imageUrl(path) {
  const response = await send(path);
  if (!response.ok) throw new ApiError(response.status, `${path} failed (${response.status})`);
  return URL.createObjectURL(await response.blob());
}

/** @typedef {{ message: string, recording: Recording }} RecordingAnswer */
/** @typedef {{ message: string, stream: Stream }} StreamAnswer */

export const api = {
  /**
   * What the client connects to, and the values its pickers offer and its room statuses take.
   * @returns {Promise<ServerConfig>}
   */
  config: () => request('GET', '/config', undefined, { authenticated: false }),
  /**
   * `admission`: { roomName, participantName, passcode?, joinToken? } (what is absent is left out).
   * @param {AdmissionRequest} admission
   * @returns {Promise<Admission>}
   */
  token: (admission) => request('POST', '/token', admission, { authenticated: false }),
  /**
   * `options`: { layout?, preset?, audioOnly? } (what is absent takes the service's defaults).
   * @param {string} roomName
   * @param {{ layout?: string, preset?: string, audioOnly?: boolean }} [options]
   * @returns {Promise<RecordingAnswer>}
   */
  startRecording: (roomName, options = {}) => request('POST', '/recordings/start', { roomName, ...options }),
  /**
   * @param {string} roomName
   * @param {string} layout
   * @returns {Promise<RecordingAnswer>}
   */
  changeLayout: (roomName, layout) => request('POST', '/recordings/layout', { roomName, layout }),
  /**
   * @param {string[]} names
   * @returns {Promise<{ results: DeleteResult[] }>}
   */
  deleteRecordings: (names) => request('DELETE', '/recordings', { names }),
  /**
   * @param {string} roomName
   * @returns {Promise<RecordingAnswer>}
   */
  stopRecording: (roomName) => request('POST', '/recordings/stop', { roomName }),
  /**
   * @param {{ roomName?: string, limit?: number, cursor?: string }} [filter]
   * @returns {Promise<RecordingPage>}
   */
  listRecordings({ roomName, limit = 10, cursor } = {}) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (roomName) query.set('roomName', roomName);
    if (cursor) query.set('cursor', cursor);
    return request('GET', `/recordings?${query}`);
  },
  /**
   * @param {string} name
   * @param {{ download?: boolean }} [options]
   * @returns {Promise<RecordingUrl>}
   */
  recordingUrl: (name, { download = false } = {}) => request('GET', `${recordingPath(name)}/url${download ? '?download=true' : ''}`),
  /**
   * @param {string} name
   * @returns {Promise<{ message: string }>}
   */
  deleteRecording: (name) => request('DELETE', recordingPath(name)),
  /** @param {string} name */
  thumbnailUrl: (name) => imageUrl(`${recordingPath(name)}/thumbnail`),
  /**
   * `options`: { layout?, preset? }.
   * @param {string} roomName
   * @param {string[]} urls
   * @param {{ layout?: string, preset?: string }} [options]
   * @returns {Promise<StreamAnswer>}
   */
  startStream: (roomName, urls, options = {}) => request('POST', '/streams/start', { roomName, urls, ...options }),
  /**
   * @param {string} roomName
   * @param {{ addUrls?: string[], removeUrls?: string[] }} change
   * @returns {Promise<StreamAnswer>}
   */
  updateStream: (roomName, { addUrls = [], removeUrls = [] }) => request('POST', '/streams/update', { roomName, addUrls, removeUrls }),
  /**
   * @param {string} roomName
   * @returns {Promise<StreamAnswer>}
   */
  stopStream: (roomName) => request('POST', '/streams/stop', { roomName }),
  /**
   * @param {string} roomName
   * @returns {Promise<{ stream: Stream | null }>}
   */
  currentStream: (roomName) => request('GET', `/streams/${encodeURIComponent(roomName)}`),
};

/**
 * JSON.parse, saying what it gives: a value still to be checked.
 * @param {string} text
 * @returns {unknown}
 */
export const parseJson = (text) => JSON.parse(text);

/** @typedef {{ exp?: number, [claim: string]: unknown }} JwtClaims */

/**
 * The claims of a JWT, for reading only (the service verifies it); {} when unreadable.
 * @param {string} token
 * @returns {JwtClaims}
 */
export function jwtClaims(token) {
  try {
    const base64 = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return /** @type {JwtClaims} */ (parseJson(new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)))));
  } catch {
    return {};
  }
}

/**
 * Room tokens this tab was given, by room name, so the all-recordings page can use them too. They
 * live in this tab only (sessionStorage) and are dropped once expired.
 */
export const heldRooms = {
  /** @returns {Record<string, HeldRoom>} */
  all() {
    /** @type {Record<string, HeldRoom>} */
    let rooms;
    try {
      rooms = /** @type {Record<string, HeldRoom>} */ (parseJson(sessionStorage.getItem('rooms') || '{}'));
    } catch {
      rooms = {};
    }
    const now = Date.now() / 1000;
    return Object.fromEntries(Object.entries(rooms).filter(([, held]) => (jwtClaims(held.token).exp ?? 0) > now));
  },
  /**
   * @param {string} roomName
   * @param {HeldRoom} admission
   */
  set(roomName, admission) {
    const rooms = this.all();
    rooms[roomName] = { token: admission.token, permissions: admission.permissions, role: admission.role };
    sessionStorage.setItem('rooms', JSON.stringify(rooms));
  },
  /** @param {string} roomName */
  remove(roomName) {
    const rooms = this.all();
    delete rooms[roomName];
    sessionStorage.setItem('rooms', JSON.stringify(rooms));
  },
};
