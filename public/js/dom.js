// Builds DOM nodes from data. Text always goes in as text: no untrusted string ever becomes HTML.

/** el('button', { class: 'x', onclick: fn, disabled: true }, 'text', childNode) */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else if (name === 'class') node.className = value;
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const byId = (id) => document.getElementById(id);

/** Shows a message to the person (not only in the console); it stays until dismissed. */
export function showError(message) {
  const box = byId('errors');
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
