import test from 'node:test';
import assert from 'node:assert/strict';
import { alignSeries, extent, formatTimeTick, nearestIndex, niceStep, niceTicks, padDomain, seriesColor, stackSeries, timeTicks } from '../chart.js';

test('nice steps are 1, 2 or 5 times a power of ten', () => {
  assert.equal(niceStep(0.7), 1);
  assert.equal(niceStep(1.2), 2);
  assert.equal(niceStep(3), 5);
  assert.equal(niceStep(7), 10);
  assert.equal(niceStep(0.013), 0.02);
  assert.equal(niceStep(0), 1);
});

test('value ticks cover the data with nice bounds', () => {
  assert.deepEqual(niceTicks(0, 10, 5), { lo: 0, hi: 10, step: 2, ticks: [0, 2, 4, 6, 8, 10] });
  const t = niceTicks(3, 97, 5);
  assert.equal(t.step, 20);
  assert.equal(t.lo, 0);
  assert.equal(t.hi, 100);
  const f = niceTicks(0.1, 0.3, 4);
  assert.equal(f.step, 0.05);
  assert.ok(f.ticks.length >= 4 && f.ticks.length <= 6);
  const flat = niceTicks(5, 5, 5);
  assert.ok(flat.lo < 5 && flat.hi > 5);
  const zero = niceTicks(0, 0);
  assert.ok(zero.lo < 0 && zero.hi > 0);
  const neg = niceTicks(-7, -3, 4);
  assert.ok(neg.lo <= -7 && neg.hi >= -3);
  assert.ok(niceTicks(-0.1, 0.1, 4).ticks.includes(0), 'zero is exact');
  const bad = niceTicks(NaN, Infinity);
  assert.equal(bad.lo, 0);
  assert.equal(bad.hi, 1);
});

test('time ticks align to their step', () => {
  const start = Date.UTC(2024, 0, 1, 10, 7, 13);
  const end = start + 3600e3;
  const { step, ticks } = timeTicks(start, end, 6);
  assert.equal(step, 10 * 60e3);
  assert.equal(ticks.length, 6);
  for (const t of ticks) {
    assert.equal(t % step, 0);
    assert.ok(t >= start && t <= end);
  }
  assert.equal(timeTicks(start, start + 7 * 86400e3, 8).step, 86400e3);
  assert.equal(timeTicks(start, start + 2000, 5).step, 500);
  // Local time: a zone at UTC+2 (offset -120) puts day ticks at local midnight.
  const day = timeTicks(start, start + 5 * 86400e3, 6, false, -120);
  for (const t of day.ticks) assert.equal((t + 2 * 3600e3) % 86400e3, 0);
});

test('tick labels follow the spacing', () => {
  const t = Date.UTC(2024, 2, 5, 14, 30, 15, 250);
  assert.equal(formatTimeTick(t, 100), '14:30:15.250');
  assert.equal(formatTimeTick(t, 10e3), '14:30:15');
  assert.equal(formatTimeTick(t, 15 * 60e3), '14:30');
  assert.equal(formatTimeTick(Date.UTC(2024, 2, 5), 3600e3), '03-05');
  assert.equal(formatTimeTick(t, 86400e3), '03-05');
  assert.equal(formatTimeTick(t, 365 * 86400e3), '2024');
});

test('series align on the query grid with gaps', () => {
  const start = 1000e3;
  const res = [
    { metric: { __name__: 'a' }, values: [[1000, '1'], [1010, '2'], [1030, 'NaN'], [1040, '+Inf']] },
    { metric: { __name__: 'h' }, histograms: [[1000, { count: '1', sum: '1' }]] },
  ];
  const { times, series, histograms } = alignSeries(res, start, start + 40e3, 10e3);
  assert.equal(times.length, 5);
  assert.equal(series.length, 1);
  assert.equal(histograms, 1);
  const v = [...series[0].values];
  assert.deepEqual(v.slice(0, 2), [1, 2]);
  assert.ok(Number.isNaN(v[2]), 'missing point is a gap');
  assert.ok(Number.isNaN(v[3]));
  assert.equal(v[4], Infinity);
});

test('stacking adds visible series and keeps gaps', () => {
  const s = [
    { values: Float64Array.from([1, 1, NaN]) },
    { values: Float64Array.from([2, NaN, 2]) },
    { values: Float64Array.from([5, 5, 5]) },
  ];
  const st = stackSeries(s, new Set([2]));
  assert.deepEqual([...st[0].top], [1, 1, NaN]);
  assert.deepEqual([...st[1].base], [1, NaN, 0]);
  assert.deepEqual([...st[1].top], [3, NaN, 2]);
  assert.ok(st[2].top.every(Number.isNaN), 'hidden series are not stacked');
  assert.deepEqual(extent(st.map((x) => x.top)), [1, 3]);
  assert.equal(extent([Float64Array.from([NaN])]), null);
});

test('nearest index and colours', () => {
  const times = Float64Array.from([0, 10, 20, 30]);
  assert.equal(nearestIndex(times, -5), 0);
  assert.equal(nearestIndex(times, 14), 1);
  assert.equal(nearestIndex(times, 16), 2);
  assert.equal(nearestIndex(times, 99), 3);
  assert.equal(nearestIndex(new Float64Array(0), 1), -1);
  assert.notEqual(seriesColor(0), seriesColor(1));
  assert.match(seriesColor(25), /^hsl\(/);
});

test('aligning 1000 series × 240 points is fast', () => {
  const start = 0;
  const res = [];
  for (let s = 0; s < 1000; s++) {
    const values = [];
    for (let i = 0; i < 240; i++) values.push([i * 15, String(Math.sin(i + s))]);
    res.push({ metric: { i: String(s) }, values });
  }
  const t0 = performance.now();
  const a = alignSeries(res, start, 239 * 15e3, 15e3);
  stackSeries(a.series);
  assert.ok(performance.now() - t0 < 500);
  assert.equal(a.series[999].values.length, 240);
});

test('the value domain is padded so extreme series leave the plot edges', () => {
  assert.deepEqual(padDomain([1, 3]), [0.9, 3.1]);
  const t = niceTicks(...padDomain([1, 3]), 5);
  assert.ok(t.lo < 1 && t.hi > 3, `ticks ${t.lo}..${t.hi} should leave room around 1..3`);
  assert.deepEqual(padDomain([0, 1]), [0, 1.05], 'a zero baseline stays');
  assert.deepEqual(padDomain([0.01, 1]), [0, 1.0495], 'no dip below zero for positive data');
  assert.deepEqual(padDomain([-1, 0]), [-1.05, 0], 'a zero top stays');
  assert.deepEqual(padDomain([-10, 10]), [-11, 11]);
  assert.deepEqual(padDomain([5, 5]), [5, 5], 'flat extents are left to niceTicks');
});
