// The service's HTTP API. Every path segment and query value is encoded.

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function request(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
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
  token: (roomName, participantName) => request('POST', '/token', { roomName, participantName }),
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
