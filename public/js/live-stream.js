// The live-stream panel: destinations (keys masked), go live, add or remove while live, stop.
import { api, errorMessage } from './api.js';
import { byId, el, showError } from './dom.js';
import { DESTINATION_LABELS, maskStreamUrl } from './format.js';
import { STATUS_CONTROLS } from './status-controls.js';
/** @import { DestinationStatus, RoomStatus, Stream } from './types.js' */

/** A destination as listed: one typed before going live has no state yet. @typedef {{ url: string, status?: DestinationStatus, error?: string }} ListedDestination */

export class LiveStreamPanel {
  /** @param {{ layoutOf: () => string }} options  `layoutOf`: the layout picked for the room ('' for the service's default) */
  constructor({ layoutOf }) {
    this.layoutOf = layoutOf;
    /** @type {RoomStatus} */
    this.status = 'STOPPED';
    /** @type {string | undefined} */
    this.roomName = undefined;
    /**
     * Destinations typed before going live, as typed: only this tab ever holds a key.
     * @type {string[]}
     */
    this.pending = [];
    /**
     * Masked URL → the URL as typed, for the destinations this tab added (only those can be removed here).
     * @type {Map<string, string>}
     */
    this.typed = new Map();
    /** @type {Stream | null} */
    this.stream = null;
    byId('stream-form').addEventListener('submit', (event) => {
      void this.add(event);
    });
    byId('stream-button').addEventListener('click', () => {
      void this.toggle();
    });
  }

  /** The room entered: the panel is shown, and so used, only once in one. */
  get room() {
    return /** @type {string} */ (this.roomName);
  }

  /** @param {string} roomName */
  enter(roomName) {
    this.roomName = roomName;
    this.pending = [];
    this.typed.clear();
    this.stream = null;
    this.render();
  }

  /**
   * The room's `streamingStatus` changed: the button follows, and the destinations are read again.
   * @param {RoomStatus} status
   */
  async show(status) {
    const changed = status !== this.status;
    this.status = status;
    if (changed || !this.stream) await this.refresh();
    this.render();
  }

  async refresh() {
    try {
      this.stream = (await api.currentStream(this.room)).stream;
    } catch (error) {
      showError(`Cannot read the live stream: ${errorMessage(error)}`);
    }
  }

  get live() {
    return STATUS_CONTROLS[this.status].stream.live;
  }

  /** @param {Event} event */
  async add(event) {
    event.preventDefault();
    /** @type {HTMLInputElement} */
    const input = byId('stream-url');
    const url = input.value.trim();
    if (!url) return;
    input.value = '';
    this.typed.set(maskStreamUrl(url), url);
    if (!this.live) {
      if (!this.pending.includes(url)) this.pending.push(url);
      this.render();
      return;
    }
    await this.update({ addUrls: [url] }, 'add the destination');
  }

  /** @param {string} maskedUrl */
  async remove(maskedUrl) {
    const url = /** @type {string} */ (this.typed.get(maskedUrl));
    if (!this.live) {
      this.pending = this.pending.filter((pending) => pending !== url);
      this.render();
      return;
    }
    await this.update({ removeUrls: [url] }, 'remove the destination');
  }

  /**
   * @param {{ addUrls?: string[], removeUrls?: string[] }} change
   * @param {string} action  what it does, in words
   */
  async update(change, action) {
    try {
      this.stream = (await api.updateStream(this.room, change)).stream;
    } catch (error) {
      showError(`Cannot ${action}: ${errorMessage(error)}`);
    }
    this.render();
  }

  async toggle() {
    /** @type {HTMLButtonElement} */
    const button = byId('stream-button');
    button.disabled = true;
    try {
      if (this.live) {
        this.stream = (await api.stopStream(this.room)).stream;
      } else {
        const layout = this.layoutOf();
        this.stream = (await api.startStream(this.room, this.pending, layout ? { layout } : {})).stream;
        this.pending = [];
      }
    } catch (error) {
      showError(`Cannot ${this.live ? 'stop' : 'start'} the live stream: ${errorMessage(error)}`);
    }
    this.render();
  }

  /**
   * Before going live, the destinations typed; once live, the stream's own, with their states.
   * @returns {ListedDestination[]}
   */
  destinations() {
    if (!this.live || !this.stream) return this.pending.map((url) => ({ url: maskStreamUrl(url), status: undefined }));
    return this.stream.destinations;
  }

  render() {
    const look = STATUS_CONTROLS[this.status].stream;
    /** @type {HTMLButtonElement} */
    const button = byId('stream-button');
    button.textContent = look.label;
    button.disabled = look.disabled || (!look.live && this.pending.length === 0);
    button.classList.toggle('danger', look.live);
    button.dataset.status = this.status;
    const failed = this.status === 'FAILED' && this.stream?.status === 'FAILED';
    byId('stream-failure').hidden = !failed;
    byId('stream-failure').textContent = failed ? `The live stream failed${this.stream?.error ? `: ${this.stream.error}` : '.'}` : '';
    byId('stream-destinations').replaceChildren(...this.destinations().map((destination) => this.destinationItem(destination)));
  }

  /** @param {ListedDestination} destination */
  destinationItem({ url, status, error }) {
    const removable = this.typed.has(url) && status !== 'FINISHED';
    return el(
      'li',
      { class: `destination${status ? ` destination-${status.toLowerCase()}` : ''}` },
      el('code', { class: 'destination-url' }, url),
      status && el('span', { class: 'destination-status' }, DESTINATION_LABELS[status] ?? status),
      error && el('span', { class: 'destination-error' }, error),
      removable && el('button', { class: 'remove', title: 'Remove this destination', onclick: () => this.remove(url) }, 'Remove'),
    );
  }
}
