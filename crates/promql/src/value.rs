//! Query values: samples, series, vectors, matrices and results.

use std::fmt;
use std::sync::Arc;

use model::{FloatHistogram, Labels};

/// A float point of a series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FPoint {
    /// Milliseconds.
    pub t: i64,
    /// Value.
    pub f: f64,
}

/// A histogram point of a series.
#[derive(Clone, Debug, PartialEq)]
pub struct HPoint {
    /// Milliseconds.
    pub t: i64,
    /// Value.
    pub h: Arc<FloatHistogram>,
}

/// One element of an instant vector: a float or a histogram.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The labels.
    pub metric: Labels,
    /// Milliseconds.
    pub t: i64,
    /// The float value (unused when `h` is set).
    pub f: f64,
    /// The histogram value.
    pub h: Option<Arc<FloatHistogram>>,
    /// Whether `__name__` is to be dropped at the end of evaluation
    /// (delayed name removal).
    pub drop_name: bool,
}

impl Sample {
    /// A float sample.
    pub fn float(metric: Labels, t: i64, f: f64) -> Sample {
        Sample {
            metric,
            t,
            f,
            h: None,
            drop_name: false,
        }
    }
}

/// A series of points, floats and histograms each sorted by time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// The labels.
    pub metric: Labels,
    /// Float points.
    pub floats: Vec<FPoint>,
    /// Histogram points.
    pub histograms: Vec<HPoint>,
    /// Whether `__name__` is to be dropped at the end of evaluation.
    pub drop_name: bool,
}

impl Series {
    /// How many samples the series holds, histograms weighted by size as
    /// Prometheus counts them.
    pub fn sample_count(&self) -> usize {
        self.floats.len()
            + self
                .histograms
                .iter()
                .map(|p| hist_size(&p.h))
                .sum::<usize>()
    }
}

/// Prometheus 3.x's size of a histogram point for sample limits and query
/// statistics (`HPoint.size`): the histogram's in-memory size in Go — a
/// 168-byte struct plus 8 bytes per span, bucket and custom bound — in
/// units of 16 bytes, rounded to nearest.
pub(crate) fn hist_size(h: &FloatHistogram) -> usize {
    let bytes = 168
        + 8 * (h.positive_spans.len()
            + h.negative_spans.len()
            + h.positive_buckets.len()
            + h.negative_buckets.len()
            + h.custom_values.len());
    (bytes + 8) / 16
}

/// An instant vector.
pub type Vector = Vec<Sample>;
/// A range vector (or the result of a range query).
pub type Matrix = Vec<Series>;

/// The value of an evaluated query.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A scalar at a time.
    Scalar {
        /// Milliseconds.
        t: i64,
        /// Value.
        v: f64,
    },
    /// A string at a time.
    String {
        /// Milliseconds.
        t: i64,
        /// Value.
        v: String,
    },
    /// An instant vector.
    Vector(Vector),
    /// A range vector or range-query result, sorted by labels.
    Matrix(Matrix),
}

impl Value {
    /// Prometheus's `resultType`: `scalar`, `string`, `vector`, `matrix`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Scalar { t, v } => write!(f, "scalar: {} @[{t}]", format_float(*v)),
            Value::String { t, v } => write!(f, "string: {v} @[{t}]"),
            Value::Vector(vec) => {
                for s in vec {
                    match &s.h {
                        Some(h) => writeln!(f, "{} => {h:?} @[{}]", s.metric, s.t)?,
                        None => writeln!(f, "{} => {} @[{}]", s.metric, format_float(s.f), s.t)?,
                    }
                }
                Ok(())
            }
            Value::Matrix(m) => {
                for s in m {
                    write!(f, "{} =>", s.metric)?;
                    for p in &s.floats {
                        write!(f, " {} @[{}]", format_float(p.f), p.t)?;
                    }
                    for p in &s.histograms {
                        write!(f, " {:?} @[{}]", p.h, p.t)?;
                    }
                    writeln!(f)?;
                }
                Ok(())
            }
        }
    }
}

/// Go's `strconv.FormatFloat(v, 'g', -1, 64)` (`%g`): shortest digits,
/// exponent form below 1e-4 and from 1e6 on (Go uses 6 digits of precision for the decision).
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let e = format!("{v:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        format!("{v}")
    }
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`.
pub fn format_float_f(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    format!("{v}")
}
