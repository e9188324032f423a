//! Native (sparse, exponential-bucket) histograms.
//!
//! The layout follows Prometheus: buckets are addressed by index under a
//! `schema` (growth factor `2^(2^-schema)`); populated index ranges are
//! described by [`Span`]s, and bucket counts are stored as deltas to the
//! previous bucket in [`Histogram`] (integer counts) or as absolute values in
//! [`FloatHistogram`].

/// What is known about a counter reset between this histogram and the
/// previous one of the same series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CounterResetHint {
    /// Nothing is known; the reader must compare.
    #[default]
    Unknown,
    /// There was a counter reset.
    CounterReset,
    /// There was no counter reset.
    NotCounterReset,
    /// This is a gauge histogram: counter resets do not apply.
    Gauge,
}

/// A run of `length` consecutive buckets starting `offset` buckets after the
/// end of the previous span (or at index `offset` for the first span).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    /// Gap to the previous span, or the starting index for the first one.
    pub offset: i32,
    /// The number of consecutive buckets.
    pub length: u32,
}

/// A native histogram with integer counts; buckets are deltas.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Histogram {
    /// Counter-reset knowledge.
    pub counter_reset_hint: CounterResetHint,
    /// Resolution: -4 ..= 8 for exponential schemas, -53 for custom buckets.
    pub schema: i32,
    /// Width of the zero bucket.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// Total observations.
    pub count: u64,
    /// Sum of observations.
    pub sum: f64,
    /// Spans of the positive buckets.
    pub positive_spans: Vec<Span>,
    /// Spans of the negative buckets.
    pub negative_spans: Vec<Span>,
    /// Positive bucket counts, each a delta to the previous bucket.
    pub positive_buckets: Vec<i64>,
    /// Negative bucket counts, each a delta to the previous bucket.
    pub negative_buckets: Vec<i64>,
    /// Upper bounds for custom-bucket schemas (NHCB); empty otherwise.
    pub custom_values: Vec<f64>,
}

/// A native histogram with float counts; buckets are absolute.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct FloatHistogram {
    /// Counter-reset knowledge.
    pub counter_reset_hint: CounterResetHint,
    /// Resolution, as in [`Histogram::schema`].
    pub schema: i32,
    /// Width of the zero bucket.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: f64,
    /// Total observations.
    pub count: f64,
    /// Sum of observations.
    pub sum: f64,
    /// Spans of the positive buckets.
    pub positive_spans: Vec<Span>,
    /// Spans of the negative buckets.
    pub negative_spans: Vec<Span>,
    /// Positive bucket counts.
    pub positive_buckets: Vec<f64>,
    /// Negative bucket counts.
    pub negative_buckets: Vec<f64>,
    /// Upper bounds for custom-bucket schemas (NHCB); empty otherwise.
    pub custom_values: Vec<f64>,
}

impl Histogram {
    /// Empties the histogram, keeping its allocations.
    pub fn clear(&mut self) {
        self.counter_reset_hint = CounterResetHint::Unknown;
        self.schema = 0;
        self.zero_threshold = 0.0;
        self.zero_count = 0;
        self.count = 0;
        self.sum = 0.0;
        self.positive_spans.clear();
        self.negative_spans.clear();
        self.positive_buckets.clear();
        self.negative_buckets.clear();
        self.custom_values.clear();
    }

    /// The same histogram with float, absolute bucket counts.
    pub fn to_float(&self) -> FloatHistogram {
        fn undelta(d: &[i64]) -> Vec<f64> {
            let mut acc = 0i64;
            d.iter()
                .map(|&x| {
                    acc = acc.wrapping_add(x);
                    acc as f64
                })
                .collect()
        }
        FloatHistogram {
            counter_reset_hint: self.counter_reset_hint,
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            zero_count: self.zero_count as f64,
            count: self.count as f64,
            sum: self.sum,
            positive_spans: self.positive_spans.clone(),
            negative_spans: self.negative_spans.clone(),
            positive_buckets: undelta(&self.positive_buckets),
            negative_buckets: undelta(&self.negative_buckets),
            custom_values: self.custom_values.clone(),
        }
    }
}

impl FloatHistogram {
    /// Empties the histogram, keeping its allocations.
    pub fn clear(&mut self) {
        self.counter_reset_hint = CounterResetHint::Unknown;
        self.schema = 0;
        self.zero_threshold = 0.0;
        self.zero_count = 0.0;
        self.count = 0.0;
        self.sum = 0.0;
        self.positive_spans.clear();
        self.negative_spans.clear();
        self.positive_buckets.clear();
        self.negative_buckets.clear();
        self.custom_values.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_float_undeltas() {
        let h = Histogram {
            count: 6,
            positive_spans: vec![Span {
                offset: 0,
                length: 3,
            }],
            positive_buckets: vec![1, 2, -1],
            ..Default::default()
        };
        assert_eq!(h.to_float().positive_buckets, vec![1.0, 3.0, 2.0]);
    }
}
