// The all-recordings page: with the host application's key every recording, searchable by room; with
// the room tokens this tab holds (rooms joined here), the recordings of each of those rooms.
import { ApiError, heldRooms, useCredential } from './api.js';
import { byId, clearErrors, el } from './dom.js';
import { RecordingList } from './recording-list.js';

const HOST = '__host__';
const recordings = new RecordingList({
  list: byId('recording-list'),
  more: byId('recording-more'),
  empty: byId('recording-empty'),
  pageSize: 20,
  showRoom: true,
  selectable: true,
  onSelectionChange: (names) => {
    /** @type {HTMLButtonElement} */ (byId('delete-selected')).disabled = names.length === 0;
    byId('delete-selected').textContent = names.length > 0 ? `Delete selected (${names.length})` : 'Delete selected';
  },
  // A key or token the service no longer takes is dropped, so the person can give another.
  onRefused: (error) => {
    if (error instanceof ApiError && error.status === 401 && accessChoice() === HOST) forgetKey();
  },
});

/** Whose recordings are asked for: a room name, or HOST. */
const accessChoice = () => /** @type {HTMLSelectElement} */ (byId('access-select')).value;
/** @returns {HTMLInputElement} */
const adminKeyField = () => byId('admin-key');
/** @returns {HTMLInputElement} */
const searchField = () => byId('search-room');

/** Back to asking for the key; what went wrong stays on the screen. */
function forgetKey() {
  sessionStorage.removeItem('adminKey');
  adminKeyField().value = '';
  showKeyField();
  byId('search-form').hidden = true;
  byId('delete-selected').hidden = true;
  byId('access-needed').hidden = false;
  recordings.clear();
}

/** The choices: each room this tab holds a token for, and the host application's key. */
function fillChoices() {
  const rooms = heldRooms.all();
  /** @type {HTMLSelectElement} */
  const select = byId('access-select');
  select.replaceChildren(
    ...Object.keys(rooms).map((roomName) => el('option', { value: roomName }, `Room: ${roomName}`)),
    el('option', { value: HOST }, 'Every room (host application key)'),
  );
  if (sessionStorage.getItem('adminKey')) select.value = HOST;
  showKeyField();
}

function showKeyField() {
  const host = accessChoice() === HOST;
  const known = Boolean(sessionStorage.getItem('adminKey'));
  byId('admin-key').hidden = !host || known;
  byId('forget-key').hidden = !host || !known;
}

/**
 * Uses the chosen credential; with a room token only that room's recordings are asked for.
 * @param {Event} [event]
 */
function show(event) {
  event?.preventDefault();
  clearErrors();
  const choice = accessChoice();
  if (choice === HOST) {
    const typed = adminKeyField().value.trim();
    if (typed) sessionStorage.setItem('adminKey', typed);
    const key = sessionStorage.getItem('adminKey');
    byId('access-needed').hidden = Boolean(key);
    byId('search-form').hidden = !key;
    showKeyField();
    if (!key) {
      byId('delete-selected').hidden = true;
      return recordings.clear();
    }
    useCredential(key);
    recordings.allow({ play: true, delete: true });
    byId('delete-selected').hidden = false;
    return recordings.reload(searchField().value.trim() || undefined);
  }
  const held = heldRooms.all()[choice];
  byId('access-needed').hidden = true;
  byId('search-form').hidden = true;
  useCredential(held.token);
  recordings.allow({ play: held.permissions.includes('play'), delete: held.permissions.includes('delete') });
  byId('delete-selected').hidden = !held.permissions.includes('delete');
  return held.permissions.includes('list') ? recordings.reload(choice) : recordings.clear();
}

/** @param {Event} [event] */
function search(event) {
  event?.preventDefault();
  clearErrors();
  return recordings.reload(searchField().value.trim() || undefined);
}

byId('access-select').addEventListener('change', () => {
  showKeyField();
  void show();
});
byId('access-form').addEventListener('submit', (event) => {
  void show(event);
});
byId('forget-key').addEventListener('click', forgetKey);
byId('delete-selected').addEventListener('click', () => {
  void recordings.deleteSelected();
});
byId('search-form').addEventListener('submit', (event) => {
  void search(event);
});
byId('refresh-button').addEventListener('click', () => {
  void search();
});
fillChoices();
void show();
