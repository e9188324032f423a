//! Cardinality statistics of the head (`/api/v1/status/tsdb`), read from
//! the postings index under its read lock.

use super::Head;

/// What `/api/v1/status/tsdb` shows about the head.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CardinalityStats {
    /// Series in the head.
    pub num_series: u64,
    /// Distinct label name/value pairs.
    pub num_label_pairs: u64,
    /// Oldest sample time (ms), if any.
    pub min_time: Option<i64>,
    /// Newest sample time (ms), if any.
    pub max_time: Option<i64>,
    /// Series per metric name, most first.
    pub series_count_by_metric_name: Vec<(String, u64)>,
    /// Distinct values per label name, most first.
    pub label_value_count_by_label_name: Vec<(String, u64)>,
    /// Bytes of all values per label name, most first.
    pub memory_in_bytes_by_label_name: Vec<(String, u64)>,
    /// Series per `name=value` pair, most first.
    pub series_count_by_label_value_pair: Vec<(String, u64)>,
}

/// Keeps the `limit` largest entries, largest first, ties by name.
fn top(mut v: Vec<(String, u64)>, limit: usize) -> Vec<(String, u64)> {
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(limit);
    v
}

impl Head {
    /// Cardinality statistics with the top `limit` entries of each list, as
    /// Prometheus computes them from its head index.
    pub fn cardinality_stats(&self, limit: usize) -> CardinalityStats {
        let postings = super::read(&self.postings);
        let mut by_metric = Vec::new();
        let mut value_counts = Vec::new();
        let mut memory = Vec::new();
        let mut pairs = Vec::new();
        for name in postings.label_names() {
            let values = postings.label_values(&name);
            value_counts.push((name.clone(), values.len() as u64));
            let mut bytes = 0u64;
            for value in &values {
                let n = postings.get(&name, value).len() as u64;
                bytes += (value.len() as u64) * n;
                if name == model::labels::METRIC_NAME {
                    by_metric.push((value.clone(), n));
                }
                pairs.push((format!("{name}={value}"), n));
            }
            memory.push((name, bytes));
        }
        CardinalityStats {
            num_series: self.num_series() as u64,
            num_label_pairs: postings.num_pairs() as u64,
            min_time: self.min_time(),
            max_time: self.max_time(),
            series_count_by_metric_name: top(by_metric, limit),
            label_value_count_by_label_name: top(value_counts, limit),
            memory_in_bytes_by_label_name: top(memory, limit),
            series_count_by_label_value_pair: top(pairs, limit),
        }
    }
}
