// A tiny DOM builder: h('div', {class: 'x', onclick: fn}, 'text', child). Text always goes in as text nodes.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'value') el.value = value;
    else if (key === 'checked' || key === 'disabled' || key === 'selected') el[key] = Boolean(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Data from the server (names, commands, server messages): shown as is, exempt from translation. */
export function raw(text, tag = 'span', attrs = {}) {
  return h(tag, { ...attrs, 'data-raw': '' }, text);
}

export function clear(el) { while (el.firstChild) el.firstChild.remove(); return el; }
