// The query page: several panels, each with a PromQL editor, a Table tab
// (instant query at an evaluation time) and a Graph tab (range query with
// range, end time, resolution, lines or stacked, legend, tooltip, zoom).
// The panels' state lives in the URL (state.js). One request per run: the
// visible tab's query; an older request of the same panel is aborted.

import { api } from './api.js';
import { alertBox, h, replace, setLocalTime, useLocalTime } from './dom.js';
import { Editor } from './editor.js';
import { Chart, alignSeries, seriesColor } from './chart.js';
import { formatCount, formatDuration, formatLabels, formatSeconds, formatTime, parseDuration, parseStep, parseTime, timeToInput } from './format.js';
import { autoStep, newPanel, parseUrlState, serializeUrlState, stepRange } from './state.js';

/** Rows shown in the table before "show all". */
const TABLE_LIMIT = 1000;

/** Renders the page into `root`; returns the cleanup function. */
export function renderQueryPage(root, search) {
  const state = parseUrlState(search);
  const page = { panels: [], utc: !useLocalTime() };
  const list = h('div', { class: 'panels' });

  const saveUrl = () => {
    const qs = serializeUrlState(page.panels.map((p) => p.state));
    history.replaceState(null, '', `${location.pathname}?${qs}`);
  };
  const addPanel = (st, run) => {
    const panel = new Panel(st, page, saveUrl, (p) => {
      p.destroy();
      page.panels = page.panels.filter((x) => x !== p);
      page.panels.forEach((x) => x.updateRemovable());
      saveUrl();
    });
    page.panels.push(panel);
    list.append(panel.el);
    page.panels.forEach((x) => x.updateRemovable());
    if (run) panel.run();
    return panel;
  };

  const localBox = h('input', {
    type: 'checkbox',
    id: 'local-time',
    checked: !page.utc,
    onchange: (e) => {
      setLocalTime(e.target.checked);
      page.utc = !e.target.checked;
      page.panels.forEach((p) => p.timeZoneChanged());
    },
  });
  const toolbar = h('div', { class: 'toolbar' }, h('label', { class: 'check' }, localBox, ' Use local time'));
  const add = h('button', { type: 'button', class: 'btn', onclick: () => addPanel(newPanel(), false).editor.focus() }, '+ Add query');
  root.append(h('h1', { class: 'visually-hidden' }, 'Query'), toolbar, list, add);

  state.panels.forEach((st) => addPanel(st, st.expr.trim() !== ''));
  if (state.panels.length === 1 && !state.panels[0].expr) page.panels[0].editor.focus();
  return () => page.panels.forEach((p) => p.destroy());
}

/** One query panel. */
class Panel {
  constructor(st, page, saveUrl, onRemove) {
    this.state = { ...st };
    this.page = page;
    this.saveUrl = saveUrl;
    this.abort = null;
    this.chart = null;
    this.result = null;
    this.hidden = new Set();
    this.editor = new Editor({
      value: st.expr,
      onRun: () => this.run(),
      onChange: (v) => {
        this.state.expr = v;
      },
    });
    this.alerts = h('div', { class: 'alerts', 'aria-live': 'polite' });
    this.stats = h('div', { class: 'stats muted' });
    this.removeBtn = h('button', { type: 'button', class: 'btn icon', title: 'Remove query', 'aria-label': 'Remove query', onclick: () => onRemove(this) }, '×');
    const runBtn = h('button', { type: 'button', class: 'btn primary', onclick: () => this.run() }, 'Execute');
    const fmtBtn = h('button', { type: 'button', class: 'btn', title: 'Format expression', onclick: () => this.format() }, 'Format');

    this.tabTable = h('button', { type: 'button', role: 'tab', class: 'tab', onclick: () => this.setTab('table') }, 'Table');
    this.tabGraph = h('button', { type: 'button', role: 'tab', class: 'tab', onclick: () => this.setTab('graph') }, 'Graph');
    this.tableBody = h('div', { class: 'tab-body', role: 'tabpanel' });
    this.graphBody = h('div', { class: 'tab-body', role: 'tabpanel' });
    this.buildTableControls();
    this.buildGraphControls();

    this.el = h('section', { class: 'panel', 'aria-label': 'Query panel' },
      h('div', { class: 'expr-row' }, this.editor.el, h('div', { class: 'expr-buttons' }, runBtn, fmtBtn, this.removeBtn)),
      this.alerts,
      h('div', { class: 'tabs', role: 'tablist' }, this.tabTable, this.tabGraph),
      this.tableBody,
      this.graphBody,
      this.stats,
    );
    this.showTab();
  }

  updateRemovable() {
    this.removeBtn.hidden = this.page.panels.length < 2;
  }

  destroy() {
    if (this.abort) this.abort.abort();
    if (this.chart) this.chart.destroy();
    this.chart = null;
    this.el.remove();
  }

  setTab(tab) {
    if (this.state.tab === tab) return;
    this.state.tab = tab;
    this.result = null;
    this.showTab();
    this.saveUrl();
    if (this.state.expr.trim()) this.run();
  }

  showTab() {
    const graph = this.state.tab === 'graph';
    this.tabGraph.setAttribute('aria-selected', String(graph));
    this.tabTable.setAttribute('aria-selected', String(!graph));
    this.graphBody.hidden = !graph;
    this.tableBody.hidden = graph;
    this.syncInputs();
  }

  // ------------------------------------------------------------ controls --

  buildTableControls() {
    this.evalInput = h('input', {
      type: 'datetime-local', step: '1', class: 'input',
      onchange: () => this.setEnd(parseTime(this.evalInput.value, this.page.utc)),
    });
    this.evalLabel = h('span', {}, 'Evaluation time');
    const now = h('button', { type: 'button', class: 'btn small', onclick: () => this.setEnd(null) }, 'Now');
    this.tableResult = h('div', { class: 'result' });
    this.tableBody.append(
      h('div', { class: 'controls' }, h('label', { class: 'field' }, this.evalLabel, this.evalInput), now),
      this.tableResult,
    );
  }

  buildGraphControls() {
    this.rangeInput = h('input', {
      type: 'text', class: 'input narrow', 'aria-label': 'Range', spellcheck: 'false',
      onchange: () => {
        const r = parseDuration(this.rangeInput.value);
        if (r) this.setRange(r);
        else this.rangeInput.setAttribute('aria-invalid', 'true');
      },
    });
    const minus = h('button', { type: 'button', class: 'btn small', 'aria-label': 'Shorter range', onclick: () => this.setRange(stepRange(this.state.range, -1)) }, '−');
    const plus = h('button', { type: 'button', class: 'btn small', 'aria-label': 'Longer range', onclick: () => this.setRange(stepRange(this.state.range, 1)) }, '+');
    this.endInput = h('input', {
      type: 'datetime-local', step: '1', class: 'input', 'aria-label': 'End time',
      onchange: () => this.setEnd(parseTime(this.endInput.value, this.page.utc)),
    });
    const shift = (dir) => () => this.setEnd((this.state.end ?? Date.now()) + (dir * this.state.range) / 2);
    const back = h('button', { type: 'button', class: 'btn small', 'aria-label': 'Earlier', onclick: shift(-1) }, '◀');
    const fwd = h('button', { type: 'button', class: 'btn small', 'aria-label': 'Later', onclick: shift(1) }, '▶');
    const now = h('button', { type: 'button', class: 'btn small', onclick: () => this.setEnd(null) }, 'Now');
    this.stepInput = h('input', {
      type: 'text', class: 'input narrow', 'aria-label': 'Resolution (step)', spellcheck: 'false',
      onchange: () => {
        const v = this.stepInput.value.trim();
        const s = parseStep(v);
        if (v !== '' && s === null) {
          this.stepInput.setAttribute('aria-invalid', 'true');
          return;
        }
        this.state.step = s;
        this.changed();
      },
    });
    this.linesBtn = h('button', { type: 'button', class: 'seg', onclick: () => this.setStacked(false) }, 'Lines');
    this.stackBtn = h('button', { type: 'button', class: 'seg', onclick: () => this.setStacked(true) }, 'Stacked');
    this.endLabel = h('span', { class: 'visually-hidden' }, 'End time');
    this.chartBox = h('div', { class: 'chart-box' });
    this.legend = h('ul', { class: 'legend' });
    this.graphMsg = h('div', {});
    this.graphBody.append(
      h('div', { class: 'controls' },
        h('div', { class: 'group' }, minus, this.rangeInput, plus),
        h('div', { class: 'group' }, back, this.endInput, fwd, now),
        h('label', { class: 'field' }, h('span', {}, 'Res.'), this.stepInput),
        h('div', { class: 'group segmented', role: 'group', 'aria-label': 'Display mode' }, this.linesBtn, this.stackBtn),
      ),
      this.graphMsg,
      this.chartBox,
      this.legend,
    );
  }

  /** Puts the state into the inputs. */
  syncInputs() {
    const st = this.state;
    const utc = this.page.utc;
    const tz = utc ? ' (UTC)' : '';
    this.evalLabel.textContent = `Evaluation time${tz}`;
    this.evalInput.value = st.end === null ? '' : timeToInput(st.end, utc);
    this.endInput.value = st.end === null ? '' : timeToInput(st.end, utc);
    this.endInput.setAttribute('aria-label', `End time${tz}`);
    this.endInput.title = st.end === null ? 'Now' : '';
    this.rangeInput.value = formatDuration(st.range);
    this.rangeInput.removeAttribute('aria-invalid');
    this.stepInput.value = st.step ?? '';
    this.stepInput.placeholder = `auto: ${autoStep(st.range)}s`;
    this.stepInput.removeAttribute('aria-invalid');
    this.linesBtn.setAttribute('aria-pressed', String(!st.stacked));
    this.stackBtn.setAttribute('aria-pressed', String(st.stacked));
  }

  timeZoneChanged() {
    this.syncInputs();
    if (this.chart) {
      this.chart.utc = this.page.utc;
      this.chart.schedule(true);
    }
    if (this.result && this.state.tab === 'table') this.renderTable(this.result);
  }

  /** State changed by a control: save, show, rerun. */
  changed() {
    this.syncInputs();
    this.saveUrl();
    if (this.state.expr.trim()) this.run();
  }

  setRange(r) {
    this.state.range = r;
    this.changed();
  }

  setEnd(t) {
    this.state.end = t;
    this.changed();
  }

  setStacked(on) {
    if (this.state.stacked === on) return;
    this.state.stacked = on;
    this.syncInputs();
    this.saveUrl();
    if (this.chart && this.chart.data) this.chart.setData({ ...this.chart.data, stacked: on });
  }

  // ---------------------------------------------------------------- runs --

  showMessages({ error, warnings = [], infos = [] }) {
    replace(this.alerts,
      error ? alertBox('error', error, 'Error') : null,
      warnings.map((w) => alertBox('warning', w, 'Warning')),
      infos.map((w) => alertBox('info', w, 'Info')),
    );
  }

  async format() {
    const query = this.editor.value;
    if (!query.trim()) return;
    try {
      const r = await api('/api/v1/format_query', { query });
      this.editor.value = r.data;
      this.state.expr = r.data;
      this.saveUrl();
      this.showMessages({});
    } catch (e) {
      this.showMessages({ error: e.message });
    }
  }

  /** Runs the visible tab's query. */
  async run() {
    const query = this.editor.value;
    this.state.expr = query;
    this.saveUrl();
    if (this.abort) this.abort.abort();
    if (!query.trim()) {
      this.showMessages({});
      return;
    }
    const ctl = new AbortController();
    this.abort = ctl;
    const graph = this.state.tab === 'graph';
    // "Now" in whole seconds keeps timestamps readable.
    const end = this.state.end ?? Math.floor(Date.now() / 1000) * 1000;
    const start = end - this.state.range;
    const step = autoStep(this.state.range, this.state.step);
    this.el.classList.add('running');
    replace(this.stats, 'Loading…');
    try {
      const r = graph
        ? await api('/api/v1/query_range', { query, start: start / 1000, end: end / 1000, step, stats: 'true' }, { signal: ctl.signal })
        : await api('/api/v1/query', { query, time: end / 1000, stats: 'true' }, { signal: ctl.signal });
      if (this.abort !== ctl) return;
      this.showMessages(r);
      this.result = { ...r, start, end, step, evalTime: end, graph };
      if (graph) this.drawGraph(this.result);
      else this.renderTable(this.result);
      this.renderStats(this.result);
    } catch (e) {
      if (e.name === 'AbortError') return;
      this.result = null;
      this.showMessages({ error: e.message });
      replace(this.stats);
      if (graph) this.clearGraph();
      else replace(this.tableResult);
    } finally {
      if (this.abort === ctl) {
        this.abort = null;
        this.el.classList.remove('running');
      }
    }
  }

  renderStats(r) {
    const parts = [`Load time: ${Math.round(r.ms)}ms`];
    if (r.graph) parts.push(`Resolution: ${formatSeconds(r.step)}`);
    const res = r.data.result;
    const n = Array.isArray(res) ? res.length : 1;
    parts.push(`Result series: ${formatCount(n)}`);
    const samples = r.data.stats?.samples;
    if (samples) {
      if (samples.totalQueryableSamples !== undefined) parts.push(`Samples: ${formatCount(samples.totalQueryableSamples)}`);
      if (samples.peakSamples !== undefined) parts.push(`Peak samples: ${formatCount(samples.peakSamples)}`);
    }
    const t = r.data.stats?.timings;
    if (t && t.execTotalTime !== undefined) parts.push(`Server time: ${formatSeconds(t.execTotalTime)}`);
    replace(this.stats, parts.join(' · '));
  }

  // --------------------------------------------------------------- table --

  renderTable(r, limit = TABLE_LIMIT) {
    const { resultType, result } = r.data;
    const rows = [];
    const utc = this.page.utc;
    if (resultType === 'scalar' || resultType === 'string') {
      rows.push([h('span', { class: 'muted' }, resultType), h('span', { class: 'value' }, String(result[1]))]);
    } else if (resultType === 'vector') {
      for (const s of result.slice(0, limit)) {
        rows.push([seriesNode(s.metric), s.histogram ? histogramNode(s.histogram[1]) : h('span', { class: 'value' }, s.value[1])]);
      }
    } else if (resultType === 'matrix') {
      for (const s of result.slice(0, limit)) {
        const pts = [...(s.values ?? []).map(([t, v]) => [t, v]), ...(s.histograms ?? []).map(([t, hv]) => [t, `count: ${hv.count}, sum: ${hv.sum}`])];
        pts.sort((a, b) => a[0] - b[0]);
        rows.push([seriesNode(s.metric), h('div', { class: 'points' }, pts.map(([t, v]) => h('div', {}, h('span', { class: 'value' }, v), h('span', { class: 'muted' }, ` @ ${formatTime(t * 1000, utc, true)} (${t})`))))]);
      }
    } else {
      rows.push([h('span', { class: 'muted' }, 'unknown result type'), String(resultType)]);
    }
    const total = Array.isArray(result) && resultType !== 'scalar' && resultType !== 'string' ? result.length : 1;
    const body = [];
    if (total === 0) body.push(h('p', { class: 'muted empty' }, 'Empty query result'));
    else {
      body.push(h('div', { class: 'table-wrap' },
        h('table', { class: 'data result-table' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Series'), h('th', { class: 'num' }, 'Value'))),
          h('tbody', {}, rows.map(([a, b]) => h('tr', {}, h('td', { class: 'series' }, a), h('td', { class: 'num' }, b)))),
        ),
      ));
    }
    if (total > limit) {
      body.push(h('p', { class: 'muted' }, `Showing ${formatCount(limit)} of ${formatCount(total)} series. `,
        h('button', { type: 'button', class: 'btn small', onclick: () => this.renderTable(r, Infinity) }, 'Show all')));
    }
    replace(this.tableResult, body);
  }

  // --------------------------------------------------------------- graph --

  clearGraph() {
    if (this.chart) this.chart.destroy();
    this.chart = null;
    replace(this.legend);
    replace(this.graphMsg);
  }

  drawGraph(r) {
    const { resultType, result } = r.data;
    if (resultType !== 'matrix') {
      this.clearGraph();
      replace(this.graphMsg, alertBox('info', `The graph needs a range query result; got ${resultType}.`));
      return;
    }
    const stepMs = r.step * 1000;
    const aligned = alignSeries(result, r.start, r.end, stepMs);
    const notes = [];
    if (aligned.histograms) notes.push(alertBox('info', `${aligned.histograms} series of native histograms are not drawn; graph histogram_count(), histogram_sum() or histogram_quantile() of them.`));
    if (aligned.series.length === 0 && !aligned.histograms) notes.push(h('p', { class: 'muted empty' }, 'Empty query result'));
    replace(this.graphMsg, notes);
    if (this.hidden.size && this.prevCount !== aligned.series.length) this.hidden = new Set();
    this.prevCount = aligned.series.length;
    if (!this.chart) {
      this.chart = new Chart(this.chartBox, {
        utc: this.page.utc,
        onZoom: (a, b) => {
          this.state.end = b;
          this.state.range = Math.max(1000, Math.round((b - a) / 1000) * 1000);
          this.changed();
        },
      });
    }
    this.chart.hidden = this.hidden;
    this.chart.utc = this.page.utc;
    this.chart.setData({ ...aligned, start: r.start, end: r.end, stacked: this.state.stacked });
    this.renderLegend(aligned.series);
  }

  /**
   * The legend: a click shows only that series (again: all), Ctrl/Cmd+click
   * toggles one series.
   */
  renderLegend(series) {
    const items = series.map((s, k) =>
      h('li', { class: this.hidden.has(k) ? 'off' : '' },
        h('button', {
          type: 'button',
          class: 'legend-item',
          'aria-pressed': String(!this.hidden.has(k)),
          onclick: (e) => this.toggleSeries(k, e.ctrlKey || e.metaKey, series.length),
        },
        h('span', { class: 'swatch', style: `background:${seriesColor(k)}` }),
        seriesNode(s.metric))));
    replace(this.legend, items);
    if (series.length > 1) this.legend.title = 'Click: show only this series. Ctrl/Cmd+click: toggle it.';
  }

  toggleSeries(k, toggle, n) {
    const hidden = new Set(this.hidden);
    if (toggle) {
      if (hidden.has(k)) hidden.delete(k);
      else hidden.add(k);
    } else {
      const onlyThis = hidden.size === n - 1 && !hidden.has(k);
      hidden.clear();
      if (!onlyThis) for (let i = 0; i < n; i++) if (i !== k) hidden.add(i);
    }
    this.hidden = hidden;
    this.chart.setHidden(hidden);
    [...this.legend.children].forEach((li, i) => {
      li.classList.toggle('off', hidden.has(i));
      li.firstChild.setAttribute('aria-pressed', String(!hidden.has(i)));
    });
  }
}

/** A series' labels as nodes: name, then label="value" pairs, coloured. */
export function seriesNode(metric) {
  const m = metric || {};
  const keys = Object.keys(m).filter((k) => k !== '__name__').sort();
  const text = formatLabels(m);
  if (keys.length === 0 && m.__name__) return h('span', { class: 'labels', title: text }, h('span', { class: 'metric-name' }, m.__name__));
  return h('span', { class: 'labels', title: text },
    m.__name__ ? h('span', { class: 'metric-name' }, m.__name__) : null,
    '{',
    keys.map((k, i) => [
      h('span', { class: 'label-name' }, k), '=', h('span', { class: 'label-value' }, JSON.stringify(m[k])),
      i < keys.length - 1 ? ', ' : '',
    ]),
    '}');
}

const BOUNDS = [['(', ']'], ['[', ')'], ['(', ')'], ['[', ']']];

/** A native histogram value: count and sum, buckets on demand. */
function histogramNode(hv) {
  const buckets = hv.buckets ?? [];
  return h('details', { class: 'histogram' },
    h('summary', {}, `count: ${hv.count}, sum: ${hv.sum}`, h('span', { class: 'muted' }, ` (${buckets.length} buckets)`)),
    h('table', { class: 'data buckets' },
      h('tbody', {}, buckets.map(([rule, lo, hi, c]) => {
        const [a, b] = BOUNDS[rule] ?? ['(', ']'];
        return h('tr', {}, h('td', {}, `${a}${lo}, ${hi}${b}`), h('td', { class: 'num' }, c));
      }))));
}
