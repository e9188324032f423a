//! Encoders. Placeholder: being written.
use crate::MetricFamily;
/// Encodes text 0.0.4.
pub fn encode_text(_f: &[MetricFamily], _out: &mut String) {}
/// Encodes OpenMetrics.
pub fn encode_openmetrics(_f: &[MetricFamily], _out: &mut String) {}
