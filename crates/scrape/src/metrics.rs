//! The scrape manager's self-metrics, under Prometheus's names. Updated per
//! scrape or per sync, never per sample.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use expfmt::family::{Counter, Metric, MetricFamily, MetricValue, SummaryWindow};
use model::MetricType;

/// Quantiles of `prometheus_target_sync_length_seconds` (client_golang's
/// objectives in Prometheus).
const SYNC_OBJECTIVES: [f64; 5] = [0.01, 0.05, 0.5, 0.9, 0.99];

/// Per-job sync statistics.
#[derive(Debug, Default)]
struct JobSyncs {
    syncs: u64,
    failed: u64,
    length: SummaryWindow,
}

/// Counters of the scrape side.
#[derive(Debug, Default)]
pub struct Metrics {
    pub(crate) exceeded_sample_limit: AtomicU64,
    pub(crate) exceeded_body_size_limit: AtomicU64,
    pub(crate) exceeded_label_limits: AtomicU64,
    pub(crate) exceeded_target_limit: AtomicU64,
    pub(crate) sample_out_of_order: AtomicU64,
    pub(crate) sample_duplicate: AtomicU64,
    pub(crate) sample_out_of_bounds: AtomicU64,
    pub(crate) cache_flush_forced: AtomicU64,
    pub(crate) pools_total: AtomicU64,
    pub(crate) pools_failed: AtomicU64,
    pub(crate) pool_reloads: AtomicU64,
    /// By job: `prometheus_target_scrape_pool_sync_total`,
    /// `prometheus_target_sync_failed_total` and
    /// `prometheus_target_sync_length_seconds`.
    syncs: Mutex<BTreeMap<String, JobSyncs>>,
}

pub(crate) fn inc(c: &AtomicU64, n: u64) {
    if n > 0 {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Records one sync of `job`'s pool: how long it took and how many
    /// targets could not be created.
    pub(crate) fn observe_sync(&self, job: &str, took: Duration, failed: u64) {
        let mut syncs = self.syncs.lock().unwrap_or_else(|p| p.into_inner());
        let s = syncs.entry(job.to_string()).or_default();
        s.syncs += 1;
        s.failed += failed;
        s.length.observe(took.as_secs_f64());
    }

    /// Drops the per-job metrics of a pool that stopped (Prometheus deletes
    /// their label values).
    pub(crate) fn forget_job(&self, job: &str) {
        self.syncs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(job);
    }

    /// The metrics as families, sorted by name.
    pub fn families(&self) -> Vec<MetricFamily> {
        let counter = |name: &str, help: &str, c: &AtomicU64| {
            MetricFamily::counter(name, help, c.load(Ordering::Relaxed) as f64)
        };
        let mut out = vec![
            counter(
                "prometheus_target_scrape_pool_exceeded_label_limits_total",
                "Total number of times scrape pools hit the label limits, during sync or config reload.",
                &self.exceeded_label_limits,
            ),
            counter(
                "prometheus_target_scrape_pool_exceeded_target_limit_total",
                "Total number of times scrape pools hit the target limit, during sync or config reload.",
                &self.exceeded_target_limit,
            ),
            counter(
                "prometheus_target_scrape_pool_reloads_total",
                "Total number of scrape pool reloads.",
                &self.pool_reloads,
            ),
            counter(
                "prometheus_target_scrape_pools_failed_total",
                "Total number of scrape pool creations that failed.",
                &self.pools_failed,
            ),
            counter(
                "prometheus_target_scrape_pools_total",
                "Total number of scrape pool creation attempts.",
                &self.pools_total,
            ),
            counter(
                "prometheus_target_scrapes_cache_flush_forced_total",
                "How many times a scrape cache was flushed due to getting big while scrapes are failing.",
                &self.cache_flush_forced,
            ),
            counter(
                "prometheus_target_scrapes_exceeded_body_size_limit_total",
                "Total number of scrapes that hit the body size limit",
                &self.exceeded_body_size_limit,
            ),
            counter(
                "prometheus_target_scrapes_exceeded_sample_limit_total",
                "Total number of scrapes that hit the sample limit and were rejected.",
                &self.exceeded_sample_limit,
            ),
            counter(
                "prometheus_target_scrapes_sample_duplicate_timestamp_total",
                "Total number of samples rejected due to duplicate timestamps but different values.",
                &self.sample_duplicate,
            ),
            counter(
                "prometheus_target_scrapes_sample_out_of_bounds_total",
                "Total number of samples rejected due to timestamp falling outside of the time bounds.",
                &self.sample_out_of_bounds,
            ),
            counter(
                "prometheus_target_scrapes_sample_out_of_order_total",
                "Total number of samples rejected due to not being out of the expected order.",
                &self.sample_out_of_order,
            ),
        ];
        out.extend(self.sync_families());
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

impl Metrics {
    fn sync_families(&self) -> Vec<MetricFamily> {
        let mut syncs = self.syncs.lock().unwrap_or_else(|p| p.into_inner());
        let family = MetricFamily::new;
        let metric = |job: &str, value| Metric {
            labels: vec![("scrape_job".into(), job.to_string())],
            value,
            timestamp_ms: None,
        };
        let counter = |value: u64| {
            MetricValue::Counter(Counter {
                value: value as f64,
                created_ms: None,
                exemplar: None,
            })
        };
        let total = syncs
            .iter()
            .map(|(j, s)| metric(j, counter(s.syncs)))
            .collect();
        let failed = syncs
            .iter()
            .map(|(j, s)| metric(j, counter(s.failed)))
            .collect();
        let length = syncs
            .iter_mut()
            .map(|(j, s)| metric(j, s.length.value(&SYNC_OBJECTIVES)))
            .collect();
        vec![
            family(
                "prometheus_target_scrape_pool_sync_total",
                "Total number of syncs that were executed on a scrape pool.",
                MetricType::Counter,
                total,
            ),
            family(
                "prometheus_target_sync_failed_total",
                "Total number of target sync failures.",
                MetricType::Counter,
                failed,
            ),
            family(
                "prometheus_target_sync_length_seconds",
                "Actual interval to sync the scrape pool.",
                MetricType::Summary,
                length,
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_metrics_per_job() {
        let m = Metrics::default();
        m.observe_sync("a", Duration::from_millis(10), 0);
        m.observe_sync("a", Duration::from_millis(30), 2);
        m.observe_sync("b", Duration::from_millis(5), 0);
        let fams = m.families();
        let get = |n: &str| fams.iter().find(|f| f.name == n).expect(n);
        let total = get("prometheus_target_scrape_pool_sync_total");
        assert_eq!(total.kind, MetricType::Counter);
        assert_eq!(total.metrics.len(), 2);
        assert_eq!(
            total.metrics[0].labels,
            vec![("scrape_job".to_string(), "a".to_string())]
        );
        assert!(matches!(&total.metrics[0].value, MetricValue::Counter(c) if c.value == 2.0));
        let failed = get("prometheus_target_sync_failed_total");
        assert!(matches!(&failed.metrics[0].value, MetricValue::Counter(c) if c.value == 2.0));
        assert!(matches!(&failed.metrics[1].value, MetricValue::Counter(c) if c.value == 0.0));
        let length = get("prometheus_target_sync_length_seconds");
        assert_eq!(length.kind, MetricType::Summary);
        let MetricValue::Summary(s) = &length.metrics[0].value else {
            panic!("not a summary")
        };
        assert_eq!(s.count, 2.0);
        assert!((s.sum - 0.04).abs() < 1e-9);
        let q: Vec<(f64, f64)> = s.quantiles.iter().map(|q| (q.quantile, q.value)).collect();
        assert_eq!(
            q,
            vec![
                (0.01, 0.01),
                (0.05, 0.01),
                (0.5, 0.01),
                (0.9, 0.03),
                (0.99, 0.03)
            ]
        );
        m.forget_job("a");
        let fams = m.families();
        let total = fams
            .iter()
            .find(|f| f.name == "prometheus_target_scrape_pool_sync_total")
            .unwrap();
        assert_eq!(total.metrics.len(), 1);
    }
}
