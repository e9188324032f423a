//! The counter reset hints Prometheus's TSDB head hands out for histograms
//! the reference runner appended: in a gauge chunk every histogram reads as
//! `gauge`; in a counter chunk the first reads as `unknown` and the rest as
//! `not_reset`. A chunk is cut when the value type changes, on a counter
//! reset, when schema or zero threshold change, between gauge and counter
//! histograms, and at the 2h chunk range boundary.

use std::sync::Arc;

use model::FloatHistogram;
use model::histogram::{CounterResetHint, Span};
use storage::vec::Value;

/// The head's chunk range in the reference runner's storage.
const CHUNK_RANGE: i64 = 2 * 3600 * 1000;

enum Chunk {
    None,
    Float,
    Counter(FloatHistogram),
    Gauge,
}

fn expand(spans: &[Span], counts: &[f64]) -> Vec<(i32, f64)> {
    let mut out = Vec::with_capacity(counts.len());
    let mut idx = 0i32;
    let mut c = counts.iter();
    for (i, s) in spans.iter().enumerate() {
        idx = if i == 0 { s.offset } else { idx + s.offset };
        for _ in 0..s.length {
            if let Some(v) = c.next() {
                out.push((idx, *v));
            }
            idx += 1;
        }
    }
    out
}

/// Whether some bucket of `prev` is missing (populated) or lower in `cur`.
fn buckets_dropped(prev: &[(i32, f64)], cur: &[(i32, f64)]) -> bool {
    let mut j = 0;
    for &(i, pv) in prev {
        while j < cur.len() && cur[j].0 < i {
            j += 1;
        }
        match cur.get(j) {
            Some(&(ci, cv)) if ci == i => {
                if pv > cv {
                    return true;
                }
            }
            _ => {
                if pv != 0.0 {
                    return true;
                }
            }
        }
    }
    false
}

/// Prometheus's `appendable` for a counter chunk ending in `last`:
/// (fits the chunk, is a counter reset).
fn appendable(last: &FloatHistogram, h: &FloatHistogram) -> (bool, bool) {
    if h.counter_reset_hint == CounterResetHint::CounterReset || h.count < last.count {
        return (false, true);
    }
    if h.schema != last.schema || h.zero_threshold != last.zero_threshold {
        return (false, false);
    }
    if h.schema == -53 && h.custom_values != last.custom_values {
        return (false, true);
    }
    if h.zero_count < last.zero_count {
        return (false, true);
    }
    let reset = buckets_dropped(
        &expand(&last.positive_spans, &last.positive_buckets),
        &expand(&h.positive_spans, &h.positive_buckets),
    ) || buckets_dropped(
        &expand(&last.negative_spans, &last.negative_buckets),
        &expand(&h.negative_spans, &h.negative_buckets),
    );
    (!reset, reset)
}

/// Rewrites the hints of the histograms in `samples` (sorted by time).
pub(crate) fn set_tsdb_hints(samples: &mut [(i64, Value)]) {
    let mut chunk = Chunk::None;
    let mut next_at = i64::MIN;
    for (t, v) in samples.iter_mut() {
        let h = match v {
            Value::FloatHistogram(h) => h,
            Value::Float(_) | Value::Histogram(_) => {
                chunk = Chunk::Float;
                continue;
            }
        };
        let gauge = h.counter_reset_hint == CounterResetHint::Gauge;
        let time_cut = *t >= next_at;
        // The first histogram of a counter chunk reads back as unknown,
        // whatever the chunk header says (Prometheus issue 15346).
        let new_chunk = time_cut
            || match &chunk {
                Chunk::None | Chunk::Float => true,
                Chunk::Gauge => !gauge,
                Chunk::Counter(last) => gauge || appendable(last, h) != (true, false),
            };
        let hint = if gauge {
            CounterResetHint::Gauge
        } else if new_chunk {
            CounterResetHint::Unknown
        } else {
            CounterResetHint::NotCounterReset
        };
        if new_chunk {
            next_at = (t.div_euclid(CHUNK_RANGE) + 1) * CHUNK_RANGE;
        }
        let mut nh = (**h).clone();
        nh.counter_reset_hint = hint;
        chunk = if gauge {
            Chunk::Gauge
        } else {
            Chunk::Counter(nh.clone())
        };
        *h = Arc::new(nh);
    }
}
