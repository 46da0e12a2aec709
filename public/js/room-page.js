// The room page: join a LiveKit room, see everyone, record, and follow the room's recording status.
import { Room, RoomEvent, Track } from '/vendor/livekit-client/livekit-client.esm.mjs';
import { api, errorMessage, heldRooms, jwtClaims, parseJson, useCredential } from './api.js';
import { byId, clearErrors, el, showError } from './dom.js';
import { LiveStreamPanel } from './live-stream.js';
import { problemOf } from './format.js';
import { RecordingList } from './recording-list.js';
/** @import { Participant, RemoteParticipant, RemoteTrack } from '/vendor/livekit-client/livekit-client.esm.mjs' */
/** @import { Admission, AdmissionRequest, Permission, Role, RoomStatus } from './types.js' */

const RECORDING_DELETED_TOPIC = 'RECORDING_DELETED';
/** @type {RoomStatus[]} */
const ROOM_STATUSES = ['STARTING', 'STARTED', 'STOPPING', 'STOPPED', 'FAILED'];

/** What the button and badge show in each of the room's five recording states. */
const BUTTON = {
  STARTING: { label: 'Starting…', disabled: true, stop: false, badge: false },
  STARTED: { label: 'Stop recording', disabled: false, stop: true, badge: true },
  STOPPING: { label: 'Stopping…', disabled: true, stop: true, badge: true },
  STOPPED: { label: 'Start recording', disabled: false, stop: false, badge: false },
  FAILED: { label: 'Start recording', disabled: false, stop: false, badge: false },
};

/**
 * The room joined (still the last one after a Leave). What uses it runs only once there is one: the
 * controls are shown, and the events come, from the first join on.
 * @type {Room}
 */
let room;
/** @type {RoomStatus} */
let status = 'STOPPED';
/**
 * What this person may do in the room (from /token); controls they may not use are hidden.
 * @type {Permission[]}
 */
let permissions = [];
const recordings = new RecordingList({ list: byId('recording-list'), more: byId('recording-more'), empty: byId('recording-empty') });
const may = (/** @type {Permission} */ permission) => permissions.includes(permission);
/** The layout picked for recording and streaming ('' for the service's default). */
const chosenLayout = () => /** @type {HTMLSelectElement} */ (byId('recording-layout')).value;
const liveStream = new LiveStreamPanel({ layoutOf: chosenLayout });

/** How each of the five room statuses reads beside "Recording:" and "Live stream:". */
const STATUS_WORDS = { STARTING: 'Starting', STARTED: 'On', STOPPING: 'Stopping', STOPPED: 'Off', FAILED: 'Failed' };

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

/**
 * Anything unreadable means "not recording" (or streaming).
 * @param {string | undefined} metadata
 * @param {string} key
 * @returns {RoomStatus}
 */
function roomStatusOf(metadata, key) {
  const value = metadataValue(metadata, key);
  return ROOM_STATUSES.find((known) => known === value) ?? 'STOPPED';
}

/**
 * The room's recording and streaming status, side by side; the panels follow.
 * @param {string | undefined} metadata
 * @returns {Promise<boolean>} whether the room's recordings were listed again
 */
async function showRoomStatus(metadata) {
  const streaming = roomStatusOf(metadata, 'streamingStatus');
  byId('streaming-status').textContent = STATUS_WORDS[streaming];
  byId('live-badge').hidden = streaming !== 'STARTED';
  if (may('stream')) await liveStream.show(streaming);
  return showRecordingStatus(roomStatusOf(metadata, 'recordingStatus'), metadataValue(metadata, 'recordingWaitingForPublisher') === true);
}

/**
 * `waiting`: STARTING in a room where nobody publishes yet (egress starts on the first track).
 * @param {RoomStatus} next
 * @param {boolean} waiting
 * @returns {Promise<boolean>} whether the room's recordings were listed again
 */
async function showRecordingStatus(next, waiting) {
  const previous = status;
  status = next;
  const waits = next === 'STARTING' && waiting;
  const notice = byId('recording-waiting');
  const waitingChanged = notice.hidden === waits;
  notice.hidden = !waits;
  const look = BUTTON[next];
  /** @type {HTMLButtonElement} */
  const button = byId('recording-button');
  button.textContent = look.label;
  button.disabled = look.disabled;
  button.classList.toggle('danger', look.stop);
  button.dataset.status = next;
  byId('recording-badge').hidden = !look.badge;
  byId('recording-status').textContent = STATUS_WORDS[next];
  byId('recording-failure').hidden = next !== 'FAILED';
  if (next === 'FAILED') await showFailureReason();
  // The list shows recordings in progress too, so it follows every change.
  if (!(previous !== next || waitingChanged) || !may('list')) return false;
  await recordings.reload(room.name);
  return true;
}

/** The reason of the room's latest recording, which is the one that failed. */
async function showFailureReason() {
  const reason = byId('recording-failure');
  reason.textContent = 'The last recording failed.';
  if (!may('list')) return;
  try {
    const {
      recordings: [latest],
    } = await api.listRecordings({ roomName: room.name, limit: 1 });
    const why = problemOf(latest);
    if (why) reason.textContent = `The last recording failed: ${why}`;
  } catch {
    // The generic sentence stays.
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

/**
 * While recording (or starting to), a new layout is saved with the running recording; LiveKit's
 * stock recorder page reads the layout once, so its picture keeps the one it started with.
 */
async function changeLayout() {
  const layout = chosenLayout();
  if ((status !== 'STARTED' && status !== 'STARTING') || !layout) return;
  try {
    await api.changeLayout(room.name, layout);
  } catch (error) {
    showError(`Cannot change the layout: ${errorMessage(error)}`);
  }
}

async function toggleRecording() {
  /** @type {HTMLButtonElement} */
  const button = byId('recording-button');
  button.disabled = true;
  try {
    if (status === 'STARTED') await api.stopRecording(room.name);
    else await api.startRecording(room.name, chosenOptions());
  } catch (error) {
    showError(`Cannot ${status === 'STARTED' ? 'stop' : 'start'} the recording: ${errorMessage(error)}`);
    button.disabled = BUTTON[status].disabled;
  }
}

/** The tiles of the video grid, one per participant. */
const videoTiles = () => /** @type {HTMLElement[]} */ ([...byId('video-grid').children]);

/** @param {Participant} participant */
function videoTile(participant) {
  const id = `tile-${participant.identity}`;
  const existing = videoTiles().find((tile) => tile.dataset.tile === id);
  if (existing) return existing;
  const label =
    participant === room.localParticipant ? `${participant.name || participant.identity} (you)` : participant.name || participant.identity;
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

/** @param {Event} event */
async function join(event) {
  event.preventDefault();
  clearErrors();
  const participantName = participantNameField().value.trim();
  const passcode = passcodeField().value;
  /** @type {AdmissionRequest} */
  const admission = joinToken
    ? { joinToken, participantName }
    : { roomName: roomNameField().value.trim(), participantName, ...(passcode ? { passcode } : {}) };
  /** @type {HTMLButtonElement} */
  const joinButton = byId('join-button');
  joinButton.disabled = true;
  joinButton.textContent = 'Joining…';
  /** @type {Admission} */
  let admitted;
  try {
    admitted = await api.token(admission);
    room = new Room({ adaptiveStream: true, dynacast: true });
    room
      .on(RoomEvent.TrackSubscribed, (track, _publication, participant) => attachTrack(track, participant))
      .on(RoomEvent.TrackUnsubscribed, (track) => detachTrack(track))
      .on(RoomEvent.ParticipantDisconnected, removeParticipant)
      .on(RoomEvent.RoomMetadataChanged, (metadata) => {
        void showRoomStatus(metadata);
      })
      .on(RoomEvent.DataReceived, onData)
      .on(RoomEvent.Disconnected, () => resetToJoinForm());
    await room.connect(admitted.livekitUrl, admitted.token);
  } catch (error) {
    showError(`Cannot join "${admission.roomName ?? invitation(joinToken ?? '').roomName}": ${errorMessage(error)}`);
    resetToJoinForm();
    return;
  }
  enterRoom(admitted, admission);
  await publishCameraAndMicrophone();
  // Listed once: by the status when it is not the one shown before joining, else here.
  const listed = await showRoomStatus(room.metadata);
  if (!listed && may('list')) await recordings.reload(admitted.roomName);
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
 * Shows the room with only the controls this person's permissions allow.
 * @param {Admission} admitted
 * @param {AdmissionRequest} admission
 */
function enterRoom(admitted, admission) {
  permissions = admitted.permissions;
  useCredential(admitted.token, renewal(admitted, admission));
  heldRooms.set(admitted.roomName, admitted);
  passcodeField().value = '';
  recordings.allow({ play: may('play'), delete: may('delete') });
  byId('join').hidden = true;
  byId('room').hidden = false;
  byId('room-title').textContent = admitted.roomName;
  byId('recording-button').hidden = !may('record');
  byId('recording-layout').hidden = !may('record');
  byId('recording-quality').hidden = !may('record');
  byId('room-recordings').hidden = !may('list');
  byId('live-stream').hidden = !may('stream');
  liveStream.enter(admitted.roomName);
  byId('moderator-passcode').hidden = !admitted.moderatorPasscode;
  byId('moderator-passcode-value').textContent = admitted.moderatorPasscode ?? '';
  showShortPasscodes(admitted.shortPasscodes ?? []);
  videoTile(room.localParticipant);
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

async function publishCameraAndMicrophone() {
  try {
    await room.localParticipant.enableCameraAndMicrophone();
    const camera = room.localParticipant.getTrackPublication(Track.Source.Camera)?.track;
    if (camera) videoTile(room.localParticipant).prepend(camera.attach());
  } catch (error) {
    showError(`Camera or microphone unavailable: ${errorMessage(error)}`);
  }
}

function resetToJoinForm() {
  useCredential(undefined);
  permissions = [];
  byId('join').hidden = false;
  byId('room').hidden = true;
  byId('video-grid').replaceChildren();
  byId('audio-sink').replaceChildren();
  recordings.clear();
  status = 'STOPPED';
  /** @type {HTMLButtonElement} */
  const joinButton = byId('join-button');
  joinButton.disabled = false;
  joinButton.textContent = 'Join';
}

/** Leaving drops the room token this tab held (navigating away keeps it for the all-recordings page). */
async function leave() {
  const roomName = room?.name;
  await room?.disconnect();
  resetToJoinForm();
  if (roomName) heldRooms.remove(roomName);
}

byId('join-form').addEventListener('submit', (event) => {
  void join(event);
});
byId('leave-button').addEventListener('click', () => {
  void leave();
});
byId('recording-button').addEventListener('click', () => {
  void toggleRecording();
});
byId('recording-layout').addEventListener('change', () => {
  void changeLayout();
});
window.addEventListener('beforeunload', () => {
  void room?.disconnect();
});
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
