// Completion logic for the PromQL editor, without DOM: what is being typed at
// the cursor (completionContext), which selector narrows label lookups
// (selectorFor), the static candidates (functions, aggregations, keywords,
// durations) and fuzzy ranking (rank).

import { AGGREGATIONS, FUNCTIONS, KEYWORDS, isOperand, tokenize } from './promql.js';
import { quoteString } from './format.js';

const significant = (t) => t.type !== 'ws' && t.type !== 'comment';

/** The last significant token strictly before index k of tokens. */
function prevSig(tokens, k) {
  for (let j = k - 1; j >= 0; j--) if (significant(tokens[j])) return tokens[j];
  return null;
}

/** Unquotes a PromQL string token's text (lenient about a missing end quote). */
export function unquote(s) {
  if (!s) return '';
  const q = s[0];
  let body = s.slice(1);
  if (body.endsWith(q) && body.length > 0) body = body.slice(0, -1);
  if (q === '`') return body;
  return body.replace(/\\(.)/g, (_, c) => ({ n: '\n', t: '\t', r: '\r' })[c] ?? c);
}

/**
 * What the user is typing at `cursor` in `text`, or null when nothing can be
 * completed there. Kinds:
 * - `expr`: a metric, function or aggregation name (`prefix`);
 * - `operator`: a keyword after an operand (`by`, `offset`, `and`, …);
 * - `label-name`: a label name in a selector (`metric`, `matchers`) or in a
 *   grouping clause (`grouping: true`, `metrics` of the whole query);
 * - `label-value`: a value for `label` (`quote` is the open quote character,
 *   or null when the value is not yet quoted);
 * - `duration`: inside `[...]`.
 * `from`..`to` is the text the chosen candidate replaces; `empty` is true
 * when nothing of the word has been typed yet.
 */
export function completionContext(text, cursor) {
  const before = text.slice(0, cursor);
  const { tokens, stack } = tokenize(before);
  const last = tokens[tokens.length - 1] ?? null;
  const top = stack[stack.length - 1] ?? null;
  const k = tokens.length - 1;
  const base = (kind, prefix, from, extra = {}) => ({ kind, prefix, from, to: cursor, empty: prefix === '', ...extra });

  if (last && last.type === 'comment') return null;

  if (top && top.kind === 'selector') {
    const sel = selectorInfo(tokens, top);
    if (last.type === 'string') {
      if (!last.unterminated) return null;
      const op = prevSig(tokens, k);
      const name = op && op.type === 'matchop' ? prevSig(tokens, tokens.indexOf(op)) : null;
      if (!name || (name.type !== 'label' && name.type !== 'string')) return null;
      const label = name.type === 'label' ? name.text : unquote(name.text);
      return base('label-value', unquote(last.text), last.start + 1, { label, quote: last.text[0], ...sel });
    }
    if (last.type === 'label' && last.end === cursor) {
      const p = prevSig(tokens, k);
      if (p && (p.text === '{' || p.text === ',')) return base('label-name', last.text, last.start, sel);
      return null;
    }
    const p = significant(last) ? last : prevSig(tokens, k);
    if (p && (p.text === '{' || p.text === ',')) return base('label-name', '', cursor, sel);
    if (p && p.type === 'matchop') {
      const name = prevSig(tokens, tokens.indexOf(p));
      if (!name || (name.type !== 'label' && name.type !== 'string')) return null;
      const label = name.type === 'label' ? name.text : unquote(name.text);
      return base('label-value', '', cursor, { label, quote: null, ...sel });
    }
    return null;
  }

  if (last && last.type === 'string') return null;

  if (top && top.kind === 'group') {
    const metrics = metricNames(text);
    if (last.type === 'label' && last.end === cursor) return base('label-name', last.text, last.start, { grouping: true, metrics });
    const p = significant(last) ? last : prevSig(tokens, k);
    if (p && (p.text === '(' || p.text === ',')) return base('label-name', '', cursor, { grouping: true, metrics });
    return null;
  }

  if (top && top.kind === 'range') {
    if (last.type === 'bracket' && last.text === '[') return base('duration', '', cursor);
    if ((last.type === 'number' || last.type === 'duration') && last.end === cursor) {
      const p = prevSig(tokens, k);
      if (p && p.text === '[') return base('duration', last.text, last.start);
    }
    return null;
  }

  // Expression context.
  const wordTypes = ['metric', 'function', 'aggregation', 'keyword'];
  if (last && wordTypes.includes(last.type) && last.end === cursor) {
    const p = prevSig(tokens, k);
    const kind = isOperand(p) ? 'operator' : 'expr';
    return base(kind, last.text, last.start);
  }
  if (last && (last.type === 'number' || last.type === 'duration' || last.type === 'error')) return null;
  const p = last && significant(last) ? last : prevSig(tokens, k);
  if (p && (p.text === ')' || p.text === '}' || p.text === ']') && last === p) return null;
  return base(isOperand(p) ? 'operator' : 'expr', '', cursor);
}

/** The metric name and complete matchers of the selector open at `top`. */
function selectorInfo(tokens, top) {
  const i0 = tokens.findIndex((t) => t.start === top.start);
  const matchers = [];
  const sig = tokens.slice(i0 + 1).filter(significant);
  for (let j = 0; j + 2 < sig.length; j++) {
    const [a, op, v] = [sig[j], sig[j + 1], sig[j + 2]];
    if ((a.type === 'label' || a.type === 'string') && op.type === 'matchop' && v.type === 'string' && !v.unterminated) {
      matchers.push({ name: a.type === 'label' ? a.text : unquote(a.text), op: op.text, value: unquote(v.text) });
      j += 2;
    }
  }
  // A lone quoted name is the metric name in 3.x: {"my.metric", a="b"}.
  let metric = top.metric;
  const first = sig[0];
  if (!metric && first && first.type === 'string' && !first.unterminated && (sig[1]?.text === ',' || sig[1] === undefined)) {
    metric = unquote(first.text);
  }
  return { metric, matchers };
}

/** The distinct metric names used anywhere in `text` (at most 5). */
export function metricNames(text) {
  const out = [];
  for (const t of tokenize(text).tokens) {
    if (t.type === 'metric' && !out.includes(t.text)) out.push(t.text);
    if (out.length === 5) break;
  }
  return out;
}

/**
 * The series selectors that narrow label completions for `ctx` (for the
 * API's `match[]`), or an empty list for "all series". The label being
 * completed is left out, so its other values still show.
 */
export function selectorsFor(ctx) {
  if (ctx.grouping) return (ctx.metrics ?? []).map((m) => m);
  const matchers = (ctx.matchers ?? []).filter((m) => m.name !== ctx.label && !(m.op === '=' && m.value === ''));
  const parts = matchers.map((m) => `${/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(m.name) ? m.name : quoteString(m.name)}${m.op}${quoteString(m.value)}`);
  if (ctx.metric) {
    if (/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(ctx.metric)) return [`${ctx.metric}{${parts.join(',')}}`];
    parts.unshift(quoteString(ctx.metric));
  }
  // `{}` alone, or only negative/empty-matching matchers, is not allowed.
  if (parts.length === 0) return [];
  return [`{${parts.join(',')}}`];
}

/** Frequently used names, listed first among equally good matches. */
const COMMON = new Set(['rate', 'sum', 'increase', 'histogram_quantile', 'count', 'avg', 'max', 'min', 'irate', 'topk', 'label_replace', 'absent', 'by', 'without', 'offset', 'and', 'or', 'on', 'ignoring']);

/** Function, aggregation and keyword candidates for a context kind. */
export function staticCandidates(kind) {
  if (kind === 'expr') {
    const out = [];
    for (const [name, [sig, doc]] of AGGREGATIONS) {
      out.push({ label: name, type: 'aggregation', detail: sig, doc, insert: `${name}(`, close: ')', common: COMMON.has(name) });
    }
    for (const f of FUNCTIONS.values()) {
      out.push({ label: f.name, type: 'function', detail: f.signature, doc: f.doc + (f.experimental ? ' (experimental)' : ''), insert: `${f.name}(`, close: ')', common: COMMON.has(f.name) });
    }
    return out;
  }
  if (kind === 'operator') {
    return [...KEYWORDS].map(([name, doc]) => ({ label: name, type: 'keyword', detail: 'keyword', doc, insert: name, common: COMMON.has(name) }));
  }
  if (kind === 'duration') {
    return ['1m', '5m', '10m', '15m', '30m', '1h', '3h', '6h', '12h', '1d', '1w'].map((d) => ({ label: d, type: 'duration', insert: d }));
  }
  return [];
}

/**
 * The text to insert for a label value: quoted when the user has not opened
 * a quote yet, escaped for the open quote otherwise.
 */
export function valueInsert(value, quote) {
  if (!quote) return quoteString(value);
  if (quote === '`') return value;
  return value.replace(/\\/g, '\\\\').replace(new RegExp(quote, 'g'), '\\' + quote);
}

/**
 * Scores how well `label` matches the typed `prefix` (lower is better):
 * 0 case-sensitive prefix, 1 case-insensitive prefix, 2 substring, 3
 * subsequence; -1 no match.
 */
export function score(label, prefix) {
  if (prefix === '') return 0;
  if (label.startsWith(prefix)) return 0;
  const l = label.toLowerCase();
  const p = prefix.toLowerCase();
  if (l.startsWith(p)) return 1;
  if (l.includes(p)) return 2;
  let j = 0;
  for (let i = 0; i < l.length && j < p.length; i++) if (l[i] === p[j]) j++;
  return j === p.length ? 3 : -1;
}

/**
 * Filters and orders candidates by `score`, then common names first, then
 * shorter labels, then alphabetically; at most `limit`. Drops a candidate equal to the prefix
 * when it is the only one (nothing left to complete).
 */
export function rank(candidates, prefix, limit = 200) {
  const scored = [];
  for (const c of candidates) {
    const s = score(c.label, prefix);
    if (s >= 0) scored.push([s, c]);
  }
  scored.sort((a, b) => a[0] - b[0] || (b[1].common ? 1 : 0) - (a[1].common ? 1 : 0) || a[1].label.length - b[1].label.length || (a[1].label < b[1].label ? -1 : a[1].label > b[1].label ? 1 : 0));
  const out = scored.slice(0, limit).map(([, c]) => c);
  if (out.length === 1 && out[0].label === prefix) return [];
  return out;
}
