// The service's HTTP API. Every path segment and query value is encoded.

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The bearer credential every call carries: a room token from /token, or the host application's key. */
let credential;
/** Gets a fresh admission (POST /token's answer) when the service refuses the held room token; absent for the host key. */
let renew;
let renewing;
/** Bumped at every change of credential (Leave, a new join): a renewal begun before answers for nobody. */
let generation = 0;
export function useCredential(value, renewal) {
  credential = value || undefined;
  renew = renewal;
  renewing = undefined;
  generation += 1;
}

/**
 * One renewal at a time, however many calls were refused together. Its failure says what to do and
 * is final: trying a stale passcode again would only count as failed attempts. One that answers
 * after the person left changes nothing: the token would let them back in unseen.
 */
function renewCredential() {
  if (renewing) return renewing;
  const started = generation;
  const current = () => generation === started;
  const renewal = renew()
    .then(
      (fresh) => {
        if (!current()) throw new ApiError(401, 'You left the room before its access was renewed', 'left');
        credential = fresh.token;
        heldRooms.set(fresh.roomName, fresh);
      },
      (error) => {
        const ended =
          error.code === 'renewal_failed'
            ? error
            : new ApiError(
                401,
                `Your access to this room has ended and could not be renewed (${error.message}). Leave and join again.`,
                'renewal_failed',
              );
        if (current()) renew = () => Promise.reject(ended);
        throw ended;
      },
    )
    .finally(() => {
      if (renewing === renewal) renewing = undefined;
    });
  renewing = renewal;
  return renewal;
}

/** fetch with the credential; a refused room token is renewed once and the call made again. */
async function send(path, { headers = {}, ...init } = {}, authenticated = true) {
  const attempt = () =>
    fetch(path, { ...init, headers: credential && authenticated ? { ...headers, Authorization: `Bearer ${credential}` } : headers });
  const used = credential;
  const response = await attempt();
  if (response.status !== 401 || !authenticated || !renew) return response;
  if (credential === used) await renewCredential();
  return attempt();
}

async function request(method, path, body, { authenticated = true } = {}) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await send(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }, authenticated);
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError(0, `The recording service is unreachable (${error.message})`);
  }
  const payload = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(response.status, payload.errorMessage || `${method} ${path} failed (${response.status})`, payload.code);
  }
  return payload;
}

const recordingPath = (name) => `/recordings/${encodeURIComponent(name)}`;

/** An image the service guards: fetched with the credential (an <img> cannot send it), as an object URL. */
async function imageUrl(path) {
  const response = await send(path);
  if (!response.ok) throw new ApiError(response.status, `${path} failed (${response.status})`);
  return URL.createObjectURL(await response.blob());
}

export const api = {
  /** `admission`: { roomName, participantName, passcode?, joinToken? } (what is absent is left out). */
  token: (admission) => request('POST', '/token', admission, { authenticated: false }),
  /** `options`: { layout?, preset?, audioOnly? } (what is absent takes the service's defaults). */
  startRecording: (roomName, options = {}) => request('POST', '/recordings/start', { roomName, ...options }),
  changeLayout: (roomName, layout) => request('POST', '/recordings/layout', { roomName, layout }),
  deleteRecordings: (names) => request('DELETE', '/recordings', { names }),
  stopRecording: (roomName) => request('POST', '/recordings/stop', { roomName }),
  listRecordings({ roomName, limit = 10, cursor } = {}) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (roomName) query.set('roomName', roomName);
    if (cursor) query.set('cursor', cursor);
    return request('GET', `/recordings?${query}`);
  },
  recordingUrl: (name, { download = false } = {}) => request('GET', `${recordingPath(name)}/url${download ? '?download=true' : ''}`),
  deleteRecording: (name) => request('DELETE', recordingPath(name)),
  thumbnailUrl: (name) => imageUrl(`${recordingPath(name)}/thumbnail`),
  /** `options`: { layout?, preset? }. */
  startStream: (roomName, urls, options = {}) => request('POST', '/streams/start', { roomName, urls, ...options }),
  updateStream: (roomName, { addUrls = [], removeUrls = [] }) => request('POST', '/streams/update', { roomName, addUrls, removeUrls }),
  stopStream: (roomName) => request('POST', '/streams/stop', { roomName }),
  currentStream: (roomName) => request('GET', `/streams/${encodeURIComponent(roomName)}`),
};

/** The claims of a JWT, for reading only (the service verifies it); {} when unreadable. */
export function jwtClaims(token) {
  try {
    const base64 = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))));
  } catch {
    return {};
  }
}

/**
 * Room tokens this tab was given, by room name, so the all-recordings page can use them too. They
 * live in this tab only (sessionStorage) and are dropped once expired.
 */
export const heldRooms = {
  all() {
    let rooms;
    try {
      rooms = JSON.parse(sessionStorage.getItem('rooms') || '{}');
    } catch {
      rooms = {};
    }
    const now = Date.now() / 1000;
    return Object.fromEntries(Object.entries(rooms).filter(([, held]) => (jwtClaims(held.token).exp ?? 0) > now));
  },
  set(roomName, admission) {
    const rooms = this.all();
    rooms[roomName] = { token: admission.token, permissions: admission.permissions, role: admission.role };
    sessionStorage.setItem('rooms', JSON.stringify(rooms));
  },
  remove(roomName) {
    const rooms = this.all();
    delete rooms[roomName];
    sessionStorage.setItem('rooms', JSON.stringify(rooms));
  },
};
