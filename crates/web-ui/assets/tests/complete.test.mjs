import test from 'node:test';
import assert from 'node:assert/strict';
import { completionContext, metricNames, rank, score, selectorsFor, staticCandidates, unquote, valueInsert } from '../complete.js';

/** The context with the cursor at `|`. */
const at = (s) => {
  const i = s.indexOf('|');
  return completionContext(s.slice(0, i) + s.slice(i + 1), i);
};

test('metric and function names at expression positions', () => {
  assert.deepEqual(pick(at('ra|')), { kind: 'expr', prefix: 'ra', from: 0 });
  assert.deepEqual(pick(at('sum(rat|)')), { kind: 'expr', prefix: 'rat', from: 4 });
  assert.deepEqual(pick(at('a + b|')), { kind: 'expr', prefix: 'b', from: 4 });
  assert.equal(at('sum(|').kind, 'expr');
  assert.equal(at('sum(|').empty, true);
});

test('keywords after an operand', () => {
  assert.deepEqual(pick(at('foo of|')), { kind: 'operator', prefix: 'of', from: 4 });
  assert.equal(at('sum(x) |').kind, 'operator');
  assert.equal(at('foo{a="b"} |').kind, 'operator');
});

test('label names inside selectors', () => {
  const c = at('http_requests_total{|');
  assert.equal(c.kind, 'label-name');
  assert.equal(c.prefix, '');
  assert.equal(c.metric, 'http_requests_total');
  const d = at('foo{job="a", ins|}');
  assert.deepEqual(pick(d), { kind: 'label-name', prefix: 'ins', from: 13 });
  assert.deepEqual(d.matchers, [{ name: 'job', op: '=', value: 'a' }]);
  assert.equal(at('foo{job="a",|').kind, 'label-name');
  assert.equal(at('{|').metric, null);
});

test('label values inside quotes and after an operator', () => {
  const c = at('foo{job="ap|"}');
  assert.deepEqual(pick(c), { kind: 'label-value', prefix: 'ap', from: 9 });
  assert.equal(c.label, 'job');
  assert.equal(c.quote, '"');
  assert.equal(c.metric, 'foo');
  const d = at('foo{a="1", job=~|');
  assert.equal(d.kind, 'label-value');
  assert.equal(d.quote, null);
  assert.equal(d.label, 'job');
  assert.deepEqual(d.matchers, [{ name: 'a', op: '=', value: '1' }]);
  assert.equal(at('{"my.label"="x|').label, 'my.label');
  // A finished value: nothing to complete.
  assert.equal(at('foo{job="a"|}'), null);
});

test('grouping labels and durations', () => {
  const c = at('sum by (jo|) (rate(foo[5m]))');
  assert.equal(c.kind, 'label-name');
  assert.equal(c.grouping, true);
  assert.deepEqual(c.metrics, ['foo']);
  assert.equal(at('sum(foo) without (a, |').kind, 'label-name');
  assert.deepEqual(pick(at('rate(foo[|')), { kind: 'duration', prefix: '', from: 9 });
  assert.deepEqual(pick(at('rate(foo[5|')), { kind: 'duration', prefix: '5', from: 9 });
  assert.equal(at('rate(foo[5m:|'), null);
});

test('nothing to complete in comments, strings and numbers', () => {
  assert.equal(at('# ra|'), null);
  assert.equal(at('label_replace(x, "ds|'), null);
  assert.equal(at('1.5|'), null);
  assert.equal(at('foo)|'), null);
});

test('selectors for label lookups', () => {
  assert.deepEqual(selectorsFor({ metric: 'foo', matchers: [] }), ['foo{}']);
  assert.deepEqual(selectorsFor({ metric: null, matchers: [] }), []);
  assert.deepEqual(selectorsFor({ metric: 'foo', label: 'job', matchers: [{ name: 'job', op: '=', value: 'x' }, { name: 'a', op: '=~', value: 'b"' }] }), ['foo{a=~"b\\""}']);
  assert.deepEqual(selectorsFor({ metric: 'my.metric', matchers: [{ name: 'x.y', op: '=', value: '1' }] }), ['{"my.metric","x.y"="1"}']);
  assert.deepEqual(selectorsFor({ grouping: true, metrics: ['a', 'b'] }), ['a', 'b']);
  assert.deepEqual(metricNames('sum(rate(a[5m])) / on(x) b{c="d"} + a'), ['a', 'b']);
});

test('ranking prefers prefixes, then substrings, then fuzzy matches', () => {
  assert.equal(score('rate', 'ra'), 0);
  assert.equal(score('Rate', 'ra'), 1);
  assert.equal(score('irate', 'ra'), 2);
  assert.equal(score('rollup_avg', 'ravg'), 3);
  assert.equal(score('abc', 'x'), -1);
  const items = ['irate', 'rate', 'rad', 'http_requests_rate_total', 'resets'].map((label) => ({ label }));
  assert.deepEqual(rank(items, 'ra').map((c) => c.label), ['rad', 'rate', 'irate', 'http_requests_rate_total']);
  assert.deepEqual(rank([{ label: 'rate' }], 'rate'), []);
  assert.equal(rank(items, '', 2).length, 2);
  // Common functions win ties: `ra` offers rate before rad.
  assert.deepEqual(rank(staticCandidates('expr'), 'ra').slice(0, 2).map((c) => c.label), ['rate', 'rad']);
});

test('static candidates and value insertion', () => {
  const expr = staticCandidates('expr');
  assert.ok(expr.some((c) => c.label === 'sum' && c.type === 'aggregation'));
  assert.ok(expr.some((c) => c.label === 'histogram_quantile' && c.detail.includes('φ scalar')));
  assert.ok(staticCandidates('operator').some((c) => c.label === 'offset'));
  assert.equal(valueInsert('a"b', null), '"a\\"b"');
  assert.equal(valueInsert('a"b\\', '"'), 'a\\"b\\\\');
  assert.equal(valueInsert("it's", "'"), "it\\'s");
  assert.equal(unquote('"a\\"b"'), 'a"b');
  assert.equal(unquote('"open'), 'open');
});

function pick(c) {
  return c && { kind: c.kind, prefix: c.prefix, from: c.from };
}
