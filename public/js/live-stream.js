// The live-stream panel: destinations (keys masked), go live, add or remove while live, stop.
import { api } from './api.js';
import { byId, el, showError } from './dom.js';
import { DESTINATION_LABELS, maskStreamUrl } from './format.js';

/** What the button shows in each of the room's five streaming states. */
const BUTTON = {
  STARTING: { label: 'Going live…', disabled: true, live: true },
  STARTED: { label: 'Stop live stream', disabled: false, live: true },
  STOPPING: { label: 'Stopping…', disabled: true, live: true },
  STOPPED: { label: 'Go live', disabled: false, live: false },
  FAILED: { label: 'Go live', disabled: false, live: false },
};

export class LiveStreamPanel {
  constructor({ layoutOf }) {
    this.layoutOf = layoutOf;
    this.status = 'STOPPED';
    this.roomName = undefined;
    /** Destinations typed before going live, as typed: only this tab ever holds a key. */
    this.pending = [];
    /** Masked URL → the URL as typed, for the destinations this tab added (only those can be removed here). */
    this.typed = new Map();
    this.stream = null;
    byId('stream-form').addEventListener('submit', (event) => this.add(event));
    byId('stream-button').addEventListener('click', () => this.toggle());
  }

  enter(roomName) {
    this.roomName = roomName;
    this.pending = [];
    this.typed.clear();
    this.stream = null;
    this.render();
  }

  /** The room's `streamingStatus` changed: the button follows, and the destinations are read again. */
  async show(status) {
    const changed = status !== this.status;
    this.status = status;
    if (changed || !this.stream) await this.refresh();
    this.render();
  }

  async refresh() {
    try {
      this.stream = (await api.currentStream(this.roomName)).stream;
    } catch (error) {
      showError(`Cannot read the live stream: ${error.message}`);
    }
  }

  get live() {
    return BUTTON[this.status].live;
  }

  async add(event) {
    event.preventDefault();
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

  async remove(maskedUrl) {
    const url = this.typed.get(maskedUrl);
    if (!this.live) {
      this.pending = this.pending.filter((pending) => pending !== url);
      this.render();
      return;
    }
    await this.update({ removeUrls: [url] }, 'remove the destination');
  }

  async update(change, action) {
    try {
      this.stream = (await api.updateStream(this.roomName, change)).stream;
    } catch (error) {
      showError(`Cannot ${action}: ${error.message}`);
    }
    this.render();
  }

  async toggle() {
    const button = byId('stream-button');
    button.disabled = true;
    try {
      if (this.live) {
        this.stream = (await api.stopStream(this.roomName)).stream;
      } else {
        const layout = this.layoutOf();
        this.stream = (await api.startStream(this.roomName, this.pending, layout ? { layout } : {})).stream;
        this.pending = [];
      }
    } catch (error) {
      showError(`Cannot ${this.live ? 'stop' : 'start'} the live stream: ${error.message}`);
    }
    this.render();
  }

  /** Before going live, the destinations typed; once live, the stream's own, with their states. */
  destinations() {
    if (!this.live || !this.stream) return this.pending.map((url) => ({ url: maskStreamUrl(url), status: undefined }));
    return this.stream.destinations;
  }

  render() {
    const look = BUTTON[this.status];
    const button = byId('stream-button');
    button.textContent = look.label;
    button.disabled = look.disabled || (!look.live && this.pending.length === 0);
    button.classList.toggle('danger', look.live);
    button.dataset.status = this.status;
    const failed = this.status === 'FAILED' && this.stream?.status === 'FAILED';
    byId('stream-failure').hidden = !failed;
    byId('stream-failure').textContent = failed ? `The live stream failed${this.stream.error ? `: ${this.stream.error}` : '.'}` : '';
    byId('stream-destinations').replaceChildren(...this.destinations().map((destination) => this.destinationItem(destination)));
  }

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
