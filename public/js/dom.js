// Builds DOM nodes from data. Text always goes in as text: no untrusted string ever becomes HTML.

/** @typedef {Node | string | number | boolean | null | undefined} Child */

/**
 * What el leaves out, of attributes and children: false, null and undefined (so `condition && value` may be given).
 * Any other value is set as given, as text.
 * @param {unknown} value
 * @returns {boolean}
 */
const leftOut = (value) => value === undefined || value === null || value === false;

/**
 * el('button', { class: 'x', onclick: fn, disabled: true }, 'text', childNode)
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, unknown>} [attributes]  `on…`: a listener; `class`: a string; `dataset`: an object
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (leftOut(value)) continue;
    if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    else if (name === 'class') node.className = /** @type {string} */ (value);
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (leftOut(child)) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/**
 * The page's element with this id (each page has those its script asks for). `T`, its type, follows from where it
 * goes: a variable, property or cast typed `HTMLInputElement` gets an input.
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @returns {T}
 */
export const byId = (id) => /** @type {T} */ (document.getElementById(id));

/**
 * Shows a message to the person (not only in the console); it stays until dismissed.
 * @param {string} message
 */
export function showError(message) {
  const box = byId('errors');
  /** @type {HTMLDivElement} */
  const item = el(
    'div',
    { class: 'error', role: 'alert' },
    el('span', {}, message),
    el('button', { class: 'icon', title: 'Dismiss', 'aria-label': 'Dismiss', onclick: () => item.remove() }, '×'),
  );
  box.append(item);
  console.error(message);
}

export function clearErrors() {
  byId('errors').replaceChildren();
}
