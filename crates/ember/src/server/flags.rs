//! `ember server`'s flags, named as Prometheus names them so unit files and
//! Helm charts keep working.

use std::net::SocketAddr;
use std::path::PathBuf;

use config::{ByteSize, Duration};

/// Flags of `ember server`.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct Flags {
    /// Prometheus configuration file path. When absent and the file does not
    /// exist, Ember runs an embedded default that scrapes itself.
    #[arg(long = "config.file")]
    pub(crate) config_file: Option<PathBuf>,

    /// Address to listen on for UI, API, and telemetry.
    #[arg(long = "web.listen-address", default_value = "0.0.0.0:9090")]
    pub(crate) listen_address: SocketAddr,

    /// [EXPERIMENTAL] Path to configuration file that can enable TLS or
    /// authentication (exporter-toolkit's format).
    #[arg(long = "web.config.file")]
    pub(crate) web_config_file: Option<PathBuf>,

    /// Enable shutdown and reload via HTTP request.
    #[arg(long = "web.enable-lifecycle")]
    pub(crate) enable_lifecycle: bool,

    /// Enable API endpoints for admin control actions.
    #[arg(long = "web.enable-admin-api")]
    pub(crate) enable_admin_api: bool,

    /// Accept remote write requests on /api/v1/write.
    #[arg(long = "web.enable-remote-write-receiver")]
    pub(crate) enable_remote_write_receiver: bool,

    /// The URL under which Ember is externally reachable.
    #[arg(long = "web.external-url")]
    pub(crate) external_url: Option<String>,

    /// Prefix for the internal routes of web endpoints. Defaults to the path of
    /// --web.external-url.
    #[arg(long = "web.route-prefix")]
    pub(crate) route_prefix: Option<String>,

    /// Base path for metrics storage.
    #[arg(long = "storage.tsdb.path", default_value = "data/")]
    pub(crate) tsdb_path: PathBuf,

    /// How long to retain samples in storage (default 15d).
    #[arg(long = "storage.tsdb.retention.time", value_parser = parse_duration)]
    pub(crate) retention_time: Option<Duration>,

    /// Maximum number of bytes that can be stored for blocks.
    #[arg(long = "storage.tsdb.retention.size", value_parser = parse_bytes)]
    pub(crate) retention_size: Option<ByteSize>,

    /// Minimum duration of a data block before being persisted (Prometheus's hidden flag).
    #[arg(long = "storage.tsdb.min-block-duration", default_value = "2h", value_parser = parse_duration, hide = true)]
    pub(crate) min_block_duration: Duration,

    /// Maximum duration compacted blocks may span (default: 10% of the retention time, at most 31d).
    #[arg(long = "storage.tsdb.max-block-duration", value_parser = parse_duration, hide = true)]
    pub(crate) max_block_duration: Option<Duration>,

    /// How far behind the newest sample out-of-order samples are still accepted (the configuration file's `storage.tsdb.out_of_order_time_window` wins when set).
    #[arg(long = "storage.tsdb.out-of-order-time-window", value_parser = parse_duration)]
    pub(crate) out_of_order_time_window: Option<Duration>,

    /// Do not create lockfile in data directory.
    #[arg(long = "storage.tsdb.no-lockfile")]
    pub(crate) no_lockfile: bool,

    /// Debian's package spelling (its Prometheus locks only when asked):
    /// accepted so its service arguments keep working; locking is already
    /// the default.
    #[arg(long = "storage.tsdb.use-lockfile", hide = true)]
    pub(crate) use_lockfile: bool,

    /// Compress the WAL with snappy.
    #[arg(long = "storage.tsdb.wal-compression", default_value_t = true, action = clap::ArgAction::Set)]
    pub(crate) wal_compression: bool,

    /// The maximum lookback duration for retrieving metrics during expression evaluations.
    #[arg(long = "query.lookback-delta", default_value = "5m", value_parser = parse_duration)]
    pub(crate) lookback_delta: Duration,

    /// Maximum time a query may take before being aborted.
    #[arg(long = "query.timeout", default_value = "2m", value_parser = parse_duration)]
    pub(crate) query_timeout: Duration,

    /// Maximum number of queries executed concurrently.
    #[arg(long = "query.max-concurrency", default_value_t = 20)]
    pub(crate) query_max_concurrency: usize,

    /// Maximum number of samples a single query can load into memory.
    #[arg(long = "query.max-samples", default_value_t = 50_000_000)]
    pub(crate) query_max_samples: usize,

    /// Comma separated feature names to enable.
    #[arg(long = "enable-feature", value_delimiter = ',')]
    pub(crate) enable_feature: Vec<String>,

    /// Only log messages with the given severity or above. One of: [debug, info, warn, error].
    #[arg(long = "log.level", default_value = "info", value_parser = ["debug", "info", "warn", "error"])]
    pub(crate) log_level: String,

    /// Output format of log messages. One of: [logfmt, json].
    #[arg(long = "log.format", default_value = "logfmt", value_parser = ["logfmt", "json"])]
    pub(crate) log_format: String,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    Duration::parse(s).map_err(|e| e.to_string())
}

fn parse_bytes(s: &str) -> Result<ByteSize, String> {
    ByteSize::parse(s).map_err(|e| e.to_string())
}

/// The configuration used when no file is given and `prometheus.yml` is not
/// in the working directory: Ember scrapes its own `/metrics`.
pub(crate) fn default_config(listen: SocketAddr, route_prefix: &str) -> String {
    let host = if listen.ip().is_unspecified() {
        "localhost".to_string()
    } else {
        listen.ip().to_string()
    };
    format!(
        "# Embedded default: Ember scrapes itself.\n\
         global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\n\
         scrape_configs:\n  - job_name: ember\n    metrics_path: {route_prefix}/metrics\n    static_configs:\n      - targets: ['{host}:{port}']\n",
        port = listen.port()
    )
}

/// The path part of `--web.external-url` (`http://host/prom/` → `/prom`).
pub(crate) fn external_path(external_url: Option<&str>) -> String {
    external_url
        .and_then(|u| u.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_string()))
        .map(|p| normalize_prefix(&p))
        .unwrap_or_default()
}

/// `""` for the root, else `/a/b` (leading slash, no trailing slash).
pub(crate) fn normalize_prefix(p: &str) -> String {
    let t = p.trim_matches('/');
    if t.is_empty() {
        String::new()
    } else {
        format!("/{t}")
    }
}

/// The prefix routes are served under: `--web.route-prefix`, else the path
/// of `--web.external-url`, as Prometheus does.
pub(crate) fn route_prefix(flags: &Flags) -> String {
    match &flags.route_prefix {
        Some(p) => normalize_prefix(p),
        None => external_path(flags.external_url.as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(
            external_path(Some("http://example.com:9090/prom/")),
            "/prom"
        );
        assert_eq!(external_path(Some("http://example.com")), "");
        assert_eq!(external_path(None), "");
        assert_eq!(normalize_prefix("/"), "");
        assert_eq!(normalize_prefix("a/b/"), "/a/b");
    }
}
