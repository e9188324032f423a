import test from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RANGE, autoStep, newPanel, parseUrlState, serializeUrlState, stepRange } from '../state.js';
import { routeOf } from '../router.js';
import { splitPair, targetMatches } from '../status_pages.js';

test('Prometheus 2 links open the same view', () => {
  const { panels } = parseUrlState('?g0.expr=up&g0.tab=0&g0.stacked=1&g0.range_input=2h&g0.end_input=2024-01-02%2003%3A04%3A05&g0.step_input=30&g1.expr=rate(x%5B5m%5D)&g1.tab=1');
  assert.equal(panels.length, 2);
  assert.deepEqual(panels[0], { expr: 'up', tab: 'graph', range: 7200e3, end: Date.UTC(2024, 0, 2, 3, 4, 5), step: 30, stacked: true });
  assert.equal(panels[1].expr, 'rate(x[5m])');
  assert.equal(panels[1].tab, 'table');
  assert.equal(panels[1].range, DEFAULT_RANGE);
  assert.equal(panels[1].end, null);
});

test('Prometheus 3 parameters', () => {
  const { panels } = parseUrlState('g0.expr=up&g0.tab=graph&g0.display_mode=stacked&g0.res_type=fixed&g0.res_step=15&g0.range_input=1d');
  assert.equal(panels[0].tab, 'graph');
  assert.equal(panels[0].stacked, true);
  assert.equal(panels[0].step, 15);
  assert.equal(panels[0].range, 86400e3);
  const auto = parseUrlState('g0.expr=up&g0.res_type=auto&g0.res_step=15').panels[0];
  assert.equal(auto.step, null);
  assert.equal(parseUrlState('g0.expr=up&g0.tab=explain').panels[0].tab, 'table');
});

test('panels are ordered by index; junk is ignored; one panel at least', () => {
  const { panels } = parseUrlState('?g2.expr=c&g0.expr=a&x=1&g1.expr=b&g999.expr=z&g0.range_input=bogus');
  assert.deepEqual(panels.map((p) => p.expr), ['a', 'b', 'c']);
  assert.equal(panels[0].range, DEFAULT_RANGE);
  assert.deepEqual(parseUrlState('').panels, [newPanel()]);
});

test('serialising round-trips', () => {
  const panels = [
    { expr: 'sum by (job) (rate(x{a="b"}[5m]))', tab: 'graph', range: 5400e3, end: Date.UTC(2023, 5, 1, 12, 0, 0), step: 15, stacked: true },
    { expr: 'up', tab: 'table', range: 3600e3, end: null, step: null, stacked: false },
  ];
  const qs = serializeUrlState(panels);
  assert.match(qs, /g0\.tab=graph/);
  assert.match(qs, /g0\.range_input=1h30m/);
  assert.match(qs, /g0\.end_input=2023-06-01\+12%3A00%3A00/);
  assert.doesNotMatch(qs, /g1\.end_input/);
  assert.deepEqual(parseUrlState(qs).panels, panels);
});

test('auto step like Prometheus: range/250, at least 1s, at most 11000 points', () => {
  assert.equal(autoStep(3600e3), 14);
  assert.equal(autoStep(60e3), 1);
  assert.equal(autoStep(86400e3), 345);
  assert.equal(autoStep(3600e3, 60), 60);
  assert.equal(autoStep(86400e3, 1), 8);
  assert.equal(stepRange(3600e3, 1), 7200e3);
  assert.equal(stepRange(3600e3, -1), 1800e3);
  assert.equal(stepRange(5400e3, -1), 3600e3);
  assert.equal(stepRange(60e3, -1), 60e3);
});

test('routes resolve aliases and the prefix', () => {
  assert.equal(routeOf('/'), '/query');
  assert.equal(routeOf('/graph'), '/query');
  assert.equal(routeOf('/targets/'), '/targets');
  assert.equal(routeOf('/prom/graph', '/prom'), '/query');
  assert.equal(routeOf('/prom', '/prom'), '/query');
  assert.equal(routeOf('/prom/', '/prom'), '/query');
  assert.equal(routeOf('/prom/tsdb-status', '/prom'), '/tsdb-status');
  assert.equal(routeOf('/promx/targets', '/prom'), '/promx/targets');
});

test('target filter', () => {
  const t = { scrapeUrl: 'http://node1:9100/metrics', labels: { job: 'node', instance: 'node1:9100' }, lastError: '' };
  assert.ok(targetMatches(t, ''));
  assert.ok(targetMatches(t, 'node1'));
  assert.ok(targetMatches(t, 'job=node'));
  assert.ok(targetMatches(t, 'job="node" NODE1'));
  assert.ok(!targetMatches(t, 'job=prom'));
  assert.ok(targetMatches(t, 'job!=prom'));
  assert.ok(!targetMatches(t, 'job!=node'));
  assert.ok(!targetMatches(t, 'node2'));
  assert.ok(targetMatches({ ...t, lastError: 'connection refused' }, 'refused'));
  assert.deepEqual(splitPair('a=b=c'), ['a', 'b=c']);
});
