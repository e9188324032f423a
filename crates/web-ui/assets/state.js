// The query page's state in the URL, in Prometheus's parameter names so that
// links from Prometheus 2 (`/graph?g0.expr=up&g0.tab=1`) and 3
// (`/query?g0.expr=up&g0.tab=table`) open the same view. Also the automatic
// step. Pure functions, no DOM.

import { formatDuration, formatTime, parseDuration, parseStep, parseTime } from './format.js';

/** The default range of the graph, in milliseconds. */
export const DEFAULT_RANGE = 3600e3;

/** The maximum number of points per series a range query may ask for. */
export const MAX_POINTS = 11000;

/** A panel's state with defaults: the shape every page function expects. */
export function newPanel(expr = '') {
  return { expr, tab: 'table', range: DEFAULT_RANGE, end: null, step: null, stacked: false };
}

/**
 * Parses a query string (`?g0.expr=…&g1.expr=…`) into { panels }. Accepts
 * both Prometheus 2 (`tab=0` graph, `tab=1` table, `stacked=1`,
 * `moment_input`) and 3 (`tab=graph|table`, `display_mode=stacked`,
 * `res_step`) spellings. Always returns at least one panel.
 */
export function parseUrlState(search) {
  const params = new URLSearchParams(search.startsWith('?') ? search.slice(1) : search);
  const byIndex = new Map();
  for (const [key, value] of params) {
    const m = /^g(\d+)\.(\w+)$/.exec(key);
    if (!m) continue;
    const i = Number(m[1]);
    if (i > 100) continue;
    if (!byIndex.has(i)) byIndex.set(i, {});
    byIndex.get(i)[m[2]] = value;
  }
  const panels = [...byIndex.keys()]
    .sort((a, b) => a - b)
    .map((i) => panelFromParams(byIndex.get(i)));
  return { panels: panels.length ? panels : [newPanel()] };
}

function panelFromParams(p) {
  const panel = newPanel(p.expr ?? '');
  const tab = (p.tab ?? '').toLowerCase();
  if (tab === '0' || tab === 'graph') panel.tab = 'graph';
  else if (tab === '1' || tab === 'table') panel.tab = 'table';
  const range = parseDuration(p.range_input ?? '');
  if (range) panel.range = range;
  const end = parseTime(p.end_input ?? p.moment_input ?? '');
  if (end !== null) panel.end = end;
  const step = parseStep(p.step_input ?? p.res_step ?? '');
  if (step !== null && (p.res_type === undefined || p.res_type !== 'auto')) panel.step = step;
  if (p.stacked === '1' || (p.display_mode ?? '').toLowerCase() === 'stacked') panel.stacked = true;
  return panel;
}

/**
 * Serialises panels to a query string (without `?`), Prometheus 3's
 * spelling; parameters at their defaults are left out except `expr`, `tab`
 * and `range_input`.
 */
export function serializeUrlState(panels) {
  const params = new URLSearchParams();
  panels.forEach((p, i) => {
    const g = `g${i}.`;
    params.set(g + 'expr', p.expr ?? '');
    params.set(g + 'tab', p.tab === 'graph' ? 'graph' : 'table');
    params.set(g + 'range_input', formatDuration(p.range ?? DEFAULT_RANGE));
    if (p.end !== null && p.end !== undefined) params.set(g + 'end_input', formatTime(p.end, true));
    if (p.step) params.set(g + 'step_input', String(p.step));
    if (p.stacked) {
      params.set(g + 'stacked', '1');
      params.set(g + 'display_mode', 'stacked');
    }
  });
  return params.toString();
}

/**
 * The step of a range query in seconds, Prometheus's UI rule: the chosen
 * step, or max(floor(range / 250), 1) s; raised so that no series exceeds
 * MAX_POINTS points.
 */
export function autoStep(rangeMs, chosen = null) {
  const range = rangeMs / 1000;
  let step = chosen && chosen > 0 ? chosen : Math.max(Math.floor(range / 250), 1);
  if (range / step > MAX_POINTS) step = Math.ceil(range / MAX_POINTS);
  return step;
}

/** Range presets for the -/+ buttons, in milliseconds. */
export const RANGE_STEPS = [
  '1m', '5m', '15m', '30m', '1h', '2h', '6h', '12h', '1d', '2d', '1w', '2w', '4w', '8w', '24w', '1y', '2y',
].map((d) => parseDuration(d));

/** The next larger (dir > 0) or smaller (dir < 0) range preset. */
export function stepRange(range, dir) {
  if (dir > 0) return RANGE_STEPS.find((r) => r > range) ?? range;
  const smaller = RANGE_STEPS.filter((r) => r < range);
  return smaller.length ? smaller[smaller.length - 1] : range;
}
