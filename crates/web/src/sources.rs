//! What the API reads besides samples: small traits the binary implements
//! over the TSDB, the scrape manager, the notifier and the process, and the
//! plain data they hand over. The JSON shapes are this crate's business;
//! the implementations only fill in values.

use std::collections::{BTreeMap, BTreeSet};

use model::Labels;
use model::matcher::Matcher;

/// Exemplars of the series matching a query (`/api/v1/query_exemplars`).
pub trait ExemplarSource: Send + Sync {
    /// Exemplars with timestamps in `[start, end]` (ms) of series matching
    /// any of `matcher_sets`, grouped by series.
    fn select(
        &self,
        start: i64,
        end: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> Result<Vec<ExemplarSeries>, String>;
}

/// One series' exemplars.
#[derive(Clone, Debug, PartialEq)]
pub struct ExemplarSeries {
    /// The series.
    pub series_labels: Labels,
    /// Its exemplars, oldest first.
    pub exemplars: Vec<storage::Exemplar>,
}

/// Scrape targets and the metadata they exposed (`/api/v1/targets`,
/// `/api/v1/targets/metadata`, `/api/v1/metadata`).
pub trait TargetSource: Send + Sync {
    /// Active targets by scrape pool.
    fn active(&self) -> BTreeMap<String, Vec<ActiveTarget>>;
    /// Targets dropped by relabeling, by scrape pool (as many as kept).
    fn dropped(&self) -> BTreeMap<String, Vec<DroppedTarget>>;
    /// How many targets each pool dropped in all.
    fn dropped_counts(&self) -> BTreeMap<String, usize>;
    /// Every scrape pool, sorted, including pools whose targets were all
    /// dropped (`/api/v1/scrape_pools`). By default the pools of
    /// [`TargetSource::active`] and [`TargetSource::dropped_counts`].
    fn pools(&self) -> Vec<String> {
        let mut pools: BTreeSet<String> = self.active().into_keys().collect();
        pools.extend(self.dropped_counts().into_keys());
        pools.into_iter().collect()
    }
}

/// A target being scraped.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ActiveTarget {
    /// Labels before relabeling.
    pub discovered_labels: Labels,
    /// Labels after relabeling (what its series carry).
    pub labels: Labels,
    /// The scrape URL.
    pub scrape_url: String,
    /// The URL as seen from other hosts.
    pub global_url: String,
    /// The last scrape's error, empty if it worked.
    pub last_error: String,
    /// When the last scrape started (ms), `None` before the first.
    pub last_scrape: Option<i64>,
    /// How long the last scrape took, seconds.
    pub last_scrape_duration: f64,
    /// `up`, `down` or `unknown`.
    pub health: String,
    /// The scrape interval as configured (`15s`).
    pub scrape_interval: String,
    /// The scrape timeout as configured (`10s`).
    pub scrape_timeout: String,
    /// Metadata the target exposed, by metric family.
    pub metadata: Vec<TargetMetadata>,
}

/// A target dropped by relabeling.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct DroppedTarget {
    /// Labels before relabeling.
    pub discovered_labels: Labels,
}

/// One metric family's metadata as a target exposed it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TargetMetadata {
    /// The family name.
    pub metric: String,
    /// `counter`, `gauge`, `histogram`, `gaugehistogram`, `summary`, `info`,
    /// `stateset` or `unknown`.
    pub kind: String,
    /// The help text.
    pub help: String,
    /// The unit.
    pub unit: String,
}

/// The Alertmanagers alerts go to (`/api/v1/alertmanagers`).
pub trait AlertmanagerSource: Send + Sync {
    /// URLs of active Alertmanagers (ending in `/api/v2/alerts`).
    fn active(&self) -> Vec<String>;
    /// URLs of Alertmanagers dropped by relabeling.
    fn dropped(&self) -> Vec<String>;
}

/// The server's configuration and process (`/api/v1/status/*`).
pub trait StatusSource: Send + Sync {
    /// The loaded configuration as YAML, secrets redacted.
    fn config_yaml(&self) -> String;
    /// Command-line flags by name (without dashes), values as strings.
    fn flags(&self) -> BTreeMap<String, String>;
    /// Runtime information.
    fn runtime_info(&self) -> Result<RuntimeInfo, String>;
    /// Build information.
    fn build_info(&self) -> BuildInfo;
}

/// `/api/v1/status/runtimeinfo`. The Go-runtime fields keep Prometheus's
/// names so clients parse them; Ember fills them with its own equivalents
/// (threads for goroutines, cores for `GOMAXPROCS`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RuntimeInfo {
    /// Process start, ms.
    pub start_time: i64,
    /// Working directory.
    pub cwd: String,
    /// Host name.
    pub hostname: String,
    /// Now, ms.
    pub server_time: i64,
    /// Whether the last configuration reload worked.
    pub reload_config_success: bool,
    /// When the configuration was last loaded, ms.
    pub last_config_time: i64,
    /// WAL corruptions found.
    pub corruption_count: i64,
    /// Threads (`goroutineCount`).
    pub goroutine_count: i64,
    /// Usable cores (`GOMAXPROCS`).
    pub gomaxprocs: i64,
    /// Memory limit in bytes (`GOMEMLIMIT`).
    pub gomemlimit: i64,
    /// `GOGC`.
    pub gogc: String,
    /// `GODEBUG`.
    pub godebug: String,
    /// Retention as configured (`15d`).
    pub storage_retention: String,
}

/// `/api/v1/status/buildinfo`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct BuildInfo {
    /// Version.
    pub version: String,
    /// VCS revision.
    pub revision: String,
    /// VCS branch.
    pub branch: String,
    /// Who built it.
    pub build_user: String,
    /// When it was built.
    pub build_date: String,
    /// Toolchain (`goVersion` on the wire).
    pub go_version: String,
}

/// Head statistics for `/api/v1/status/tsdb` and the WAL replay progress.
pub trait TsdbStatsSource: Send + Sync {
    /// Statistics with the top `limit` entries of each cardinality list.
    fn stats(&self, limit: usize) -> Result<TsdbStatus, String>;
    /// WAL replay progress (segments).
    fn wal_replay(&self) -> WalReplayStatus;
}

/// `/api/v1/status/tsdb`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct TsdbStatus {
    /// Series in the head.
    pub num_series: u64,
    /// Distinct label name/value pairs.
    pub num_label_pairs: i64,
    /// Chunks in the head.
    pub chunk_count: i64,
    /// Oldest sample time in the head, ms.
    pub min_time: i64,
    /// Newest sample time in the head, ms.
    pub max_time: i64,
    /// Series per metric name, most first.
    pub series_count_by_metric_name: Vec<(String, u64)>,
    /// Distinct values per label name, most first.
    pub label_value_count_by_label_name: Vec<(String, u64)>,
    /// Bytes of values per label name, most first.
    pub memory_in_bytes_by_label_name: Vec<(String, u64)>,
    /// Series per `name=value` pair, most first.
    pub series_count_by_label_value_pair: Vec<(String, u64)>,
}

/// `/api/v1/status/walreplay`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct WalReplayStatus {
    /// First segment.
    pub min: i64,
    /// Last segment.
    pub max: i64,
    /// Segment being replayed.
    pub current: i64,
}

/// The server's own metrics (`/metrics`).
pub trait MetricsSource: Send + Sync {
    /// Every metric family, sorted by name.
    fn gather(&self) -> Vec<expfmt::MetricFamily>;
}

/// TSDB administration (`/api/v1/admin/tsdb/*`, with
/// `--web.enable-admin-api`).
pub trait AdminSource: Send + Sync {
    /// Deletes the samples in `[mint, maxt]` of series matching `matchers`.
    fn delete_series(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<(), String>;
    /// Removes deleted data from disk.
    fn clean_tombstones(&self) -> Result<(), String>;
    /// Writes a snapshot under `<data>/snapshots/`; returns its name.
    fn snapshot(&self, skip_head: bool) -> Result<String, String>;
}

/// Reload and shutdown (`/-/reload`, `/-/quit`, with
/// `--web.enable-lifecycle`).
pub trait Lifecycle: Send + Sync {
    /// Reloads the configuration; the error is shown to the caller.
    fn reload(&self) -> Result<(), String>;
    /// Starts a graceful shutdown; false if one is already under way.
    fn quit(&self) -> bool;
}
