// The client of Prometheus's HTTP API (/api/v1/...): the response envelope,
// errors with their type, abortable requests, and a session cache for
// completion lookups (metric names, label names, label values, metadata).

/** The path prefix the UI is served under (`""` or `/prefix`). */
export function pathPrefix() {
  const meta = document.querySelector('meta[name="ember-prefix"]');
  const p = meta ? meta.getAttribute('content') ?? '' : '';
  // An unfilled template (file opened directly) behaves as no prefix.
  return p.includes('{{') ? '' : p.replace(/\/+$/, '');
}

/** An API error: HTTP status, Prometheus errorType and message. */
export class ApiError extends Error {
  constructor(message, status = 0, errorType = '') {
    super(message);
    this.status = status;
    this.errorType = errorType;
  }
}

/** Builds URL parameters; array values repeat the key (`match[]`). */
function encodeParams(params) {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) v.forEach((x) => sp.append(k, x));
    else sp.append(k, String(v));
  }
  return sp;
}

/**
 * Calls an API endpoint (`path` like `/api/v1/query`) and returns
 * { data, warnings, infos, ms }. Long parameter lists are POSTed as a form
 * (every query endpoint accepts that). Throws ApiError.
 */
export async function api(path, params = {}, { signal } = {}) {
  const sp = encodeParams(params);
  const qs = sp.toString();
  const url = pathPrefix() + path;
  const t0 = performance.now();
  let res;
  try {
    res = qs.length > 2000
      ? await fetch(url, { method: 'POST', body: sp, signal, headers: { Accept: 'application/json' } })
      : await fetch(qs ? `${url}?${qs}` : url, { signal, headers: { Accept: 'application/json' } });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(`cannot reach the server: ${e.message}`, 0, 'network');
  }
  let body = null;
  const text = await res.text();
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(`HTTP ${res.status}: ${text.slice(0, 300) || res.statusText}`, res.status, 'bad_response');
  }
  const ms = performance.now() - t0;
  if (!res.ok || body.status !== 'success') {
    throw new ApiError(body.error || `HTTP ${res.status}`, res.status, body.errorType || '');
  }
  return { data: body.data, warnings: body.warnings || [], infos: body.infos || [], ms };
}

/** How long completion lookups stay cached, in milliseconds. */
const CACHE_TTL = 5 * 60e3;
const cache = new Map();

/**
 * Like api() but cached for the session (five minutes) by path and
 * parameters; concurrent callers share one request. Failed lookups are
 * not cached.
 */
export function cachedApi(path, params = {}) {
  const key = path + '?' + encodeParams(params).toString();
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < CACHE_TTL) return hit.promise;
  const promise = api(path, params).then((r) => r.data);
  cache.set(key, { at: Date.now(), promise });
  promise.catch(() => cache.delete(key));
  return promise;
}

/** Label names, optionally restricted to series matching `selectors`. */
export function labelNames(selectors = []) {
  return cachedApi('/api/v1/labels', selectors.length ? { 'match[]': selectors } : {});
}

/** Values of label `name`, optionally restricted to matching series. */
export function labelValues(name, selectors = []) {
  // Names outside the legacy charset are escaped as Prometheus's U__ form.
  const path = `/api/v1/label/${encodeURIComponent(escapeLabelName(name))}/values`;
  return cachedApi(path, selectors.length ? { 'match[]': selectors } : {});
}

/** Metric names (the values of `__name__`). */
export function metricNames() {
  return labelValues('__name__');
}

/** Metric metadata: { name: [{ type, help, unit }] }. */
export function metadata() {
  return cachedApi('/api/v1/metadata', {});
}

/** Prometheus's `U__` value escaping for label names in URL paths. */
export function escapeLabelName(name) {
  if (/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) return name;
  let out = 'U__';
  for (const ch of name) {
    if (/[a-zA-Z0-9]/.test(ch)) out += ch;
    else if (ch === '_') out += '__';
    else out += `_${ch.codePointAt(0).toString(16)}_`;
  }
  return out;
}
