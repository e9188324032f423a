import test from 'node:test';
import assert from 'node:assert/strict';
import { FUNCTIONS, tokenize } from '../promql.js';

/** Tokens as [type, text] without whitespace. */
const toks = (s) => tokenize(s).tokens.filter((t) => t.type !== 'ws').map((t) => [t.type, t.text]);

test('tokens cover the input exactly', () => {
  const inputs = [
    'sum by (job) (rate(http_requests_total{code=~"5..", job!="x"}[5m] offset 1h)) > bool 0.5',
    'foo{a="unterminated',
    '# comment\nup == 1',
    'x @ start() + y[1h:5m] ^ 2 / -3e-2 % 0x1F',
    '{"utf8.metric", "la.bel"=`raw`} or on(a) group_left(b) z',
    '$%&§ weird ~ chars',
    '',
  ];
  for (const s of inputs) {
    const { tokens } = tokenize(s);
    assert.equal(tokens.map((t) => t.text).join(''), s);
    let pos = 0;
    for (const t of tokens) {
      assert.equal(t.start, pos);
      pos = t.end;
    }
  }
});

test('classifies selectors, functions, aggregations and keywords', () => {
  assert.deepEqual(toks('sum by (job) (rate(foo{a="b"}[5m]))'), [
    ['aggregation', 'sum'], ['keyword', 'by'], ['paren', '('], ['label', 'job'], ['paren', ')'],
    ['paren', '('], ['function', 'rate'], ['paren', '('], ['metric', 'foo'], ['brace', '{'], ['label', 'a'],
    ['matchop', '='], ['string', '"b"'], ['brace', '}'], ['bracket', '['], ['duration', '5m'], ['bracket', ']'],
    ['paren', ')'], ['paren', ')'],
  ]);
});

test('keywords only after operands; bare words are metrics', () => {
  assert.deepEqual(toks('offset'), [['metric', 'offset']]);
  assert.deepEqual(toks('sum'), [['metric', 'sum']]);
  assert.deepEqual(toks('rate'), [['metric', 'rate']]);
  assert.deepEqual(toks('a offset 5m'), [['metric', 'a'], ['keyword', 'offset'], ['duration', '5m']]);
  assert.deepEqual(toks('a > bool b'), [['metric', 'a'], ['operator', '>'], ['keyword', 'bool'], ['metric', 'b']]);
  assert.deepEqual(toks('a and on(x) b').map((t) => t[0]), ['metric', 'keyword', 'keyword', 'paren', 'label', 'paren', 'metric']);
  assert.deepEqual(toks('sum(x) without (y)').map((t) => t[0]), ['aggregation', 'paren', 'metric', 'paren', 'keyword', 'paren', 'label', 'paren']);
});

test('numbers and durations', () => {
  assert.deepEqual(toks('1 1.5 .5 1e3 0x1f 1h30m 250ms Inf NaN 1_000'), [
    ['number', '1'], ['number', '1.5'], ['number', '.5'], ['number', '1e3'], ['number', '0x1f'],
    ['duration', '1h30m'], ['duration', '250ms'], ['number', 'Inf'], ['number', 'NaN'], ['number', '1_000'],
  ]);
  // `5min` is not a duration followed by `in`.
  assert.equal(toks('5min')[0][0], 'number');
});

test('subqueries and strings', () => {
  assert.deepEqual(toks('x[1h:5m]').map((t) => t[0]), ['metric', 'bracket', 'duration', 'operator', 'duration', 'bracket']);
  const t = tokenize('a{b="x\\"y"}').tokens.find((x) => x.type === 'string');
  assert.equal(t.text, '"x\\"y"');
  assert.equal(tokenize('a{b="open').tokens.at(-1).unterminated, true);
  assert.equal(toks('# hi')[0][0], 'comment');
});

test('the nesting stack tells where the end is', () => {
  assert.deepEqual(tokenize('rate(foo{a="b", ').stack.map((s) => s.kind), ['call', 'selector']);
  assert.equal(tokenize('rate(foo{a="b", ').stack[1].metric, 'foo');
  assert.deepEqual(tokenize('sum by (').stack.map((s) => s.kind), ['group']);
  assert.deepEqual(tokenize('foo[5').stack.map((s) => s.kind), ['range']);
  assert.deepEqual(tokenize('foo{a="}"}').stack, []);
});

test('the function list is 3.x', () => {
  assert.equal(FUNCTIONS.size, 90);
  for (const f of ['rate', 'histogram_quantile', 'label_replace', 'info', 'ts_of_max_over_time', 'double_exponential_smoothing']) assert.ok(FUNCTIONS.has(f), f);
  assert.ok(FUNCTIONS.get('info').experimental);
  assert.match(FUNCTIONS.get('rate').signature, /^rate\(v range-vector\) → instant-vector$/);
});
