// The layout and quality pickers, built from the service's own lists (GET /config) in this client's words.
import { byId, el } from './dom.js';
/** @import { ServerConfig } from './types.js' */

/** @type {Record<string, string>} */
const LAYOUT_WORDS = { grid: 'Grid', speaker: 'Speaker', 'single-speaker': 'Single speaker' };

/**
 * A layout in words; one this client has none for shows as the service names it.
 * @param {string} layout
 */
export const layoutLabel = (layout) => LAYOUT_WORDS[layout] ?? layout;

/**
 * An encoding preset in words: 'H264_1080P_30' → '1080p 30 fps', 'PORTRAIT_H264_720P_60' → 'Portrait 720p 60 fps'.
 * @param {string} preset
 */
export function presetLabel(preset) {
  const parts = /^(PORTRAIT_)?H264_(\d+)P_(\d+)$/.exec(preset);
  if (!parts) return preset;
  const [, portrait, height, fps] = parts;
  return `${portrait ? 'Portrait ' : ''}${height}p ${fps} fps`;
}

/**
 * The page's "Default …" and "Audio only" options stay; the service's values go between them.
 * @param {Pick<ServerConfig, 'layouts' | 'presets'>} config
 */
export function fillPickers({ layouts, presets }) {
  /** @type {HTMLSelectElement} */
  const layout = byId('recording-layout');
  layout.append(...layouts.map((value) => el('option', { value }, layoutLabel(value))));
  /** @type {HTMLSelectElement} */
  const quality = byId('recording-quality');
  const audioOnly = /** @type {HTMLOptionElement} */ (quality.querySelector('option[value="audio"]'));
  audioOnly.before(...presets.map((value) => el('option', { value }, presetLabel(value))));
}
