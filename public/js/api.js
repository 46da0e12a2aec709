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
export function useCredential(value) {
  credential = value || undefined;
}

async function request(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (credential) headers.Authorization = `Bearer ${credential}`;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError(0, `The recording service is unreachable (${error.message})`);
  }
  const payload = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(response.status, payload.errorMessage || `${method} ${path} failed (${response.status})`, payload.code);
  }
  return payload;
}

const recordingPath = (name) => `/recordings/${encodeURIComponent(name)}`;

export const api = {
  /** `admission`: { roomName, participantName, passcode?, joinToken? } (what is absent is left out). */
  token: (admission) => request('POST', '/token', admission),
  startRecording: (roomName) => request('POST', '/recordings/start', { roomName }),
  stopRecording: (roomName) => request('POST', '/recordings/stop', { roomName }),
  listRecordings({ roomName, limit = 10, cursor } = {}) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (roomName) query.set('roomName', roomName);
    if (cursor) query.set('cursor', cursor);
    return request('GET', `/recordings?${query}`);
  },
  recordingUrl: (name) => request('GET', `${recordingPath(name)}/url`),
  deleteRecording: (name) => request('DELETE', recordingPath(name)),
};

/** Room tokens this tab was given, by room name, so the all-recordings page can use them too. */
export const heldRooms = {
  all() {
    try {
      return JSON.parse(sessionStorage.getItem('rooms') || '{}');
    } catch {
      return {};
    }
  },
  set(roomName, admission) {
    const rooms = this.all();
    rooms[roomName] = { token: admission.token, permissions: admission.permissions, role: admission.role };
    sessionStorage.setItem('rooms', JSON.stringify(rooms));
  },
};
