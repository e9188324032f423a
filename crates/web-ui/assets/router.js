// Client-side routing over real paths (no hash): /query (alias /graph),
// /targets, /service-discovery, /config, /flags, /status, /tsdb-status.
// The server answers index.html for each of them; here the path (minus the
// route prefix) picks the page, and in-app links change it with pushState.

import { pathPrefix } from './api.js';

/** The page paths and their aliases; pure, tested under Node. */
export const ALIASES = { '/': '/query', '/graph': '/query' };

/**
 * The page path for a location path: the prefix removed, a trailing slash
 * dropped, aliases resolved (`/prom/graph/` → `/query`).
 */
export function routeOf(pathname, prefix = '') {
  let p = pathname;
  if (prefix && (p === prefix || p.startsWith(prefix + '/'))) p = p.slice(prefix.length);
  if (p === '') p = '/';
  if (p.length > 1) p = p.replace(/\/+$/, '');
  return ALIASES[p] ?? p;
}

/** An in-app URL for a page path (`/targets` → `/prefix/targets`). */
export function href(path) {
  return pathPrefix() + path;
}

let routes = {};
let outlet = null;
let cleanup = null;
let onChange = () => {};

/**
 * Starts routing: `table` maps page paths to { title, render(el, search) }
 * (render may return a cleanup function); unknown paths render `notFound`.
 * `changed(path)` is called after each render (for the navigation bar).
 */
export function startRouter(table, el, changed) {
  routes = table;
  outlet = el;
  onChange = changed;
  window.addEventListener('popstate', render);
  document.addEventListener('click', (e) => {
    const a = e.target.closest('a[data-link]');
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(a.getAttribute('href'));
  });
  // Canonicalise aliases (/graph?g0.expr=… → /query?g0.expr=…).
  const path = routeOf(location.pathname, pathPrefix());
  if (href(path) !== location.pathname && routes[path]) {
    history.replaceState(null, '', href(path) + location.search);
  }
  render();
}

/** Goes to an in-app URL (with prefix), adding a history entry. */
export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  render();
}

/** Renders the page for the current location. */
function render() {
  if (cleanup) cleanup();
  cleanup = null;
  const path = routeOf(location.pathname, pathPrefix());
  const route = routes[path] ?? routes.notFound;
  document.title = `${route.title} - Ember`;
  outlet.replaceChildren();
  window.scrollTo(0, 0);
  const c = route.render(outlet, location.search);
  if (typeof c === 'function') cleanup = c;
  onChange(path);
}
