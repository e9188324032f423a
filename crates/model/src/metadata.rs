//! Metric types and metadata (TYPE, HELP, UNIT).

use std::fmt;
use std::str::FromStr;

/// The type of a metric family, as named in the exposition formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum MetricType {
    /// A monotonically increasing counter.
    Counter,
    /// A value that can go up and down.
    Gauge,
    /// Buckets, sum and count of observations.
    Histogram,
    /// A histogram of current values (OpenMetrics `gaugehistogram`).
    GaugeHistogram,
    /// Quantiles, sum and count of observations.
    Summary,
    /// Information about the target (OpenMetrics `info`).
    Info,
    /// A set of boolean states (OpenMetrics `stateset`).
    Stateset,
    /// No type given (`untyped` in text 0.0.4, `unknown` in OpenMetrics).
    #[default]
    Unknown,
}

impl MetricType {
    /// The name used in the Prometheus HTTP API and OpenMetrics.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::Stateset => "stateset",
            MetricType::Unknown => "unknown",
        }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown metric type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown metric type {0:?}")]
pub struct UnknownType(pub String);

impl FromStr for MetricType {
    type Err = UnknownType;
    /// Accepts the OpenMetrics names plus text 0.0.4's `untyped`.
    fn from_str(s: &str) -> Result<Self, UnknownType> {
        Ok(match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "summary" => MetricType::Summary,
            "info" => MetricType::Info,
            "stateset" => MetricType::Stateset,
            "unknown" | "untyped" => MetricType::Unknown,
            _ => return Err(UnknownType(s.to_string())),
        })
    }
}

/// The metadata of one metric family.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Metadata {
    /// The family's type.
    pub kind: MetricType,
    /// The HELP text, unescaped.
    pub help: String,
    /// The UNIT, empty when not given.
    pub unit: String,
}
