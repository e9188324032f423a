import test from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatDuration, formatLabels, formatSI, formatSeconds, formatTime, parseDuration, parseStep, parseTime, timeToInput } from '../format.js';

test('durations parse like Prometheus', () => {
  assert.equal(parseDuration('5m'), 300e3);
  assert.equal(parseDuration('1h30m'), 5400e3);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('1y2w'), 365 * 86400e3 + 14 * 86400e3);
  assert.equal(parseDuration(''), null);
  assert.equal(parseDuration('5'), null);
  assert.equal(parseDuration('m5'), null);
  assert.equal(parseDuration('30m1h'), null, 'units out of order');
});

test('durations format with the largest units', () => {
  assert.equal(formatDuration(3600e3), '1h');
  assert.equal(formatDuration(5400e3), '1h30m');
  assert.equal(formatDuration(86400e3 * 8), '1w1d');
  assert.equal(formatDuration(1500), '1s500ms');
  assert.equal(formatDuration(0), '0s');
  for (const d of ['1m', '2h', '1d', '1w', '1y', '1h1m1s']) assert.equal(formatDuration(parseDuration(d)), d);
});

test('steps accept seconds and durations', () => {
  assert.equal(parseStep('15'), 15);
  assert.equal(parseStep('0.5'), 0.5);
  assert.equal(parseStep('1m'), 60);
  assert.equal(parseStep('0'), null);
  assert.equal(parseStep('abc'), null);
});

test('times parse and format in UTC', () => {
  const t = Date.UTC(2024, 0, 2, 3, 4, 5);
  assert.equal(formatTime(t), '2024-01-02 03:04:05');
  assert.equal(formatTime(t + 7, true, true), '2024-01-02 03:04:05.007');
  assert.equal(parseTime('2024-01-02 03:04:05'), t);
  assert.equal(parseTime('2024-01-02T03:04:05'), t);
  assert.equal(parseTime('2024-01-02T03:04'), t - 5000);
  assert.equal(parseTime('2024-01-02T03:04:05Z'), t);
  assert.equal(parseTime('2024-01-02T05:04:05+02:00'), t);
  assert.equal(parseTime(String(t / 1000)), t);
  assert.equal(parseTime('1704164645.5'), t + 500);
  assert.equal(parseTime('yesterday'), null);
  assert.equal(timeToInput(t), '2024-01-02T03:04:05');
});

test('SI formatting', () => {
  assert.equal(formatSI(0), '0');
  assert.equal(formatSI(1500), '1.5k');
  assert.equal(formatSI(2e9), '2G');
  assert.equal(formatSI(0.25), '250m');
  assert.equal(formatSI(-3e-6), '-3µ');
  assert.equal(formatSI(12.5), '12.5');
  assert.equal(formatSI(NaN), 'NaN');
  assert.equal(formatSI(Infinity), '+Inf');
  // With a tick step the digits follow the step.
  assert.equal(formatSI(1000, 4, 500), '1.0k');
  assert.equal(formatSI(0.2, 4, 0.2), '200m');
  assert.equal(formatSI(2, 4, 0.5), '2.0');
});

test('other formats', () => {
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatSeconds(0.0123), '12.3ms');
  assert.equal(formatSeconds(0.0000005), '0.5µs');
  assert.equal(formatSeconds(2.5), '2.5s');
  assert.equal(formatSeconds(125), '2m5s');
});

test('label sets format like PromQL', () => {
  assert.equal(formatLabels({ __name__: 'up', job: 'a', instance: 'x:1' }), 'up{instance="x:1", job="a"}');
  assert.equal(formatLabels({ __name__: 'up' }), 'up');
  assert.equal(formatLabels({}), '{}');
  assert.equal(formatLabels({ a: 'q"\\' }), '{a="q\\"\\\\"}');
  assert.equal(formatLabels({ __name__: 'my.metric', 'x.y': '1' }), '{"my.metric", "x.y"="1"}');
});
