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

class Emitter {
  listeners = new Map();
  on(event, listener) {
    if (!this.listeners.has(event)) this.listeners.set(event, []);
    this.listeners.get(event).push(listener);
    return this;
  }
  off(event, listener) {
    this.listeners.set(
      event,
      (this.listeners.get(event) ?? []).filter((l) => l !== listener),
    );
    return this;
  }
  emit(event, ...args) {
    for (const listener of this.listeners.get(event) ?? []) listener(...args);
    return true;
  }
}

let trackCounter = 0;
class FakeTrack {
  constructor(kind, source) {
    this.kind = kind;
    this.source = source;
    this.sid = `TR_fake${++trackCounter}`;
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
  constructor(roomName, identity, name) {
    this.roomName = roomName;
    this.identity = identity;
    this.name = name;
    this.publications = new Map();
  }
  // The double's room gets both tracks (track_published), as LiveKit would see them published.
  async enableCameraAndMicrophone() {
    // A test's stand-in for a person who refused the browser's camera and microphone prompt.
    if (window.__fakeLiveKitMediaDenied) throw new DOMException('Permission denied', 'NotAllowedError');
    this.publications.set(Track.Source.Camera, { track: new FakeTrack('video', Track.Source.Camera) });
    this.publications.set(Track.Source.Microphone, { track: new FakeTrack('audio', Track.Source.Microphone) });
    await window.__fakeLiveKitPublish(this.roomName, this.identity, ['audio', 'video']);
  }
  getTrackPublication(source) {
    return this.publications.get(source);
  }
}

const claimsOf = (token) => JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));

export class Room extends Emitter {
  constructor() {
    super();
    this.name = '';
    this.metadata = '';
    this.state = 'disconnected';
    window.__fakeLiveKit.rooms.push(this);
  }

  async connect(url, token) {
    const claims = claimsOf(token);
    this.url = url;
    this.name = claims.video.room;
    this.localParticipant = new FakeLocalParticipant(this.name, claims.sub, claims.name);
    // The test answers with the double's room metadata and seats the participant there.
    this.metadata = await window.__fakeLiveKitJoin(this.name, claims.sub, claims.name ?? '');
    this.state = 'connected';
    this.emit(RoomEvent.Connected);
  }

  async disconnect() {
    if (this.state === 'disconnected') return;
    this.state = 'disconnected';
    this.emit(RoomEvent.Disconnected);
  }

  // Driven by the test:
  setMetadata(metadata) {
    this.metadata = metadata;
    this.emit(RoomEvent.RoomMetadataChanged, metadata);
  }
  // As livekit-client's DataReceived: (payload, participant?, kind?, topic?, encryptionType?, participantIdentity?).
  // From the server (RoomService.SendData) there is no participant and the identity is empty.
  receiveData(text, topic) {
    this.emit(RoomEvent.DataReceived, new TextEncoder().encode(text), undefined, 0, topic, 0, '');
  }
  // From a participant: `known` when the room lists them already; otherwise only their identity
  // comes with it (livekit-client finds no RemoteParticipant for someone it has not seen yet).
  receiveDataFrom(identity, text, topic, { known = true } = {}) {
    const participant = known ? { identity, name: identity } : undefined;
    this.emit(RoomEvent.DataReceived, new TextEncoder().encode(text), participant, 0, topic, 0, identity);
  }
  addRemoteParticipant(identity, name) {
    const participant = { identity, name };
    this.emit(RoomEvent.ParticipantConnected, participant);
    this.emit(RoomEvent.TrackSubscribed, new FakeTrack('video', Track.Source.Camera), {}, participant);
  }
}

window.__fakeLiveKit = window.__fakeLiveKit ?? { rooms: [] };
