// Formatting and parsing helpers shared by every page: durations, times,
// numbers with SI prefixes, label sets. Pure functions, no DOM.

/** Duration units Prometheus accepts, longest first, in milliseconds. */
const UNITS = [
  ['y', 365 * 24 * 3600e3],
  ['w', 7 * 24 * 3600e3],
  ['d', 24 * 3600e3],
  ['h', 3600e3],
  ['m', 60e3],
  ['s', 1e3],
  ['ms', 1],
];

const DURATION_RE = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;

/**
 * Parses a Prometheus duration (`1h30m`, `5m`, `250ms`) into milliseconds.
 * Returns null when the text is not a duration or is empty.
 */
export function parseDuration(text) {
  const s = String(text ?? '').trim();
  if (s === '') return null;
  const m = DURATION_RE.exec(s);
  if (!m) return null;
  let ms = 0;
  for (let i = 0; i < UNITS.length; i++) {
    if (m[i + 1] !== undefined) ms += Number(m[i + 1]) * UNITS[i][1];
  }
  return ms;
}

/** Formats milliseconds as a Prometheus duration (`1h30m`, `0s`). */
export function formatDuration(ms) {
  if (!Number.isFinite(ms) || ms <= 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of UNITS) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += n + unit;
      rest -= n * size;
    }
  }
  return out;
}

/**
 * Parses a step/resolution: a duration (`15s`) or a plain number of seconds
 * (`15`, `0.5`). Returns seconds, or null.
 */
export function parseStep(text) {
  const s = String(text ?? '').trim();
  if (s === '') return null;
  if (/^\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    return n > 0 ? n : null;
  }
  const ms = parseDuration(s);
  return ms ? ms / 1000 : null;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** Splits a time into calendar fields, in UTC or local time. */
function fields(ms, utc) {
  const d = new Date(ms);
  return utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()];
}

/**
 * Formats a time as `YYYY-MM-DD HH:mm:ss` (plus `.mmm` when `withMs` and the
 * milliseconds are not zero).
 */
export function formatTime(ms, utc = true, withMs = false) {
  const [y, mo, d, h, mi, s, milli] = fields(ms, utc);
  let out = `${y}-${pad(mo)}-${pad(d)} ${pad(h)}:${pad(mi)}:${pad(s)}`;
  if (withMs && milli !== 0) out += '.' + pad(milli, 3);
  return out;
}

/** The value for an `<input type="datetime-local" step="1">`. */
export function timeToInput(ms, utc = true) {
  return formatTime(ms, utc).replace(' ', 'T');
}

/**
 * Parses a time as written by users or URLs: `YYYY-MM-DD HH:mm[:ss]` or the
 * `T`-separated input form (in UTC when `utc`, else local time), RFC 3339
 * with a zone, or Unix seconds. Returns milliseconds, or null.
 */
export function parseTime(text, utc = true) {
  const s = String(text ?? '').trim();
  if (s === '') return null;
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?$/.exec(s);
  if (m) {
    const parts = m.slice(1).map((x, i) => (x === undefined ? 0 : Number(i === 6 ? x.padEnd(3, '0') : x)));
    const [y, mo, d, h, mi, sec, milli] = parts;
    const ms = utc ? Date.UTC(y, mo - 1, d, h, mi, sec, milli) : new Date(y, mo - 1, d, h, mi, sec, milli).getTime();
    return Number.isFinite(ms) ? ms : null;
  }
  if (/^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:\d{2})$/.test(s)) {
    const ms = Date.parse(s);
    return Number.isFinite(ms) ? ms : null;
  }
  return null;
}

/** Formats seconds as a short human duration: `850µs`, `12.3ms`, `1.5s`, `2m3s`. */
export function formatSeconds(sec) {
  if (!Number.isFinite(sec)) return String(sec);
  const a = Math.abs(sec);
  if (a === 0) return '0s';
  if (a < 1e-3) return `${round3(sec * 1e6)}µs`;
  if (a < 1) return `${round3(sec * 1e3)}ms`;
  if (a < 60) return `${round3(sec)}s`;
  return formatDuration(sec * 1000);
}

function round3(x) {
  return Number(x.toPrecision(3)).toString();
}

/** Formats how long ago `ms` was, relative to `now`: `3.2s ago`, `5m ago`. */
export function formatAgo(ms, now = Date.now()) {
  if (!Number.isFinite(ms) || ms <= 0) return 'never';
  const d = (now - ms) / 1000;
  if (d < 0) return 'in the future';
  if (d < 60) return `${Number(d.toFixed(d < 10 ? 1 : 0))}s ago`;
  return `${formatDuration(Math.round(d) * 1000)} ago`;
}

const SI = [
  [1e24, 'Y'], [1e21, 'Z'], [1e18, 'E'], [1e15, 'P'], [1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k'],
];
const SI_SMALL = [[1, ''], [1e-3, 'm'], [1e-6, 'µ'], [1e-9, 'n'], [1e-12, 'p'], [1e-15, 'f']];

/**
 * Formats a number with an SI prefix (`1.5k`, `250m`, `3G`). `precision` is
 * the number of significant digits kept; `step`, when given, is the spacing
 * of neighbouring values (axis ticks) and decides the digits instead.
 */
export function formatSI(v, precision = 4, step = 0) {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
  if (v === 0) return '0';
  const a = Math.abs(v);
  let scale = 1;
  let suffix = '';
  for (const [s, p] of SI) {
    if (a >= s) {
      scale = s;
      suffix = p;
      break;
    }
  }
  if (suffix === '' && a < 1) {
    for (const [s, p] of SI_SMALL) {
      if (a >= s) {
        scale = s;
        suffix = p;
        break;
      }
    }
    if (a < 1e-15) return v.toExponential(2);
  }
  const x = v / scale;
  if (step > 0) {
    const digits = Math.max(0, Math.min(10, -Math.floor(Math.log10(step / scale) + 1e-9)));
    return x.toFixed(digits) + suffix;
  }
  return Number(x.toPrecision(precision)).toString() + suffix;
}

/** Formats a byte count with binary prefixes: `1.5 KiB`, `3 MiB`. */
export function formatBytes(n) {
  if (!Number.isFinite(n)) return String(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let x = n;
  while (Math.abs(x) >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${i === 0 ? x : Number(x.toPrecision(3))} ${units[i]}`;
}

/** Formats a count with thousands separators (`1 234 567` → `1,234,567`). */
export function formatCount(n) {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : String(n);
}

/** Quotes a label value the way PromQL and Prometheus's UI do. */
export function quoteString(s) {
  return '"' + String(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
}

const LEGACY_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Formats a label set as `name{a="b", c="d"}`; a name outside the legacy
 * charset goes inside the braces, quoted, as in Prometheus 3
 * (`{"my.metric", "x.y"="1"}`).
 */
export function formatLabels(metric, withName = true) {
  const m = metric || {};
  const name = withName ? m.__name__ ?? '' : '';
  const pairs = Object.keys(m)
    .filter((k) => k !== '__name__')
    .sort()
    .map((k) => `${LEGACY_NAME.test(k) ? k : quoteString(k)}=${quoteString(m[k])}`);
  if (name && !LEGACY_NAME.test(name)) return `{${[quoteString(name), ...pairs].join(', ')}}`;
  if (pairs.length === 0) return name || '{}';
  return `${name}{${pairs.join(', ')}}`;
}

/** Escapes text for HTML. */
export function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

/**
 * Parses a sample value as the API sends it (a JSON string: `"1.5"`, `"NaN"`,
 * `"+Inf"`).
 */
export function parseValue(s) {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}
