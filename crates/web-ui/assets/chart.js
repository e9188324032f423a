// A small canvas time-series chart: nice axis ticks, lines or stacked areas,
// gaps for missing points, a hover crosshair with a tooltip for the nearest
// series, and drag-to-zoom. Each series is drawn as one path in one pass; the
// hover layer is a second canvas so moving the mouse never redraws the data.
// The functions above the Chart class are pure and tested under Node.

import { formatSI, formatTime, escapeHtml, parseValue } from './format.js';

// ---------------------------------------------------------------- ticks --

/** A "nice" step (1, 2 or 5 × 10^k) of at least `raw`. */
export function niceStep(raw) {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  const nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return nice * mag;
}

/**
 * Ticks for a value axis: at most about `maxCount` multiples of a nice step,
 * covering [min, max] (the returned lo/hi are the domain, rounded out to the
 * step). A flat or empty range is widened so the axis stays readable.
 */
export function niceTicks(min, max, maxCount = 6) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    min = 0;
    max = 1;
  }
  if (min > max) [min, max] = [max, min];
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const step = niceStep((max - min) / Math.max(1, maxCount));
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const ticks = [];
  for (let k = 0, v = lo; v <= hi + step * 1e-6 && k < 1000; k++, v = lo + k * step) {
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return { lo, hi, step, ticks };
}

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** Candidate spacings of time ticks, in milliseconds. */
export const TIME_STEPS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500,
  SEC, 2 * SEC, 5 * SEC, 10 * SEC, 15 * SEC, 30 * SEC,
  MIN, 2 * MIN, 5 * MIN, 10 * MIN, 15 * MIN, 30 * MIN,
  HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
  DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 182 * DAY, 365 * DAY,
];

/**
 * Ticks for a time axis over [start, end] (ms): the smallest step of
 * TIME_STEPS giving at most `maxCount` ticks, aligned to whole multiples of
 * the step in UTC or, when `utc` is false, in the time zone whose offset is
 * `tzOffsetMin` minutes (Date#getTimezoneOffset's sign). Returns { step, ticks }.
 */
export function timeTicks(start, end, maxCount = 6, utc = true, tzOffsetMin = 0) {
  const span = Math.max(1, end - start);
  const step = TIME_STEPS.find((s) => span / s <= maxCount) ?? TIME_STEPS[TIME_STEPS.length - 1];
  const shift = utc ? 0 : -tzOffsetMin * MIN;
  const ticks = [];
  let t = Math.ceil((start + shift) / step) * step - shift;
  for (let k = 0; t <= end && k < 1000; k++, t += step) ticks.push(t);
  return { step, ticks };
}

/** A tick label whose precision fits the tick spacing. */
export function formatTimeTick(ms, step, utc = true) {
  const full = formatTime(ms, utc, true); // YYYY-MM-DD HH:mm:ss[.mmm]
  if (step < SEC) return full.slice(11).padEnd(12, '.000').slice(0, 12);
  if (step < MIN) return full.slice(11, 19);
  const hm = full.slice(11, 16);
  if (step < DAY) return hm === '00:00' ? full.slice(5, 10) : hm;
  if (step >= 365 * DAY) return full.slice(0, 4);
  return full.slice(5, 10);
}

// ----------------------------------------------------------------- data --

/**
 * Aligns a range query's matrix on the query's time grid. Returns
 * { times: Float64Array (ms), series: [{ metric, values: Float64Array }],
 * histograms }: `values` holds NaN where a series has no point (a gap);
 * `histograms` counts series with only native-histogram points, which are
 * not drawn.
 */
export function alignSeries(result, start, end, stepMs) {
  const n = Math.max(1, Math.floor((end - start) / stepMs + 1e-9) + 1);
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) times[i] = start + i * stepMs;
  const series = [];
  let histograms = 0;
  for (const s of result || []) {
    if (!s.values || s.values.length === 0) {
      if (s.histograms && s.histograms.length) histograms++;
      continue;
    }
    const values = new Float64Array(n).fill(NaN);
    for (const [ts, v] of s.values) {
      const i = Math.round((ts * 1000 - start) / stepMs);
      if (i >= 0 && i < n) values[i] = parseValue(v);
    }
    series.push({ metric: s.metric || {}, values });
  }
  return { times, series, histograms };
}

/**
 * Stacks the visible series: returns for each series { top, base } arrays
 * (the base of one is the top of the one below). A missing point stays
 * missing (NaN) and does not move the stack; hidden series are skipped.
 */
export function stackSeries(series, hidden = new Set()) {
  const n = series.length ? series[0].values.length : 0;
  const acc = new Float64Array(n);
  return series.map((s, k) => {
    const top = new Float64Array(n).fill(NaN);
    const base = new Float64Array(n).fill(NaN);
    if (hidden.has(k)) return { top, base };
    for (let i = 0; i < n; i++) {
      const v = s.values[i];
      if (Number.isFinite(v)) {
        base[i] = acc[i];
        acc[i] += v;
        top[i] = acc[i];
      }
    }
    return { top, base };
  });
}

/** The [min, max] of the finite values of the given arrays (null if none). */
export function extent(arrays) {
  let min = Infinity;
  let max = -Infinity;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return min <= max ? [min, max] : null;
}

/**
 * Pads a value extent by `frac` of its span on each side, so that series at
 * the minimum or maximum are not drawn on the plot's edge (the bottom one
 * would hide in the axis line). Zero is kept as the bound when the data do
 * not cross it (non-negative data keep a zero baseline, non-positive a zero
 * top); a flat extent is left to niceTicks to widen.
 */
export function padDomain([min, max], frac = 0.05) {
  if (!(max > min)) return [min, max];
  const pad = (max - min) * frac;
  const lo = min >= 0 && min - pad < 0 ? 0 : min - pad;
  const hi = max <= 0 && max + pad > 0 ? 0 : max + pad;
  return [lo, hi];
}

const PALETTE = ['#1f77b4', '#e6550d', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** The colour of the i-th series: a palette, then golden-angle hues. */
export function seriesColor(i) {
  if (i < PALETTE.length) return PALETTE[i];
  return `hsl(${Math.round((i * 137.508) % 360)}, 62%, 48%)`;
}

/** The index of the element of sorted `times` nearest to t. */
export function nearestIndex(times, t) {
  let lo = 0;
  let hi = times.length - 1;
  if (hi < 0) return -1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (times[mid] <= t) lo = mid;
    else hi = mid;
  }
  return Math.abs(times[hi] - t) < Math.abs(times[lo] - t) ? hi : lo;
}

// ---------------------------------------------------------------- chart --

const PAD = { top: 10, right: 14, bottom: 24 };

/**
 * The chart widget. `onZoom(startMs, endMs)` is called after a drag
 * selection; `options.utc` chooses UTC or local time labels.
 */
export class Chart {
  constructor(container, { onZoom = () => {}, utc = true } = {}) {
    this.onZoom = onZoom;
    this.utc = utc;
    this.hidden = new Set();
    this.data = null;
    this.root = document.createElement('div');
    this.root.className = 'chart';
    this.base = document.createElement('canvas');
    this.overlay = document.createElement('canvas');
    this.overlay.className = 'chart-overlay';
    this.tooltip = document.createElement('div');
    this.tooltip.className = 'chart-tooltip';
    this.tooltip.hidden = true;
    this.root.setAttribute('role', 'img');
    this.root.append(this.base, this.overlay, this.tooltip);
    container.append(this.root);
    this.hover = null;
    this.drag = null;
    this.frame = 0;
    this.bindEvents();
    this.resizeObserver = new ResizeObserver(() => this.schedule(true));
    this.resizeObserver.observe(this.root);
    // Colours come from the theme: redraw when it changes.
    this.onTheme = () => this.schedule(true);
    this.darkQuery = window.matchMedia('(prefers-color-scheme: dark)');
    this.darkQuery.addEventListener('change', this.onTheme);
    window.addEventListener('ember-theme', this.onTheme);
  }

  /** Sets the data: { times, series, start, end, stacked }. */
  setData(data) {
    this.data = data;
    this.stacked = data.stacked ? stackSeries(data.series, this.hidden) : null;
    this.root.setAttribute('aria-label', `Graph of ${data.series.length} series`);
    this.schedule(true);
  }

  /** Sets the hidden series (indices) and redraws. */
  setHidden(hidden) {
    this.hidden = hidden;
    if (this.data) this.setData(this.data);
  }

  /** Removes the chart. */
  destroy() {
    this.resizeObserver.disconnect();
    this.darkQuery.removeEventListener('change', this.onTheme);
    window.removeEventListener('ember-theme', this.onTheme);
    cancelAnimationFrame(this.frame);
    this.root.remove();
  }

  /** Redraws on the next frame; `full` also redraws the data layer. */
  schedule(full = false) {
    this.needFull = this.needFull || full;
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (this.needFull) this.draw();
      this.needFull = false;
      this.drawOverlay();
    });
  }

  /** The values drawn for series k (stack tops when stacked). */
  shown(k) {
    return this.stacked ? this.stacked[k].top : this.data.series[k].values;
  }

  /** Sizes both canvases to the element and the device pixel ratio. */
  fit() {
    const w = Math.max(100, this.root.clientWidth);
    const h = Math.max(100, this.root.clientHeight);
    const dpr = window.devicePixelRatio || 1;
    for (const c of [this.base, this.overlay]) {
      if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
        c.width = Math.round(w * dpr);
        c.height = Math.round(h * dpr);
        c.style.width = w + 'px';
        c.style.height = h + 'px';
      }
    }
    this.w = w;
    this.h = h;
    this.dpr = dpr;
  }

  /** Reads the theme's colours from CSS custom properties. */
  colors() {
    const cs = getComputedStyle(this.root);
    const v = (name, dflt) => cs.getPropertyValue(name).trim() || dflt;
    return { grid: v('--chart-grid', '#ddd'), text: v('--chart-text', '#555'), cross: v('--chart-cross', '#888'), select: v('--chart-select', 'rgba(80,120,200,0.2)') };
  }

  /** Draws axes, grid and every visible series. */
  draw() {
    this.fit();
    const ctx = this.base.getContext('2d');
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.clearRect(0, 0, this.w, this.h);
    if (!this.data) return;
    const { times, series, start, end } = this.data;
    const col = this.colors();
    ctx.font = '11px system-ui, sans-serif';

    // Value domain from what is visible.
    const arrays = [];
    series.forEach((s, k) => {
      if (this.hidden.has(k)) return;
      arrays.push(this.shown(k));
      if (this.stacked) arrays.push(this.stacked[k].base);
    });
    let ext = extent(arrays) ?? [0, 1];
    if (this.stacked) ext = [Math.min(0, ext[0]), Math.max(0, ext[1])];
    ext = padDomain(ext);
    const yTicks = niceTicks(ext[0], ext[1], Math.max(2, Math.floor((this.h - PAD.top - PAD.bottom) / 40)));
    const labels = yTicks.ticks.map((v) => formatSI(v, 4, yTicks.step));
    const left = Math.ceil(Math.max(...labels.map((l) => ctx.measureText(l).width))) + 12;
    const plot = { x: left, y: PAD.top, w: Math.max(10, this.w - left - PAD.right), h: Math.max(10, this.h - PAD.top - PAD.bottom) };
    this.plot = plot;
    this.scale = {
      x: (t) => plot.x + ((t - start) / (end - start || 1)) * plot.w,
      t: (x) => start + ((x - plot.x) / plot.w) * (end - start),
      y: (v) => plot.y + plot.h - ((v - yTicks.lo) / (yTicks.hi - yTicks.lo || 1)) * plot.h,
    };
    const { x: sx, y: sy } = this.scale;

    // Grid and labels.
    ctx.strokeStyle = col.grid;
    ctx.fillStyle = col.text;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    yTicks.ticks.forEach((v, i) => {
      const y = Math.round(sy(v)) + 0.5;
      ctx.moveTo(plot.x, y);
      ctx.lineTo(plot.x + plot.w, y);
      ctx.fillText(labels[i], plot.x - 6, y);
    });
    const tz = new Date(start).getTimezoneOffset();
    const xTicks = timeTicks(start, end, Math.max(2, Math.floor(plot.w / 90)), this.utc, tz);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const t of xTicks.ticks) {
      const x = Math.round(sx(t)) + 0.5;
      ctx.moveTo(x, plot.y);
      ctx.lineTo(x, plot.y + plot.h);
      // A label centred on a tick at the plot's right end would be cut off
      // by the canvas edge: keep it inside.
      const label = formatTimeTick(t, xTicks.step, this.utc);
      const half = ctx.measureText(label).width / 2;
      ctx.fillText(label, Math.max(half, Math.min(this.w - half - 1, x)), plot.y + plot.h + 6);
    }
    ctx.stroke();

    // Series, clipped to the plot.
    ctx.save();
    ctx.beginPath();
    ctx.rect(plot.x, plot.y - 1, plot.w, plot.h + 2);
    ctx.clip();
    ctx.lineJoin = 'round';
    ctx.lineCap = 'round';
    const xs = Float64Array.from(times, sx);
    series.forEach((s, k) => {
      if (this.hidden.has(k)) return;
      const color = seriesColor(k);
      if (this.stacked) this.fillArea(ctx, xs, this.stacked[k], color);
      this.strokeLine(ctx, xs, this.shown(k), color, series.length > 200 ? 1 : 1.5);
    });
    ctx.restore();
  }

  /** Strokes one series as one path; NaN lifts the pen, lone points are dots. */
  strokeLine(ctx, xs, values, color, width) {
    const sy = this.scale.y;
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    let penDown = false;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) {
        penDown = false;
        continue;
      }
      const y = sy(v);
      if (penDown) {
        ctx.lineTo(xs[i], y);
      } else {
        ctx.moveTo(xs[i], y);
        // A point without neighbours would be invisible: draw a short dash.
        if (!Number.isFinite(values[i + 1])) ctx.lineTo(xs[i] + 0.01, y);
        penDown = true;
      }
    }
    ctx.stroke();
  }

  /** Fills the band between base and top for each run of present points. */
  fillArea(ctx, xs, { top, base }, color) {
    const sy = this.scale.y;
    ctx.fillStyle = color;
    ctx.globalAlpha = 0.35;
    ctx.beginPath();
    let i = 0;
    const n = top.length;
    while (i < n) {
      while (i < n && !Number.isFinite(top[i])) i++;
      const from = i;
      while (i < n && Number.isFinite(top[i])) i++;
      if (i - from < 2) continue;
      ctx.moveTo(xs[from], sy(top[from]));
      for (let j = from + 1; j < i; j++) ctx.lineTo(xs[j], sy(top[j]));
      for (let j = i - 1; j >= from; j--) ctx.lineTo(xs[j], sy(base[j]));
      ctx.closePath();
    }
    ctx.fill();
    ctx.globalAlpha = 1;
  }

  /** Draws the crosshair, the hovered series and the drag selection. */
  drawOverlay() {
    const ctx = this.overlay.getContext('2d');
    if (!this.plot) return;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.clearRect(0, 0, this.w, this.h);
    const col = this.colors();
    const { plot } = this;
    if (this.drag && Math.abs(this.drag.x1 - this.drag.x0) > 1) {
      ctx.fillStyle = col.select;
      const a = Math.min(this.drag.x0, this.drag.x1);
      ctx.fillRect(a, plot.y, Math.abs(this.drag.x1 - this.drag.x0), plot.h);
    }
    const hv = this.hover;
    if (!hv) {
      this.tooltip.hidden = true;
      return;
    }
    const x = Math.round(this.scale.x(this.data.times[hv.i])) + 0.5;
    ctx.strokeStyle = col.cross;
    ctx.lineWidth = 1;
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(x, plot.y);
    ctx.lineTo(x, plot.y + plot.h);
    ctx.stroke();
    ctx.setLineDash([]);
    if (hv.k < 0) {
      this.tooltip.hidden = true;
      return;
    }
    const color = seriesColor(hv.k);
    const xs = Float64Array.from(this.data.times, this.scale.x);
    ctx.save();
    ctx.beginPath();
    ctx.rect(plot.x, plot.y - 1, plot.w, plot.h + 2);
    ctx.clip();
    ctx.lineJoin = 'round';
    ctx.lineCap = 'round';
    this.strokeLine(ctx, xs, this.shown(hv.k), color, 3);
    ctx.restore();
    const y = this.scale.y(this.shown(hv.k)[hv.i]);
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.arc(x, y, 4, 0, 2 * Math.PI);
    ctx.fill();
    this.showTooltip(hv, x, y);
  }

  /** Fills and places the tooltip next to the hovered point. */
  showTooltip(hv, x, y) {
    const s = this.data.series[hv.k];
    const v = s.values[hv.i];
    const t = this.data.times[hv.i];
    const name = s.metric.__name__ ? `<div class="tt-name">${escapeHtml(s.metric.__name__)}</div>` : '';
    const rows = Object.keys(s.metric)
      .filter((l) => l !== '__name__')
      .sort()
      .map((l) => `<div><b>${escapeHtml(l)}</b>: ${escapeHtml(s.metric[l])}</div>`)
      .join('');
    this.tooltip.innerHTML =
      `<div class="tt-time">${escapeHtml(formatTime(t, this.utc, true))}${this.utc ? ' UTC' : ''}</div>` +
      `<div class="tt-value"><span class="swatch" style="background:${seriesColor(hv.k)}"></span>` +
      `value: <b>${escapeHtml(String(v))}</b>${this.stacked ? ` (stack: ${escapeHtml(formatSI(this.shown(hv.k)[hv.i]))})` : ''}</div>` +
      name + rows;
    this.tooltip.hidden = false;
    const tw = this.tooltip.offsetWidth;
    const th = this.tooltip.offsetHeight;
    let left = x + 14;
    if (left + tw > this.w) left = Math.max(0, x - 14 - tw);
    let top = y + 14;
    if (top + th > this.h) top = Math.max(0, y - 14 - th);
    this.tooltip.style.left = left + 'px';
    this.tooltip.style.top = top + 'px';
  }

  /** Finds the series nearest to the pointer at the nearest time. */
  pick(px, py) {
    const { times, series } = this.data;
    const i = nearestIndex(times, this.scale.t(px));
    if (i < 0) return null;
    let best = -1;
    let bestD = Infinity;
    for (let k = 0; k < series.length; k++) {
      if (this.hidden.has(k)) continue;
      const v = this.shown(k)[i];
      if (!Number.isFinite(v)) continue;
      const d = Math.abs(this.scale.y(v) - py);
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    }
    return { i, k: best };
  }

  bindEvents() {
    const el = this.overlay;
    const pos = (e) => {
      const r = el.getBoundingClientRect();
      return [e.clientX - r.left, e.clientY - r.top];
    };
    const inPlot = (x, y) => this.plot && x >= this.plot.x && x <= this.plot.x + this.plot.w && y >= this.plot.y && y <= this.plot.y + this.plot.h;
    el.addEventListener('pointermove', (e) => {
      if (!this.data || !this.plot) return;
      const [x, y] = pos(e);
      if (this.drag) {
        this.drag.x1 = Math.max(this.plot.x, Math.min(this.plot.x + this.plot.w, x));
        this.hover = null;
      } else {
        this.hover = inPlot(x, y) ? this.pick(x, y) : null;
      }
      this.schedule();
    });
    el.addEventListener('pointerleave', () => {
      this.hover = null;
      this.schedule();
    });
    el.addEventListener('pointerdown', (e) => {
      if (!this.data || e.button !== 0) return;
      const [x, y] = pos(e);
      if (!inPlot(x, y)) return;
      this.drag = { x0: x, x1: x };
      el.setPointerCapture(e.pointerId);
    });
    const finish = (e) => {
      if (!this.drag) return;
      const { x0, x1 } = this.drag;
      this.drag = null;
      if (el.hasPointerCapture(e.pointerId)) el.releasePointerCapture(e.pointerId);
      this.schedule();
      if (Math.abs(x1 - x0) > 4) {
        const a = this.scale.t(Math.min(x0, x1));
        const b = this.scale.t(Math.max(x0, x1));
        if (b - a >= 1000) this.onZoom(Math.round(a), Math.round(b));
      }
    };
    el.addEventListener('pointerup', finish);
    el.addEventListener('pointercancel', finish);
  }
}
