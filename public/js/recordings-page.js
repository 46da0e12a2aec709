// The all-recordings page: every recording, newest first, paged, with search by room name.
import { byId, clearErrors } from './dom.js';
import { RecordingList } from './recording-list.js';

const recordings = new RecordingList({
  list: byId('recording-list'),
  more: byId('recording-more'),
  empty: byId('recording-empty'),
  pageSize: 20,
  showRoom: true,
});

function search(event) {
  event?.preventDefault();
  clearErrors();
  const roomName = byId('search-room').value.trim();
  return recordings.reload(roomName || undefined);
}

byId('search-form').addEventListener('submit', search);
byId('refresh-button').addEventListener('click', () => search());
search();
