// The room page: join a LiveKit room, see everyone, record, and follow the room's recording status.
import { Room, RoomEvent, Track } from '/vendor/livekit-client/livekit-client.esm.mjs';
import { api, errorMessage, heldRooms, jwtClaims, parseJson, useCredential } from './api.js';
import { byId, clearErrors, el, showError } from './dom.js';
import { LiveStreamPanel } from './live-stream.js';
import { problemOf } from './format.js';
import { fillPickers } from './pickers.js';
import { RecordingList } from './recording-list.js';
import { STATUS_CONTROLS, roomStatusOf } from './status-controls.js';
/** @import { Participant, RemoteParticipant, RemoteTrack } from '/vendor/livekit-client/livekit-client.esm.mjs' */
/** @import { Admission, AdmissionRequest, Permission, Role, RoomStatus } from './types.js' */

const RECORDING_DELETED_TOPIC = 'RECORDING_DELETED';

const recordings = new RecordingList({ list: byId('recording-list'), more: byId('recording-more'), empty: byId('recording-empty') });
/** The layout picked for recording and streaming ('' for the service's default). */
const chosenLayout = () => /** @type {HTMLSelectElement} */ (byId('recording-layout')).value;
const liveStream = new LiveStreamPanel({ layoutOf: chosenLayout });
/** Asked once at load: the pickers' values and the room statuses come from the service. */
const serverConfig = api.config();

/** A join link (`/#join=<token>`) from the host application; read once and taken out of the address bar. */
const joinToken = new URLSearchParams(location.hash.slice(1)).get('join') || undefined;
if (joinToken) history.replaceState(null, '', location.pathname + location.search);
// A join link pasted into this tab changes only the fragment: start over with it.
window.addEventListener('hashchange', () => {
  if (new URLSearchParams(location.hash.slice(1)).has('join')) location.reload();
});

/**
 * The room and name a join token carries, for showing only: the service verifies the token.
 * @param {string} token
 */
function invitation(token) {
  const claims = jwtClaims(token);
  return { roomName: typeof claims.room === 'string' ? claims.room : '', name: typeof claims.name === 'string' ? claims.name : '' };
}

/**
 * One of our keys in the room's metadata, which may be empty or belong to another application.
 * @param {string | undefined} metadata
 * @param {string} key
 * @returns {unknown}
 */
function metadataValue(metadata, key) {
  try {
    return /** @type {Record<string, unknown> | null} */ (parseJson(metadata || '{}'))?.[key];
  } catch {
    return undefined;
  }
}

/** What the layout and quality pickers ask for; empty means the service's default. */
function chosenOptions() {
  const layout = chosenLayout();
  const quality = /** @type {HTMLSelectElement} */ (byId('recording-quality')).value;
  return {
    ...(layout ? { layout } : {}),
    ...(quality === 'audio' ? { audioOnly: true } : quality ? { preset: quality } : {}),
  };
}

/** The tiles of the video grid, one per participant. */
const videoTiles = () => /** @type {HTMLElement[]} */ ([...byId('video-grid').children]);

/**
 * @param {Participant} participant
 * @param {boolean} [you]  the person on this page
 */
function videoTile(participant, you = false) {
  const id = `tile-${participant.identity}`;
  const existing = videoTiles().find((tile) => tile.dataset.tile === id);
  if (existing) return existing;
  const name = participant.name || participant.identity;
  const label = you ? `${name} (you)` : name;
  const tile = el('div', { class: 'tile', dataset: { tile: id } }, el('div', { class: 'tile-name' }, label));
  byId('video-grid').append(tile);
  return tile;
}

/**
 * @param {RemoteTrack} track
 * @param {RemoteParticipant} participant
 */
function attachTrack(track, participant) {
  const media = track.attach();
  media.dataset.trackSid = track.sid;
  if (track.kind === Track.Kind.Video) videoTile(participant).prepend(media);
  else byId('audio-sink').append(media);
}

/** @param {RemoteTrack} track */
function detachTrack(track) {
  for (const media of track.detach()) media.remove();
}

/** @param {RemoteParticipant} participant */
function removeParticipant(participant) {
  videoTiles()
    .find((tile) => tile.dataset.tile === `tile-${participant.identity}`)
    ?.remove();
}

/**
 * Only the service's own messages count: LiveKit relays any participant's data on any topic, and
 * names the sender (`participantIdentity`, set even before the room knows them); the server's carry none.
 * @param {Uint8Array} payload
 * @param {RemoteParticipant} [participant]
 * @param {unknown} [_kind]
 * @param {string} [topic]
 * @param {unknown} [_encryption]
 * @param {string} [participantIdentity]
 */
function onData(payload, participant, _kind, topic, _encryption, participantIdentity) {
  if (topic !== RECORDING_DELETED_TOPIC || participant || participantIdentity) return;
  try {
    const { recordingName } = /** @type {{ recordingName?: unknown }} */ (parseJson(new TextDecoder().decode(payload)));
    if (typeof recordingName === 'string') recordings.remove(recordingName);
  } catch {
    // Not a message of ours.
  }
}

/** @returns {HTMLInputElement} */
const participantNameField = () => byId('participant-name');
/** @returns {HTMLInputElement} */
const passcodeField = () => byId('passcode');
/** @returns {HTMLInputElement} */
const roomNameField = () => byId('room-name');

/**
 * One joined room: the LiveKit room, what this person may do in it (from /token; controls they may
 * not use are hidden) and the recording status shown. Created on join; its controls' listeners last
 * until it is left or disconnected.
 */
class JoinedRoom {
  /** @type {Permission[]} */
  #permissions = [];
  /** @type {RoomStatus} */
  #status = 'STOPPED';
  #wiring = new AbortController();

  /**
   * @param {readonly string[]} roomStatuses  the service's (GET /config)
   */
  constructor(roomStatuses) {
    this.roomStatuses = roomStatuses;
    this.room = new Room({ adaptiveStream: true, dynacast: true });
    this.room
      .on(RoomEvent.TrackSubscribed, (track, _publication, participant) => attachTrack(track, participant))
      .on(RoomEvent.TrackUnsubscribed, (track) => detachTrack(track))
      .on(RoomEvent.ParticipantDisconnected, removeParticipant)
      .on(RoomEvent.RoomMetadataChanged, (metadata) => {
        void this.showRoomStatus(metadata);
      })
      .on(RoomEvent.DataReceived, onData)
      .on(RoomEvent.Disconnected, () => this.#ended());
  }

  /** @param {Permission} permission */
  may(permission) {
    return this.#permissions.includes(permission);
  }

  /**
   * Shows the room with only the controls this person's permissions allow, and lists its recordings.
   * @param {Admission} admitted
   * @param {AdmissionRequest} admission
   */
  async enter(admitted, admission) {
    this.#permissions = admitted.permissions;
    useCredential(admitted.token, renewal(admitted, admission));
    heldRooms.set(admitted.roomName, admitted);
    passcodeField().value = '';
    showControls(admitted, (permission) => this.may(permission));
    videoTile(this.room.localParticipant, true);
    this.#wire();
    await this.publishCameraAndMicrophone();
    // Listed once: by the status when it is not the one shown before joining, else here.
    const listed = await this.showRoomStatus(this.room.metadata);
    if (!listed && this.may('list')) await recordings.reload(admitted.roomName);
  }

  #wire() {
    const { signal } = this.#wiring;
    byId('leave-button').addEventListener('click', () => void this.leave(), { signal });
    byId('recording-button').addEventListener('click', () => void this.toggleRecording(), { signal });
    byId('recording-layout').addEventListener('change', () => void this.changeLayout(), { signal });
    window.addEventListener('beforeunload', () => void this.room.disconnect(), { signal });
  }

  /** Back to the join form; this room's controls answer no more. */
  #ended() {
    this.#wiring.abort();
    this.#permissions = [];
    resetToJoinForm();
  }

  /** Leaving drops the room token this tab held (navigating away keeps it for the all-recordings page). */
  async leave() {
    await this.room.disconnect();
    this.#ended();
    heldRooms.remove(this.room.name);
  }

  /**
   * One of the room's statuses in its metadata.
   * @param {string | undefined} metadata
   * @param {string} key
   */
  #statusIn(metadata, key) {
    return roomStatusOf(metadataValue(metadata, key), this.roomStatuses);
  }

  /**
   * The room's recording and streaming status, side by side; the panels follow.
   * @param {string | undefined} metadata
   * @returns {Promise<boolean>} whether the room's recordings were listed again
   */
  async showRoomStatus(metadata) {
    const streaming = this.#statusIn(metadata, 'streamingStatus');
    byId('streaming-status').textContent = STATUS_CONTROLS[streaming].words;
    byId('live-badge').hidden = !STATUS_CONTROLS[streaming].stream.badge;
    if (this.may('stream')) await liveStream.show(streaming);
    const waiting = metadataValue(metadata, 'recordingWaitingForPublisher') === true;
    return this.showRecordingStatus(this.#statusIn(metadata, 'recordingStatus'), waiting);
  }

  /**
   * `waiting`: STARTING in a room where nobody publishes yet (egress starts on the first track).
   * @param {RoomStatus} next
   * @param {boolean} waiting
   * @returns {Promise<boolean>} whether the room's recordings were listed again
   */
  async showRecordingStatus(next, waiting) {
    const changed = this.#status !== next;
    this.#status = next;
    const waitingChanged = showWaiting(next === 'STARTING' && waiting);
    showRecordingControls(next);
    if (next === 'FAILED') await this.showFailureReason();
    // The list shows recordings in progress too, so it follows every change.
    if (!(changed || waitingChanged) || !this.may('list')) return false;
    await recordings.reload(this.room.name);
    return true;
  }

  /** The reason of the room's latest recording, which is the one that failed. */
  async showFailureReason() {
    const reason = byId('recording-failure');
    reason.textContent = 'The last recording failed.';
    if (!this.may('list')) return;
    try {
      const {
        recordings: [latest],
      } = await api.listRecordings({ roomName: this.room.name, limit: 1 });
      const why = problemOf(latest);
      if (why) reason.textContent = `The last recording failed: ${why}`;
    } catch {
      // The generic sentence stays.
    }
  }

  /**
   * While recording (or starting to), a new layout is saved with the running recording; LiveKit's
   * stock recorder page reads the layout once, so its picture keeps the one it started with.
   */
  async changeLayout() {
    const layout = chosenLayout();
    if ((this.#status !== 'STARTED' && this.#status !== 'STARTING') || !layout) return;
    try {
      await api.changeLayout(this.room.name, layout);
    } catch (error) {
      showError(`Cannot change the layout: ${errorMessage(error)}`);
    }
  }

  async toggleRecording() {
    /** @type {HTMLButtonElement} */
    const button = byId('recording-button');
    button.disabled = true;
    const stopping = this.#status === 'STARTED';
    try {
      if (stopping) await api.stopRecording(this.room.name);
      else await api.startRecording(this.room.name, chosenOptions());
    } catch (error) {
      showError(`Cannot ${stopping ? 'stop' : 'start'} the recording: ${errorMessage(error)}`);
      button.disabled = STATUS_CONTROLS[this.#status].recording.disabled;
    }
  }

  async publishCameraAndMicrophone() {
    const local = this.room.localParticipant;
    try {
      await local.enableCameraAndMicrophone();
      const camera = local.getTrackPublication(Track.Source.Camera)?.track;
      if (camera) videoTile(local, true).prepend(camera.attach());
    } catch (error) {
      showError(`Camera or microphone unavailable: ${errorMessage(error)}`);
    }
  }
}

/**
 * @param {boolean} waits
 * @returns {boolean} whether the notice changed
 */
function showWaiting(waits) {
  const notice = byId('recording-waiting');
  const changed = notice.hidden === waits;
  notice.hidden = !waits;
  return changed;
}

/** @param {RoomStatus} status */
function showRecordingControls(status) {
  const { words, recording } = STATUS_CONTROLS[status];
  /** @type {HTMLButtonElement} */
  const button = byId('recording-button');
  button.textContent = recording.label;
  button.disabled = recording.disabled;
  button.classList.toggle('danger', recording.stop);
  button.dataset.status = status;
  byId('recording-badge').hidden = !recording.badge;
  byId('recording-status').textContent = words;
  byId('recording-failure').hidden = status !== 'FAILED';
}

/**
 * The room's controls, each shown only to whoever may use it.
 * @param {Admission} admitted
 * @param {(permission: Permission) => boolean} may
 */
function showControls(admitted, may) {
  recordings.allow({ play: may('play'), delete: may('delete') });
  byId('join').hidden = true;
  byId('room').hidden = false;
  byId('room-title').textContent = admitted.roomName;
  for (const id of ['recording-button', 'recording-layout', 'recording-quality']) byId(id).hidden = !may('record');
  byId('room-recordings').hidden = !may('list');
  byId('live-stream').hidden = !may('stream');
  liveStream.enter(admitted.roomName);
  byId('moderator-passcode').hidden = !admitted.moderatorPasscode;
  byId('moderator-passcode-value').textContent = admitted.moderatorPasscode ?? '';
  showShortPasscodes(admitted.shortPasscodes ?? []);
}

/**
 * How to be admitted afresh once the service refuses this room token: the way this person came in
 * (join token, passcode; the moderator passcode an owner was given), kept in this page's memory only.
 * The api takes the fresh token (unless the person left meanwhile).
 * @param {Admission} admitted
 * @param {AdmissionRequest} admission
 */
function renewal(admitted, admission) {
  const again = admitted.moderatorPasscode
    ? { roomName: admitted.roomName, participantName: admitted.participantName, passcode: admitted.moderatorPasscode }
    : admission;
  return () => api.token(again);
}

/**
 * A passcode set before the 8-character rule still admits: moderators are told, so that it gets changed.
 * @param {Role[]} kinds
 */
function showShortPasscodes(kinds) {
  const notice = byId('short-passcode');
  notice.hidden = kinds.length === 0;
  const several = kinds.length > 1;
  notice.textContent =
    `The ${kinds.join(' and ')} passcode${several ? 's' : ''} of this room ${several ? 'are' : 'is'} shorter than 8 characters, ` +
    'which is easy to guess: ask the host application to set a longer one.';
}

/** What POST /token is asked, from the join form (or the join link). */
function admissionRequest() {
  const participantName = participantNameField().value.trim();
  const passcode = passcodeField().value;
  /** @type {AdmissionRequest} */
  const admission = joinToken
    ? { joinToken, participantName }
    : { roomName: roomNameField().value.trim(), participantName, ...(passcode ? { passcode } : {}) };
  return admission;
}

/** @param {Event} event */
async function join(event) {
  event.preventDefault();
  clearErrors();
  const admission = admissionRequest();
  /** @type {HTMLButtonElement} */
  const joinButton = byId('join-button');
  joinButton.disabled = true;
  joinButton.textContent = 'Joining…';
  /** @type {Admission} */
  let admitted;
  /** @type {JoinedRoom} */
  let joined;
  try {
    const { roomStatuses } = await serverConfig;
    admitted = await api.token(admission);
    joined = new JoinedRoom(roomStatuses);
    await joined.room.connect(admitted.livekitUrl, admitted.token);
  } catch (error) {
    showError(`Cannot join "${admission.roomName ?? invitation(joinToken ?? '').roomName}": ${errorMessage(error)}`);
    resetToJoinForm();
    return;
  }
  await joined.enter(admitted, admission);
}

function resetToJoinForm() {
  useCredential(undefined);
  byId('join').hidden = false;
  byId('room').hidden = true;
  byId('video-grid').replaceChildren();
  byId('audio-sink').replaceChildren();
  recordings.clear();
  /** @type {HTMLButtonElement} */
  const joinButton = byId('join-button');
  joinButton.disabled = false;
  joinButton.textContent = 'Join';
}

/** The join form, as a join link (if any) fills it. */
function prepareJoinForm() {
  if (joinToken) {
    const invited = invitation(joinToken);
    byId('join-invitation').hidden = false;
    byId('invited-room').textContent = invited.roomName;
    byId('room-name-field').hidden = true;
    roomNameField().required = false;
    byId('passcode-field').hidden = true;
    if (invited.name) participantNameField().value = invited.name;
  }
  participantNameField().value ||= `Participant${Math.floor(Math.random() * 100)}`;
}

byId('join-form').addEventListener('submit', (event) => {
  void join(event);
});
serverConfig.then(fillPickers, (error) => showError(`Cannot read the service's settings: ${errorMessage(error)}`));
prepareJoinForm();
