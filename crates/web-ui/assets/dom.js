// Tiny DOM helpers: element creation without innerHTML for user data, and
// a few shared widgets (error boxes, loading text).

/**
 * Creates an element: h('div', { class: 'x', onclick: fn }, child, ...).
 * Attributes starting with `on` become listeners; `class`, `for`, `html`
 * (trusted markup only), `dataset` and boolean/undefined values are handled;
 * children may be strings, nodes, arrays, null or false.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'html') el.innerHTML = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked' || k === 'selected' || k === 'disabled' || k === 'open' || k === 'hidden') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** An alert box: kind is 'error', 'warning' or 'info'. */
export function alertBox(kind, message, title) {
  return h('div', { class: `alert alert-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    title ? h('strong', {}, title, ': ') : null, message);
}

/** A muted "loading" line. */
export function loading(text = 'Loading…') {
  return h('p', { class: 'muted loading', role: 'status' }, text);
}

/** A link inside the app (handled by the router without a page load). */
export function link(href, ...children) {
  return h('a', { href, 'data-link': '' }, ...children);
}

/** Debounces fn by ms. */
export function debounce(fn, ms) {
  let t = 0;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

/** Reads a stored preference (null when storage is unavailable). */
export function getPref(key) {
  try {
    return localStorage.getItem(`ember.${key}`);
  } catch {
    return null;
  }
}

/** Stores a preference; without storage it lasts for this page only. */
export function setPref(key, value) {
  try {
    localStorage.setItem(`ember.${key}`, value);
  } catch {
    // Storage disabled (private mode): ignore.
  }
}

/** Whether times are shown in local time instead of UTC. */
export function useLocalTime() {
  return getPref('localTime') === '1';
}

/** Sets the local-time preference. */
export function setLocalTime(on) {
  setPref('localTime', on ? '1' : '0');
}
