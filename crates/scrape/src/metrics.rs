//! The scrape manager's self-metrics, under Prometheus's names. Updated per
//! scrape or per sync, never per sample.

use std::sync::atomic::{AtomicU64, Ordering};

use expfmt::family::MetricFamily;

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
    pub(crate) syncs: AtomicU64,
}

pub(crate) fn inc(c: &AtomicU64, n: u64) {
    if n > 0 {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

impl Metrics {
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
            counter(
                "prometheus_target_sync_total",
                "Total number of syncs that were executed on a scrape pool.",
                &self.syncs,
            ),
        ];
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}
