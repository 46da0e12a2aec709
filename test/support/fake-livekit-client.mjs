// Stands in for livekit-client in browser tests: the same Room event API, no WebRTC.
// The test drives it from outside through window.__fakeLiveKit; the room's metadata and data
// messages come from the LiveKit double, so status changes still travel the real way there.

export const RoomEvent = {
  Connected: 'connected',
  Disconnected: 'disconnected',
  ParticipantConnected: 'participantConnected',
  ParticipantDisconnected: 'participantDisconnected',
  TrackSubscribed: 'trackSubscribed',
  TrackUnsubscribed: 'trackUnsubscribed',
  RoomMetadataChanged: 'roomMetadataChanged',
  DataReceived: 'dataReceived',
};

export const Track = {
  Kind: { Audio: 'audio', Video: 'video' },
  Source: { Camera: 'camera', Microphone: 'microphone' },
};

/** @typedef {(...args: unknown[]) => void} Listener */

/**
 * What the fake adds to the page's window: its rooms for the test, the test's switch for a refused
 * camera, and the functions the test exposes (Playwright's exposeFunction answers with a promise).
 * @typedef {object} FakeLiveKitGlobals
 * @property {{ rooms: Room[] }} __fakeLiveKit
 * @property {boolean} [__fakeLiveKitMediaDenied]
 * @property {(roomName: string, identity: string, name: string) => Promise<string>} __fakeLiveKitJoin
 * @property {(roomName: string, identity: string, kinds: string[]) => Promise<void>} __fakeLiveKitPublish
 */
const host = /** @type {Window & FakeLiveKitGlobals} */ (window);

class Emitter {
  /** @type {Map<string, Listener[]>} */
  listeners = new Map();
  /**
   * @param {string} event
   * @param {Listener} listener
   */
  on(event, listener) {
    if (!this.listeners.has(event)) this.listeners.set(event, []);
    this.listeners.get(event).push(listener);
    return this;
  }
  /**
   * @param {string} event
   * @param {Listener} listener
   */
  off(event, listener) {
    this.listeners.set(
      event,
      (this.listeners.get(event) ?? []).filter((l) => l !== listener),
    );
    return this;
  }
  /**
   * @param {string} event
   * @param {...unknown} args
   */
  emit(event, ...args) {
    for (const listener of this.listeners.get(event) ?? []) listener(...args);
    return true;
  }
}

let trackCounter = 0;
class FakeTrack {
  /**
   * @param {string} kind
   * @param {string} source
   */
  constructor(kind, source) {
    this.kind = kind;
    this.source = source;
    this.sid = `TR_fake${++trackCounter}`;
    /** @type {HTMLMediaElement[]} */
    this.elements = [];
  }
  attach() {
    const media = document.createElement(this.kind === 'video' ? 'video' : 'audio');
    this.elements.push(media);
    return media;
  }
  detach() {
    const detached = this.elements;
    this.elements = [];
    return detached;
  }
}

class FakeLocalParticipant {
  /**
   * @param {string} roomName
   * @param {string} identity
   * @param {string | undefined} name
   */
  constructor(roomName, identity, name) {
    this.roomName = roomName;
    this.identity = identity;
    this.name = name;
    /** @type {Map<string, { track: FakeTrack }>} */
    this.publications = new Map();
  }
  // The double's room gets both tracks (track_published), as LiveKit would see them published.
  async enableCameraAndMicrophone() {
    // A test's stand-in for a person who refused the browser's camera and microphone prompt.
    if (host.__fakeLiveKitMediaDenied) throw new DOMException('Permission denied', 'NotAllowedError');
    this.publications.set(Track.Source.Camera, { track: new FakeTrack('video', Track.Source.Camera) });
    this.publications.set(Track.Source.Microphone, { track: new FakeTrack('audio', Track.Source.Microphone) });
    await host.__fakeLiveKitPublish(this.roomName, this.identity, ['audio', 'video']);
  }
  /** @param {string} source */
  getTrackPublication(source) {
    return this.publications.get(source);
  }
}

/** @typedef {{ sub: string; name?: string; video: { room: string } }} JoinClaims */

/** @param {string} token */
const claimsOf = (token) => {
  /** @type {unknown} */
  const claims = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
  return /** @type {JoinClaims} */ (claims);
};

export class Room extends Emitter {
  constructor() {
    super();
    this.name = '';
    this.metadata = '';
    this.state = 'disconnected';
    host.__fakeLiveKit.rooms.push(this);
  }

  /**
   * @param {string} url
   * @param {string} token
   */
  async connect(url, token) {
    const claims = claimsOf(token);
    this.url = url;
    this.name = claims.video.room;
    this.localParticipant = new FakeLocalParticipant(this.name, claims.sub, claims.name);
    // The test answers with the double's room metadata and seats the participant there.
    this.metadata = await host.__fakeLiveKitJoin(this.name, claims.sub, claims.name ?? '');
    this.state = 'connected';
    this.emit(RoomEvent.Connected);
  }

  disconnect() {
    if (this.state !== 'disconnected') {
      this.state = 'disconnected';
      this.emit(RoomEvent.Disconnected);
    }
    return Promise.resolve();
  }

  // Driven by the test:
  /** @param {string} metadata */
  setMetadata(metadata) {
    this.metadata = metadata;
    this.emit(RoomEvent.RoomMetadataChanged, metadata);
  }
  // As livekit-client's DataReceived: (payload, participant?, kind?, topic?, encryptionType?, participantIdentity?).
  // From the server (RoomService.SendData) there is no participant and the identity is empty.
  /**
   * @param {string} text
   * @param {string} [topic]
   */
  receiveData(text, topic) {
    this.emit(RoomEvent.DataReceived, new TextEncoder().encode(text), undefined, 0, topic, 0, '');
  }
  // From a participant: `known` when the room lists them already; otherwise only their identity
  // comes with it (livekit-client finds no RemoteParticipant for someone it has not seen yet).
  /**
   * @param {string} identity
   * @param {string} text
   * @param {string | undefined} topic
   * @param {{ known?: boolean }} [options]
   */
  receiveDataFrom(identity, text, topic, { known = true } = {}) {
    const participant = known ? { identity, name: identity } : undefined;
    this.emit(RoomEvent.DataReceived, new TextEncoder().encode(text), participant, 0, topic, 0, identity);
  }
  /**
   * @param {string} identity
   * @param {string} name
   */
  addRemoteParticipant(identity, name) {
    const participant = { identity, name };
    this.emit(RoomEvent.ParticipantConnected, participant);
    this.emit(RoomEvent.TrackSubscribed, new FakeTrack('video', Track.Source.Camera), {}, participant);
  }
}

host.__fakeLiveKit = host.__fakeLiveKit ?? { rooms: [] };
