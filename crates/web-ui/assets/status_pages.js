// The status pages: Targets, Service discovery, Configuration, Flags,
// Runtime & build information and TSDB status (a cardinality explorer). Each
// loads its data once per visit (a Refresh button reloads) from Prometheus's
// documented API.

import { api } from './api.js';
import { alertBox, debounce, h, link, loading, replace, useLocalTime } from './dom.js';
import { formatAgo, formatBytes, formatCount, formatSeconds, formatTime, quoteString } from './format.js';
import { serializeUrlState, newPanel } from './state.js';
import { href } from './router.js';

/**
 * Frame shared by the pages: a title, a toolbar, and a body filled by
 * `load()` → `show(data)`; errors are shown in place. Returns { body, reload }.
 */
function page(root, title, tools, load, show) {
  const body = h('div', { class: 'page-body' });
  const reload = async () => {
    replace(body, loading());
    try {
      const data = await load();
      replace(body);
      show(body, data);
    } catch (e) {
      replace(body, alertBox('error', e.message, `Cannot load ${title.toLowerCase()}`));
    }
  };
  const refresh = h('button', { type: 'button', class: 'btn', onclick: reload }, 'Refresh');
  root.append(h('div', { class: 'page-head' }, h('h1', {}, title), h('div', { class: 'toolbar' }, tools, refresh)), body);
  reload();
  return { body, reload };
}

/** A label set as badges. */
function labelBadges(labels) {
  return h('div', { class: 'badges' },
    Object.keys(labels || {}).sort().map((k) => h('span', { class: 'badge label' }, `${k}="${labels[k]}"`)));
}

/** A link to the query page with one panel. */
function queryLink(expr, text, tab = 'table') {
  return link(`${href('/query')}?${serializeUrlState([{ ...newPanel(expr), tab }])}`, text);
}

const utc = () => !useLocalTime();

// -------------------------------------------------------------- targets --

/**
 * Whether a target matches a filter text: every whitespace-separated term
 * must match — `name=value` (quotes optional) compares a label exactly,
 * anything else is a case-insensitive substring of the scrape URL, a label
 * pair or the last error.
 */
export function targetMatches(target, filter) {
  const labels = target.labels || target.discoveredLabels || {};
  const hay = [target.scrapeUrl || '', target.lastError || '', ...Object.entries(labels).map(([k, v]) => `${k}="${v}"`)]
    .join('\n')
    .toLowerCase();
  for (const term of String(filter).match(/(?:[^\s"]+|"[^"]*")+/g) ?? []) {
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)(!?=)"?([^"]*)"?$/.exec(term);
    if (m) {
      const v = labels[m[1]] ?? '';
      if ((m[2] === '=') !== (v === m[3])) return false;
    } else if (!hay.includes(term.replace(/"/g, '').toLowerCase())) return false;
  }
  return true;
}

/** Groups items by `key(item)`, keys sorted. */
function groupBy(items, key) {
  const map = new Map();
  for (const it of items) {
    const k = key(it);
    if (!map.has(k)) map.set(k, []);
    map.get(k).push(it);
  }
  return [...map.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

const HEALTHS = ['up', 'down', 'unknown'];

export function renderTargets(root) {
  const filter = h('input', { type: 'search', class: 'input', placeholder: 'Filter: text or label="value"', 'aria-label': 'Filter targets' });
  const health = Object.fromEntries(HEALTHS.map((s) => [s, h('input', { type: 'checkbox', checked: true })]));
  const healthBoxes = HEALTHS.map((s) => h('label', { class: 'check' }, health[s], ` ${s[0].toUpperCase()}${s.slice(1)}`));
  let pools = [];
  const toggleAll = h('button', {
    type: 'button', class: 'btn',
    onclick: () => {
      const open = !pools.some((d) => d.open);
      pools.forEach((d) => { d.open = open; });
    },
  }, 'Collapse/expand all');
  let data = null;
  let body = null;
  const draw = () => {
    const f = filter.value.trim();
    const shown = new Set(data.activeTargets.filter((t) => health[t.health ?? 'unknown']?.checked !== false && targetMatches(t, f)));
    const groups = groupBy(data.activeTargets, (t) => t.scrapePool);
    pools = [];
    const out = [];
    for (const [pool, all] of groups) {
      const ts = all.filter((t) => shown.has(t));
      if (ts.length === 0) continue;
      const up = all.filter((t) => t.health === 'up').length;
      const d = h('details', { class: 'pool', open: true },
        h('summary', {}, h('span', { class: 'pool-name' }, pool), ' ',
          h('span', { class: `badge ${up === all.length ? 'ok' : up === 0 ? 'bad' : 'warn'}` }, `${up} / ${all.length} up`)),
        h('div', { class: 'table-wrap' }, h('table', { class: 'data targets' },
          h('thead', {}, h('tr', {}, ['Endpoint', 'State', 'Labels', 'Last scrape', 'Duration', 'Error'].map((c) => h('th', {}, c)))),
          h('tbody', {}, ts.map(targetRow)))));
      pools.push(d);
      out.push(d);
    }
    replace(body, out.length ? out : h('p', { class: 'muted empty' }, data.activeTargets.length ? 'No target matches the filter.' : 'No targets.'));
  };
  const redraw = debounce(() => data && draw(), 150);
  filter.addEventListener('input', redraw);
  HEALTHS.forEach((s) => health[s].addEventListener('change', redraw));
  page(root, 'Targets', [filter, ...healthBoxes, toggleAll],
    async () => (await api('/api/v1/targets', { state: 'active' })).data,
    (b, d) => {
      body = b;
      data = { activeTargets: d.activeTargets ?? [] };
      draw();
    });
}

function targetRow(t) {
  const last = Date.parse(t.lastScrape);
  const hlth = t.health ?? 'unknown';
  return h('tr', {},
    h('td', { class: 'endpoint', 'data-label': 'Endpoint' }, h('a', { href: t.globalUrl || t.scrapeUrl, rel: 'noopener' }, t.scrapeUrl)),
    h('td', { 'data-label': 'State' }, h('span', { class: `badge ${hlth === 'up' ? 'ok' : hlth === 'down' ? 'bad' : 'muted'}` }, hlth.toUpperCase())),
    h('td', { 'data-label': 'Labels' }, labelBadges(t.labels), t.discoveredLabels ? h('details', { class: 'discovered' }, h('summary', {}, 'discovered labels'), labelBadges(t.discoveredLabels)) : null),
    h('td', { 'data-label': 'Last scrape', title: Number.isFinite(last) && last > 0 ? formatTime(last, utc()) : '' }, Number.isFinite(last) ? formatAgo(last) : 'never'),
    h('td', { class: 'num', 'data-label': 'Duration' }, t.lastScrapeDuration ? formatSeconds(t.lastScrapeDuration) : '—'),
    h('td', { class: 'error-cell', 'data-label': 'Error' }, t.lastError ? h('span', { class: 'error-text' }, t.lastError) : ''),
  );
}

// ---------------------------------------------------- service discovery --

export function renderServiceDiscovery(root) {
  const filter = h('input', { type: 'search', class: 'input', placeholder: 'Filter: text or label="value"', 'aria-label': 'Filter targets' });
  const showDropped = h('input', { type: 'checkbox', checked: true });
  let data = null;
  let body = null;
  const draw = () => {
    const f = filter.value.trim();
    const rows = [
      ...data.active.map((t) => ({ pool: t.scrapePool, discovered: t.discoveredLabels ?? {}, labels: t.labels, t })),
      ...(showDropped.checked ? data.dropped : []).map((t) => ({ pool: t.scrapePool ?? t.discoveredLabels?.job ?? '', discovered: t.discoveredLabels ?? {}, labels: null, t })),
    ].filter((r) => targetMatches({ labels: { ...r.discovered, ...(r.labels ?? {}) }, scrapeUrl: r.t.scrapeUrl }, f));
    const groups = groupBy(rows, (r) => r.pool);
    const out = [];
    for (const [pool, rs] of groups) {
      const active = data.active.filter((t) => t.scrapePool === pool).length;
      const droppedCount = data.counts[pool] ?? data.dropped.filter((t) => (t.scrapePool ?? t.discoveredLabels?.job) === pool).length;
      out.push(h('details', { class: 'pool', open: true },
        h('summary', {}, h('span', { class: 'pool-name' }, pool), ' ', h('span', { class: 'badge muted' }, `${active} active / ${active + droppedCount} discovered`)),
        h('div', { class: 'table-wrap' }, h('table', { class: 'data sd' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Discovered labels'), h('th', {}, 'Target labels'))),
          h('tbody', {}, rs.map((r) => h('tr', {}, h('td', { 'data-label': 'Discovered labels' }, labelBadges(r.discovered)),
            h('td', { 'data-label': 'Target labels' }, r.labels ? labelBadges(r.labels) : h('span', { class: 'badge muted' }, 'Dropped')))))))));
    }
    const shownDropped = data.dropped.length;
    const totalDropped = Object.values(data.counts).reduce((a, b) => a + b, 0);
    const note = totalDropped > shownDropped
      ? alertBox('info', `${formatCount(totalDropped - shownDropped)} dropped targets are not listed (the server keeps at most keep_dropped_targets of them per pool).`)
      : null;
    replace(body, note, out.length ? out : h('p', { class: 'muted empty' }, 'No targets.'));
  };
  const redraw = debounce(() => data && draw(), 150);
  filter.addEventListener('input', redraw);
  showDropped.addEventListener('change', redraw);
  page(root, 'Service discovery', [filter, h('label', { class: 'check' }, showDropped, ' Show dropped')],
    async () => (await api('/api/v1/targets', { state: 'any' })).data,
    (b, d) => {
      body = b;
      data = { active: d.activeTargets ?? [], dropped: d.droppedTargets ?? [], counts: d.droppedTargetCounts ?? {} };
      draw();
    });
}

// -------------------------------------------------------- configuration --

export function renderConfig(root) {
  let yaml = '';
  const copy = h('button', {
    type: 'button', class: 'btn',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(yaml);
        copy.textContent = 'Copied';
      } catch {
        copy.textContent = 'Copy failed';
      }
      setTimeout(() => { copy.textContent = 'Copy'; }, 1500);
    },
  }, 'Copy');
  page(root, 'Configuration', [copy],
    async () => (await api('/api/v1/status/config')).data,
    (body, d) => {
      yaml = d.yaml ?? '';
      body.append(h('pre', { class: 'code', tabindex: '0' }, yaml));
    });
}

// ---------------------------------------------------------------- flags --

export function renderFlags(root) {
  const filter = h('input', { type: 'search', class: 'input', placeholder: 'Filter flags', 'aria-label': 'Filter flags' });
  let entries = [];
  let tbody = null;
  const draw = () => {
    const f = filter.value.trim().toLowerCase();
    replace(tbody, entries
      .filter(([k, v]) => !f || k.toLowerCase().includes(f) || String(v).toLowerCase().includes(f))
      .map(([k, v]) => h('tr', {}, h('td', { class: 'mono' }, `--${k}`), h('td', { class: 'mono wrap' }, String(v)))));
  };
  filter.addEventListener('input', debounce(draw, 100));
  page(root, 'Command-line flags', [filter],
    async () => (await api('/api/v1/status/flags')).data,
    (body, d) => {
      entries = Object.entries(d ?? {}).sort((a, b) => (a[0] < b[0] ? -1 : 1));
      tbody = h('tbody', {});
      body.append(h('div', { class: 'table-wrap' }, h('table', { class: 'data kv' }, h('thead', {}, h('tr', {}, h('th', {}, 'Flag'), h('th', {}, 'Value'))), tbody)));
      draw();
    });
}

// --------------------------------------------------- runtime and build --

const RUNTIME_NAMES = {
  startTime: 'Start time',
  CWD: 'Working directory',
  hostname: 'Hostname',
  serverTime: 'Server time',
  reloadConfigSuccess: 'Configuration reload',
  lastConfigTime: 'Last successful configuration reload',
  corruptionCount: 'WAL corruptions',
  goroutineCount: 'Goroutines',
  GOMAXPROCS: 'GOMAXPROCS',
  GOMEMLIMIT: 'GOMEMLIMIT',
  GOGC: 'GOGC',
  GODEBUG: 'GODEBUG',
  storageRetention: 'Storage retention',
  timeSeriesCount: 'Time series',
};

const BUILD_NAMES = { version: 'Version', revision: 'Revision', branch: 'Branch', buildUser: 'Build user', buildDate: 'Build date', goVersion: 'Go version' };

/** A value of the runtime information, readable. */
function runtimeValue(key, v) {
  if (key === 'reloadConfigSuccess') return v ? 'Successful' : 'Unsuccessful';
  if ((key === 'startTime' || key === 'lastConfigTime' || key === 'serverTime') && typeof v === 'string') {
    const t = Date.parse(v);
    if (Number.isFinite(t) && t > 0) return `${formatTime(t, utc())}${utc() ? ' UTC' : ''}`;
  }
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function kvTable(caption, obj, names, fmt = (k, v) => String(v)) {
  const keys = [...Object.keys(names).filter((k) => k in obj), ...Object.keys(obj).filter((k) => !(k in names))];
  return h('section', { class: 'card' }, h('h2', {}, caption),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data kv' }, h('tbody', {},
      keys.map((k) => h('tr', {}, h('th', { scope: 'row' }, names[k] ?? k), h('td', { class: 'wrap' }, fmt(k, obj[k]))))))));
}

export function renderStatus(root) {
  page(root, 'Runtime & build information', [],
    async () => {
      const [rt, bi] = await Promise.allSettled([api('/api/v1/status/runtimeinfo'), api('/api/v1/status/buildinfo')]);
      return { rt, bi };
    },
    (body, { rt, bi }) => {
      body.append(
        rt.status === 'fulfilled' ? kvTable('Runtime information', rt.value.data ?? {}, RUNTIME_NAMES, runtimeValue) : alertBox('error', rt.reason.message, 'Runtime information'),
        bi.status === 'fulfilled' ? kvTable('Build information', bi.value.data ?? {}, BUILD_NAMES) : alertBox('error', bi.reason.message, 'Build information'),
      );
    });
}

// ---------------------------------------------------------- TSDB status --

/** Builds a cardinality table: name, count, share of all series. */
function statTable(title, rows, { total = 0, unit = 'Count', fmt = formatCount, nameCell = (n) => n } = {}) {
  const max = Math.max(1, ...(rows ?? []).map((r) => r.value));
  return h('section', { class: 'card' }, h('h2', {}, title),
    !rows || rows.length === 0 ? h('p', { class: 'muted' }, 'No data.') :
      h('div', { class: 'table-wrap' }, h('table', { class: 'data stat' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', { class: 'num' }, unit), total ? h('th', { class: 'num' }, '% of series') : null, h('th', { class: 'bar-col', 'aria-hidden': 'true' }))),
        h('tbody', {}, rows.map((r) => h('tr', {},
          h('td', { class: 'mono wrap' }, nameCell(r.name)),
          h('td', { class: 'num' }, fmt(r.value)),
          total ? h('td', { class: 'num' }, `${((100 * r.value) / total).toFixed(2)}%`) : null,
          h('td', { class: 'bar-col', 'aria-hidden': 'true' }, h('div', { class: 'bar', style: `width:${((100 * r.value) / max).toFixed(1)}%` }))))))));
}

/** Splits `name=value` of seriesCountByLabelValuePair at the first `=`. */
export function splitPair(s) {
  const i = s.indexOf('=');
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const labelRef = (l) => (LABEL_RE.test(l) ? l : quoteString(l));

export function renderTsdbStatus(root) {
  const limit = h('select', { class: 'input', 'aria-label': 'Rows per table' }, [10, 20, 50, 100].map((n) => h('option', { value: n }, `Top ${n}`)));
  const { reload } = page(root, 'TSDB status', [limit],
    async () => (await api('/api/v1/status/tsdb', { limit: limit.value })).data,
    (body, d) => {
      const hs = d.headStats ?? {};
      const total = hs.numSeries ?? 0;
      const time = (ms) => (Number.isFinite(ms) && Math.abs(ms) < 9e15 ? `${formatTime(ms, utc())}${utc() ? ' UTC' : ''} (${ms})` : String(ms));
      body.append(
        h('section', { class: 'card' }, h('h2', {}, 'Head block'),
          h('div', { class: 'table-wrap' }, h('table', { class: 'data kv' }, h('tbody', {},
            [['Series', formatCount(hs.numSeries)], ['Label pairs', formatCount(hs.numLabelPairs)], ['Chunks', formatCount(hs.chunkCount)],
              ['Min time', time(hs.minTime)], ['Max time', time(hs.maxTime)]]
              .map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v))))))),
        h('div', { class: 'grid' },
          statTable('Top metric names by series count', d.seriesCountByMetricName, {
            total, unit: 'Series',
            nameCell: (n) => queryLink(NAME_RE.test(n) ? n : `{${quoteString(n)}}`, n),
          }),
          statTable('Label names with most values', d.labelValueCountByLabelName, {
            unit: 'Values',
            nameCell: (n) => queryLink(`count by (${labelRef(n)}) ({${labelRef(n)}!=""})`, n),
          }),
          statTable('Label pairs with most series', d.seriesCountByLabelValuePair, {
            total, unit: 'Series',
            nameCell: (n) => {
              const [l, v] = splitPair(n);
              return queryLink(`count by (__name__) ({${labelRef(l)}=${quoteString(v)}})`, n);
            },
          }),
          statTable('Memory used by label names', d.memoryInBytesByLabelName, { unit: 'Bytes', fmt: formatBytes }),
        ),
      );
    });
  limit.addEventListener('change', reload);
}
