// A paged list of recordings with play and delete, shared by the room page and the all-recordings page.
import { ApiError, api, errorMessage } from './api.js';
import { byId, el, showError } from './dom.js';
import { STATUS_LABELS, formatDate, formatDuration, formatSize, problemOf } from './format.js';
/** @import { Recording } from './types.js' */

const FINAL = new Set(['COMPLETE', 'FAILED', 'ABORTED', 'LIMIT_REACHED']);

/** Ask for a fresh URL this long before the current one expires. */
const URL_REFRESH_MARGIN_MS = 30_000;

/**
 * The one <dialog> that plays a recording. Its URL expires (RECORDING_URL_TTL), so a fresh one is
 * fetched before it does and swapped in at the same position: seeking in a long video keeps working.
 */
class Player {
  /** @type {number | undefined} */
  #refreshTimer;

  constructor() {
    byId('player-close').addEventListener('click', () => this.dialog.close());
    this.dialog.addEventListener('close', () => {
      clearTimeout(this.#refreshTimer);
      this.video.pause();
      this.video.removeAttribute('src');
      this.video.load();
    });
  }

  /** @returns {HTMLDialogElement} */
  get dialog() {
    return byId('player');
  }

  /** @returns {HTMLVideoElement} */
  get video() {
    return byId('player-video');
  }

  /** @param {Recording} recording */
  async play(recording) {
    byId('player-title').textContent = recording.name;
    this.dialog.showModal();
    try {
      await this.load(recording);
      await this.video.play().catch(() => undefined); // autoplay may be refused; the controls remain
    } catch (error) {
      this.dialog.close();
      showError(`Cannot play ${recording.name}: ${errorMessage(error)}`);
    }
  }

  /** @param {Recording} recording */
  async load(recording) {
    const { recordingUrl, expiresAt } = await api.recordingUrl(recording.name);
    this.video.src = recordingUrl;
    const lifetime = (expiresAt ?? Infinity) - Date.now();
    const refreshIn = Math.max(lifetime - URL_REFRESH_MARGIN_MS, lifetime / 2);
    clearTimeout(this.#refreshTimer);
    if (Number.isFinite(refreshIn)) this.#refreshTimer = setTimeout(() => this.refresh(recording), refreshIn);
  }

  /** @param {Recording} recording */
  async refresh(recording) {
    const { currentTime, paused } = this.video;
    try {
      await this.load(recording);
    } catch (error) {
      showError(`Cannot keep playing ${recording.name}: ${errorMessage(error)}`);
      return;
    }
    this.video.addEventListener(
      'loadedmetadata',
      () => {
        this.video.currentTime = currentTime;
        if (!paused) this.video.play().catch(() => undefined);
      },
      { once: true },
    );
  }
}

/** Both pages that list recordings have the dialog; module scripts run once it is parsed. */
const player = new Player();

/**
 * A link that downloads, with the file name the service gives (a signed or presigned URL).
 * @param {Recording} recording
 */
async function download(recording) {
  try {
    const { recordingUrl } = await api.recordingUrl(recording.name, { download: true });
    el('a', { href: recordingUrl, download: '' }).click();
  } catch (error) {
    showError(`Cannot download ${recording.name}: ${errorMessage(error)}`);
  }
}

/**
 * Where the list goes and how it behaves: `selectable` offers a box on each recording, whose ticking
 * `onSelectionChange` hears; `onRefused` hears why a page could not be listed.
 * @typedef {object} RecordingListView
 * @property {HTMLElement} list
 * @property {HTMLButtonElement} more
 * @property {HTMLElement} empty
 * @property {number} [pageSize]
 * @property {boolean} [showRoom]
 * @property {boolean} [selectable]
 * @property {(names: string[]) => void} [onSelectionChange]
 * @property {(error: unknown) => void} [onRefused]
 */

export class RecordingList {
  /** @param {RecordingListView} view */
  constructor(view) {
    this.view = view;
    this.pageSize = view.pageSize ?? 10;
    /** Which buttons to offer, from the person's permissions. */
    this.allowed = { play: true, delete: true };
    /** @type {Map<string, HTMLLIElement>} */
    this.items = new Map();
    /** @type {string | undefined} */
    this.roomName = undefined;
    /** @type {string | null} */
    this.cursor = null;
    /** Bumped on every reload, so a page that arrives after a newer search is dropped. */
    this.generation = 0;
    view.more.addEventListener('click', () => {
      void this.loadMore();
    });
  }

  /** @param {{ play: boolean, delete: boolean }} allowed */
  allow(allowed) {
    this.allowed = allowed;
  }

  /**
   * The first page again, for one room name (all its sessions) or for every room.
   * @param {string | undefined} [roomName]
   */
  async reload(roomName = this.roomName) {
    this.generation++;
    this.roomName = roomName;
    this.cursor = null;
    this.items.clear();
    this.view.list.replaceChildren();
    await this.loadMore();
  }

  async loadMore() {
    const generation = this.generation;
    try {
      const page = await api.listRecordings({ roomName: this.roomName, limit: this.pageSize, cursor: this.cursor ?? undefined });
      if (generation !== this.generation) return;
      for (const recording of page.recordings) this.add(recording);
      this.cursor = page.nextCursor;
    } catch (error) {
      if (generation === this.generation) {
        showError(`Cannot list recordings: ${errorMessage(error)}`);
        this.view.onRefused?.(error);
      }
    }
    this.refreshControls();
  }

  /**
   * Removes a recording from the list (also when someone else deleted it).
   * @param {string} name
   */
  remove(name) {
    this.items.get(name)?.remove();
    this.items.delete(name);
    this.refreshControls();
  }

  clear() {
    this.generation++;
    this.roomName = undefined;
    this.cursor = null;
    this.items.clear();
    this.view.list.replaceChildren();
    this.refreshControls();
  }

  refreshControls() {
    this.view.more.hidden = !this.cursor;
    this.view.empty.hidden = this.items.size > 0;
  }

  /** @param {Recording} recording */
  add(recording) {
    const item = this.render(recording);
    this.items.get(recording.name)?.replaceWith(item);
    if (!this.items.has(recording.name)) this.view.list.append(item);
    this.items.set(recording.name, item);
  }

  /** @param {Recording} recording */
  render(recording) {
    const problem = problemOf(recording);
    return el(
      'li',
      { class: `recording status-${recording.status.toLowerCase()}`, dataset: { name: recording.name } },
      recording.thumbnailKey ? this.thumbnail(recording) : el('div', { class: 'thumb' }),
      el(
        'div',
        { class: 'recording-text' },
        el('div', { class: 'recording-name' }, recording.name),
        el(
          'div',
          { class: 'recording-meta' },
          this.view.showRoom ? el('span', { class: 'room' }, recording.roomName) : null,
          el('span', { class: 'status' }, STATUS_LABELS[recording.status] ?? recording.status),
          el('span', {}, formatDuration(recording.duration)),
          el('span', {}, formatSize(recording.size)),
          el('span', {}, formatDate(recording.startedAt)),
        ),
        recording.waitingForPublisher ? el('div', { class: 'recording-waiting' }, 'Waiting for someone to publish') : null,
        problem ? el('div', { class: 'recording-error' }, problem) : null,
      ),
      el(
        'div',
        { class: 'recording-actions' },
        this.allowed.delete &&
          this.view.selectable &&
          el('input', {
            type: 'checkbox',
            class: 'select',
            'aria-label': `Select ${recording.name}`,
            disabled: !FINAL.has(recording.status),
            onchange: () => this.view.onSelectionChange?.(this.selected()),
          }),
        this.allowed.play &&
          el(
            'button',
            {
              class: 'play',
              title: 'Play',
              disabled: !recording.playable,
              onclick: () => player.play(recording),
            },
            'Play',
          ),
        this.allowed.play &&
          el(
            'button',
            {
              class: 'download',
              title: 'Download',
              disabled: !recording.playable,
              onclick: () => download(recording),
            },
            'Download',
          ),
        this.allowed.delete &&
          el(
            'button',
            {
              class: 'delete danger',
              title: 'Delete',
              disabled: !FINAL.has(recording.status),
              onclick: () => this.delete(recording),
            },
            'Delete',
          ),
      ),
    );
  }

  /**
   * The recording's poster, filled in once it has been fetched (a missing one leaves the frame empty).
   * @param {Recording} recording
   */
  thumbnail(recording) {
    const image = el('img', { class: 'thumb', alt: '' });
    api.thumbnailUrl(recording.name).then(
      (url) => {
        image.addEventListener('load', () => URL.revokeObjectURL(url), { once: true });
        image.src = url;
      },
      () => undefined,
    );
    return image;
  }

  /** The names of the recordings whose box is ticked. */
  selected() {
    return [...this.items.entries()]
      .filter(([, item]) => /** @type {HTMLInputElement | null} */ (item.querySelector('input.select'))?.checked)
      .map(([name]) => name);
  }

  /** Deletes the ticked recordings in one request; each is removed from the list or its problem shown. */
  async deleteSelected() {
    const names = this.selected();
    if (names.length === 0) return;
    try {
      const { results } = await api.deleteRecordings(names);
      for (const result of results) {
        if (result.deleted || result.status === 404) this.remove(result.name);
        else showError(`Cannot delete ${result.name}: ${result.errorMessage}`);
      }
    } catch (error) {
      showError(`Cannot delete the selected recordings: ${errorMessage(error)}`);
    }
    this.view.onSelectionChange?.(this.selected());
  }

  /** @param {Recording} recording */
  async delete(recording) {
    try {
      await api.deleteRecording(recording.name);
      this.remove(recording.name);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) this.remove(recording.name);
      else showError(`Cannot delete ${recording.name}: ${errorMessage(error)}`);
    }
  }
}
