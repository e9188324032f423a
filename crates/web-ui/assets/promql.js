// PromQL knowledge for the editor: the function list of Prometheus 3.x with
// signatures, aggregation operators, keywords, and a lenient tokenizer used
// for syntax highlighting and completion. The tokenizer never throws: any
// input yields tokens that cover it exactly, so highlighting stays aligned.

/**
 * Functions: [name, arguments, return type, description, experimental].
 * Arguments in brackets are optional; `...` repeats.
 */
const FUNCTION_TABLE = [
  ['abs', 'v instant-vector', 'instant-vector', 'Absolute value of every sample.'],
  ['absent', 'v instant-vector', 'instant-vector', 'A 1-element vector if the input is empty, else empty.'],
  ['absent_over_time', 'v range-vector', 'instant-vector', 'A 1-element vector if the range has no samples, else empty.'],
  ['acos', 'v instant-vector', 'instant-vector', 'Arccosine, in radians.'],
  ['acosh', 'v instant-vector', 'instant-vector', 'Inverse hyperbolic cosine.'],
  ['asin', 'v instant-vector', 'instant-vector', 'Arcsine, in radians.'],
  ['asinh', 'v instant-vector', 'instant-vector', 'Inverse hyperbolic sine.'],
  ['atan', 'v instant-vector', 'instant-vector', 'Arctangent, in radians.'],
  ['atanh', 'v instant-vector', 'instant-vector', 'Inverse hyperbolic tangent.'],
  ['avg_over_time', 'v range-vector', 'instant-vector', 'Average of the samples in the range.'],
  ['ceil', 'v instant-vector', 'instant-vector', 'Rounds up to the nearest integer.'],
  ['changes', 'v range-vector', 'instant-vector', 'How often the value changed within the range.'],
  ['clamp', 'v instant-vector, min scalar, max scalar', 'instant-vector', 'Limits values to [min, max].'],
  ['clamp_max', 'v instant-vector, max scalar', 'instant-vector', 'Limits values to at most max.'],
  ['clamp_min', 'v instant-vector, min scalar', 'instant-vector', 'Limits values to at least min.'],
  ['cos', 'v instant-vector', 'instant-vector', 'Cosine of radians.'],
  ['cosh', 'v instant-vector', 'instant-vector', 'Hyperbolic cosine.'],
  ['count_over_time', 'v range-vector', 'instant-vector', 'Number of samples in the range.'],
  ['day_of_month', '[v instant-vector]', 'instant-vector', 'Day of the month (1–31) in UTC.'],
  ['day_of_week', '[v instant-vector]', 'instant-vector', 'Day of the week (0 = Sunday) in UTC.'],
  ['day_of_year', '[v instant-vector]', 'instant-vector', 'Day of the year (1–366) in UTC.'],
  ['days_in_month', '[v instant-vector]', 'instant-vector', 'Number of days in the month (28–31) in UTC.'],
  ['deg', 'v instant-vector', 'instant-vector', 'Converts radians to degrees.'],
  ['delta', 'v range-vector', 'instant-vector', 'Difference between first and last value of a gauge, extrapolated.'],
  ['deriv', 'v range-vector', 'instant-vector', 'Per-second derivative by simple linear regression.'],
  ['double_exponential_smoothing', 'v range-vector, sf scalar, tf scalar', 'instant-vector', 'Smoothed value (Holt–Winters) of a gauge.', true],
  ['end', '', 'scalar', 'End of the range query, in seconds.', true],
  ['exp', 'v instant-vector', 'instant-vector', 'Exponential function e^v.'],
  ['first_over_time', 'v range-vector', 'instant-vector', 'The oldest sample in the range.'],
  ['floor', 'v instant-vector', 'instant-vector', 'Rounds down to the nearest integer.'],
  ['histogram_avg', 'v instant-vector', 'instant-vector', 'Arithmetic average of native histogram observations.'],
  ['histogram_count', 'v instant-vector', 'instant-vector', 'Observation count of native histograms.'],
  ['histogram_fraction', 'lower scalar, upper scalar, b instant-vector', 'instant-vector', 'Estimated fraction of observations between lower and upper.'],
  ['histogram_quantile', 'φ scalar, b instant-vector', 'instant-vector', 'The φ-quantile (0 ≤ φ ≤ 1) from histogram buckets.'],
  ['histogram_quantiles', 'b instant-vector, label string, φ scalar, ...', 'instant-vector', 'Several quantiles at once, one series each, labelled.', true],
  ['histogram_stddev', 'v instant-vector', 'instant-vector', 'Estimated standard deviation of native histogram observations.'],
  ['histogram_stdvar', 'v instant-vector', 'instant-vector', 'Estimated variance of native histogram observations.'],
  ['histogram_sum', 'v instant-vector', 'instant-vector', 'Sum of native histogram observations.'],
  ['hour', '[v instant-vector]', 'instant-vector', 'Hour of the day (0–23) in UTC.'],
  ['idelta', 'v range-vector', 'instant-vector', 'Difference between the last two samples.'],
  ['increase', 'v range-vector', 'instant-vector', 'Increase of a counter over the range, extrapolated.'],
  ['info', 'v instant-vector, [data-label-selector instant-vector]', 'instant-vector', 'Adds labels from info metrics (target_info).', true],
  ['irate', 'v range-vector', 'instant-vector', 'Per-second rate from the last two samples.'],
  ['label_join', 'v instant-vector, dst_label string, separator string, src_label string, ...', 'instant-vector', 'Joins source label values into dst_label.'],
  ['label_replace', 'v instant-vector, dst_label string, replacement string, src_label string, regex string', 'instant-vector', 'Sets dst_label from a regex match on src_label.'],
  ['last_over_time', 'v range-vector', 'instant-vector', 'The most recent sample in the range.'],
  ['ln', 'v instant-vector', 'instant-vector', 'Natural logarithm.'],
  ['log10', 'v instant-vector', 'instant-vector', 'Decimal logarithm.'],
  ['log2', 'v instant-vector', 'instant-vector', 'Binary logarithm.'],
  ['mad_over_time', 'v range-vector', 'instant-vector', 'Median absolute deviation of the samples in the range.', true],
  ['max_of', 'a scalar, b scalar', 'scalar', 'The larger of two durations (in range/offset expressions).', true],
  ['max_over_time', 'v range-vector', 'instant-vector', 'Maximum of the samples in the range.'],
  ['min_of', 'a scalar, b scalar', 'scalar', 'The smaller of two durations (in range/offset expressions).', true],
  ['min_over_time', 'v range-vector', 'instant-vector', 'Minimum of the samples in the range.'],
  ['minute', '[v instant-vector]', 'instant-vector', 'Minute of the hour (0–59) in UTC.'],
  ['month', '[v instant-vector]', 'instant-vector', 'Month of the year (1–12) in UTC.'],
  ['pi', '', 'scalar', 'The number π.'],
  ['predict_linear', 'v range-vector, t scalar', 'instant-vector', 'Predicted value t seconds ahead, by linear regression.'],
  ['present_over_time', 'v range-vector', 'instant-vector', '1 for every series with a sample in the range.'],
  ['quantile_over_time', 'φ scalar, v range-vector', 'instant-vector', 'The φ-quantile of the samples in the range.'],
  ['rad', 'v instant-vector', 'instant-vector', 'Converts degrees to radians.'],
  ['range', '', 'scalar', 'Range of the range query, in seconds.', true],
  ['rate', 'v range-vector', 'instant-vector', 'Per-second average rate of increase of a counter.'],
  ['resets', 'v range-vector', 'instant-vector', 'Number of counter resets within the range.'],
  ['round', 'v instant-vector, [to_nearest scalar]', 'instant-vector', 'Rounds to the nearest multiple of to_nearest (default 1).'],
  ['scalar', 'v instant-vector', 'scalar', 'The single sample of a 1-element vector as a scalar, else NaN.'],
  ['sgn', 'v instant-vector', 'instant-vector', 'Sign: 1, -1 or 0.'],
  ['sin', 'v instant-vector', 'instant-vector', 'Sine of radians.'],
  ['sinh', 'v instant-vector', 'instant-vector', 'Hyperbolic sine.'],
  ['sort', 'v instant-vector', 'instant-vector', 'Sorts by value, ascending (instant queries).'],
  ['sort_by_label', 'v instant-vector, label string, ...', 'instant-vector', 'Sorts by the given labels, ascending.', true],
  ['sort_by_label_desc', 'v instant-vector, label string, ...', 'instant-vector', 'Sorts by the given labels, descending.', true],
  ['sort_desc', 'v instant-vector', 'instant-vector', 'Sorts by value, descending (instant queries).'],
  ['sqrt', 'v instant-vector', 'instant-vector', 'Square root.'],
  ['start', '', 'scalar', 'Start of the range query, in seconds.', true],
  ['start_timestamp', 'v instant-vector', 'instant-vector', 'Created timestamp of each series, in seconds.', true],
  ['stddev_over_time', 'v range-vector', 'instant-vector', 'Population standard deviation of the samples in the range.'],
  ['stdvar_over_time', 'v range-vector', 'instant-vector', 'Population variance of the samples in the range.'],
  ['step', '', 'scalar', 'Step of the range query, in seconds.', true],
  ['sum_over_time', 'v range-vector', 'instant-vector', 'Sum of the samples in the range.'],
  ['tan', 'v instant-vector', 'instant-vector', 'Tangent of radians.'],
  ['tanh', 'v instant-vector', 'instant-vector', 'Hyperbolic tangent.'],
  ['time', '', 'scalar', 'Evaluation time, in seconds since the epoch.'],
  ['timestamp', 'v instant-vector', 'instant-vector', 'Timestamp of each sample, in seconds.'],
  ['ts_of_first_over_time', 'v range-vector', 'instant-vector', 'Timestamp of the oldest sample in the range.', true],
  ['ts_of_last_over_time', 'v range-vector', 'instant-vector', 'Timestamp of the newest sample in the range.', true],
  ['ts_of_max_over_time', 'v range-vector', 'instant-vector', 'Timestamp of the maximum in the range.', true],
  ['ts_of_min_over_time', 'v range-vector', 'instant-vector', 'Timestamp of the minimum in the range.', true],
  ['vector', 's scalar', 'instant-vector', 'The scalar as a 1-element vector without labels.'],
  ['year', '[v instant-vector]', 'instant-vector', 'The year in UTC.'],
];

/** Functions by name: { name, args, returns, doc, experimental, signature }. */
export const FUNCTIONS = new Map(
  FUNCTION_TABLE.map(([name, args, returns, doc, experimental = false]) => [
    name,
    { name, args, returns, doc, experimental, signature: `${name}(${args}) → ${returns}` },
  ]),
);

/** Aggregation operators: name → [signature, description]. */
export const AGGREGATIONS = new Map([
  ['sum', ['sum(v)', 'Sum over dimensions.']],
  ['min', ['min(v)', 'Minimum over dimensions.']],
  ['max', ['max(v)', 'Maximum over dimensions.']],
  ['avg', ['avg(v)', 'Average over dimensions.']],
  ['group', ['group(v)', 'All values 1: the set of label combinations.']],
  ['stddev', ['stddev(v)', 'Population standard deviation over dimensions.']],
  ['stdvar', ['stdvar(v)', 'Population variance over dimensions.']],
  ['count', ['count(v)', 'Number of elements.']],
  ['count_values', ['count_values(label, v)', 'Number of elements with the same value, value in label.']],
  ['bottomk', ['bottomk(k, v)', 'The k smallest elements.']],
  ['topk', ['topk(k, v)', 'The k largest elements.']],
  ['quantile', ['quantile(φ, v)', 'φ-quantile over dimensions.']],
  ['limitk', ['limitk(k, v)', 'k elements, chosen deterministically.']],
  ['limit_ratio', ['limit_ratio(r, v)', 'A deterministic ratio r of the elements.']],
]);

/** Keywords that modify or combine expressions. */
export const KEYWORDS = new Map([
  ['by', 'Aggregate keeping only these labels.'],
  ['without', 'Aggregate dropping these labels.'],
  ['on', 'Match vector elements on these labels.'],
  ['ignoring', 'Match vector elements ignoring these labels.'],
  ['group_left', 'Many-to-one matching.'],
  ['group_right', 'One-to-many matching.'],
  ['bool', 'Comparison returns 0/1 instead of filtering.'],
  ['offset', 'Shift the evaluation time back.'],
  ['and', 'Set intersection.'],
  ['or', 'Set union.'],
  ['unless', 'Set complement.'],
  ['atan2', 'Binary arctangent.'],
  ['smoothed', 'Interpolate at range boundaries (experimental).'],
  ['anchored', 'Anchor the range at its boundaries (experimental).'],
  ['fill', 'Fill missing matches with a value (experimental).'],
  ['fill_left', 'Fill missing left-hand matches (experimental).'],
  ['fill_right', 'Fill missing right-hand matches (experimental).'],
]);

/** Keywords after which a parenthesised list of label names follows. */
export const GROUPING_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/** Words that are operators between expressions (binary keywords). */
export const BINARY_KEYWORDS = new Set(['and', 'or', 'unless', 'atan2']);

const IDENT_START = /[a-zA-Z_:]/;
const IDENT_CHAR = /[a-zA-Z0-9_:]/;
const DIGIT = /[0-9]/;
const MATCH_OPS = ['=~', '!~', '!=', '='];
const OPERATORS = ['==', '!=', '>=', '<=', '=~', '!~', '>', '<', '+', '-', '*', '/', '%', '^', '=', '@', ':'];

/**
 * Tokenizes PromQL for highlighting and completion.
 *
 * Returns { tokens, stack }: tokens are { type, start, end, text } covering
 * the input without gaps; `stack` is the nesting open at the end of the
 * input, each entry { kind: 'selector'|'group'|'call'|'paren'|'range',
 * start, metric?, fn? }, so that tokenizing the text up to the cursor tells
 * where the cursor is.
 *
 * Types: ws, comment, string (with `unterminated`), number, duration,
 * keyword, aggregation, function, metric, label, matchop, operator, paren,
 * brace, bracket, comma, error.
 */
export function tokenize(text) {
  const tokens = [];
  const stack = [];
  const top = () => stack[stack.length - 1];
  let i = 0;
  const n = text.length;
  const push = (type, start, end, extra) => {
    const t = { type, start, end, text: text.slice(start, end) };
    if (extra) Object.assign(t, extra);
    tokens.push(t);
    return t;
  };
  // The last token that is not whitespace or a comment.
  const prevSignificant = () => {
    for (let k = tokens.length - 1; k >= 0; k--) {
      if (tokens[k].type !== 'ws' && tokens[k].type !== 'comment') return tokens[k];
    }
    return null;
  };

  while (i < n) {
    const c = text[i];
    const start = i;
    const ctx = top()?.kind;

    if (/\s/.test(c)) {
      while (i < n && /\s/.test(text[i])) i++;
      push('ws', start, i);
    } else if (c === '#') {
      while (i < n && text[i] !== '\n') i++;
      push('comment', start, i);
    } else if (c === '"' || c === "'" || c === '`') {
      i++;
      let closed = false;
      while (i < n) {
        if (text[i] === '\\' && c !== '`') {
          i += 2;
          continue;
        }
        if (text[i] === c) {
          i++;
          closed = true;
          break;
        }
        if (text[i] === '\n' && c !== '`') break;
        i++;
      }
      if (i > n) i = n;
      push('string', start, i, closed ? undefined : { unterminated: true });
    } else if (DIGIT.test(c) || (c === '.' && DIGIT.test(text[i + 1] ?? ''))) {
      i = scanNumber(text, i);
      push(isDuration(text.slice(start, i)) ? 'duration' : 'number', start, i);
    } else if (IDENT_START.test(c) && !(c === ':' && ctx === 'range')) {
      while (i < n && IDENT_CHAR.test(text[i])) i++;
      // Inside [...] colons separate range and step: `[5m:1m]`.
      const word = text.slice(start, i);
      push(classifyWord(word, ctx, text, i, prevSignificant()), start, i);
    } else if (c === '{') {
      const prev = prevSignificant();
      const metric = prev && prev.type === 'metric' ? prev.text : null;
      stack.push({ kind: 'selector', start, metric });
      i++;
      push('brace', start, i);
    } else if (c === '(') {
      const prev = prevSignificant();
      let kind = 'paren';
      let fn = null;
      if (prev && prev.type === 'keyword' && GROUPING_KEYWORDS.has(prev.text.toLowerCase())) kind = 'group';
      else if (prev && (prev.type === 'function' || prev.type === 'aggregation')) {
        kind = 'call';
        fn = prev.text;
      }
      stack.push({ kind, start, fn });
      i++;
      push('paren', start, i);
    } else if (c === '[') {
      stack.push({ kind: 'range', start });
      i++;
      push('bracket', start, i);
    } else if (c === '}' || c === ')' || c === ']') {
      const want = c === '}' ? ['selector'] : c === ')' ? ['group', 'call', 'paren'] : ['range'];
      if (stack.length && want.includes(top().kind)) stack.pop();
      i++;
      push(c === '}' ? 'brace' : c === ')' ? 'paren' : 'bracket', start, i);
    } else if (c === ',') {
      i++;
      push('comma', start, i);
    } else {
      const ops = ctx === 'selector' ? MATCH_OPS : OPERATORS;
      const op = ops.find((o) => text.startsWith(o, i));
      if (op) {
        i += op.length;
        push(ctx === 'selector' ? 'matchop' : 'operator', start, i);
      } else {
        i++;
        push('error', start, i);
      }
    }
  }
  return { tokens, stack };
}

/** Scans a number or duration starting at i; returns the end. */
function scanNumber(text, i) {
  const n = text.length;
  if (text[i] === '0' && /[xX]/.test(text[i + 1] ?? '') && /[0-9a-fA-F]/.test(text[i + 2] ?? '')) {
    i += 2;
    while (i < n && /[0-9a-fA-F_]/.test(text[i])) i++;
    return i;
  }
  while (i < n && /[0-9_]/.test(text[i])) i++;
  if (text[i] === '.') {
    i++;
    while (i < n && /[0-9_]/.test(text[i])) i++;
  }
  if (/[eE]/.test(text[i] ?? '') && /[0-9+-]/.test(text[i + 1] ?? '')) {
    let j = i + 1;
    if (/[+-]/.test(text[j])) j++;
    if (DIGIT.test(text[j] ?? '')) {
      i = j;
      while (i < n && DIGIT.test(text[i])) i++;
      return i;
    }
  }
  // Duration units: 5m, 1h30m, 250ms, 1y2w.
  let j = i;
  for (;;) {
    const m = /^(ms|[smhdwy])/.exec(text.slice(j, j + 2));
    if (!m) break;
    const after = j + m[1].length;
    if (/[a-zA-Z_]/.test(text[after] ?? '')) break;
    j = after;
    if (DIGIT.test(text[j] ?? '')) {
      while (j < n && DIGIT.test(text[j])) j++;
      continue;
    }
    break;
  }
  return j;
}

/** Whether a number token's text is a duration (ends with a unit). */
function isDuration(s) {
  return /[smhdwy]$/.test(s) && !/^0[xX]/.test(s);
}

/** The index of the next non-blank character at or after i. */
function skipBlank(text, i) {
  while (i < text.length && /\s/.test(text[i])) i++;
  return i;
}

/** Classifies an identifier by its context. */
function classifyWord(word, ctx, text, end, prev) {
  const lower = word.toLowerCase();
  if (ctx === 'selector' || ctx === 'group') return 'label';
  if (lower === 'inf' || lower === 'nan') return 'number';
  const next = text[skipBlank(text, end)];
  if (ctx === 'range') {
    if (/^(step|range|max_of|min_of)$/.test(lower)) return 'function';
    return 'error';
  }
  if (AGGREGATIONS.has(lower)) {
    // `sum` followed by `(`, `by` or `without` is the operator; a bare `sum`
    // could be a metric name.
    const after = text.slice(skipBlank(text, end)).toLowerCase();
    if (next === '(' || /^(by|without)\b/.test(after)) return 'aggregation';
  }
  if (KEYWORDS.has(lower)) {
    // Keywords are only keywords after an operand (`x offset 5m`, `sum(x) by
    // (a)`), after an aggregation (`sum by (a)`), or as binary-operator
    // modifiers right after an operator (`x > bool 1`, `a and on(b) c`).
    if (prev && isOperand(prev)) return 'keyword';
    if ((lower === 'by' || lower === 'without') && prev?.type === 'aggregation') return 'keyword';
    if (/^(bool|on|ignoring)$/.test(lower) && prev && (prev.type === 'operator' || prev.type === 'keyword')) return 'keyword';
  }
  if (prev && prev.type === 'operator' && prev.text === '@' && (lower === 'start' || lower === 'end')) return 'function';
  if (next === '(' && FUNCTIONS.has(word)) return 'function';
  return 'metric';
}

/** Whether a token ends an operand (so an operator or keyword may follow). */
export function isOperand(t) {
  if (!t) return false;
  if (['metric', 'number', 'duration', 'string'].includes(t.type)) return true;
  return t.text === ')' || t.text === '}' || t.text === ']';
}

/** The label-matcher operators, for completion. */
export { MATCH_OPS };
