//! Owned metric families. Placeholder: being written.
/// A metric family.
pub struct MetricFamily;
/// A metric.
pub struct Metric;
/// A metric's value.
pub enum MetricValue {}
