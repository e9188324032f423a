//! The binary's implementations of the `web` crate's source traits, over
//! the head, the scrape manager, the configuration and the process.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use expfmt::MetricFamily;
use model::matcher::Matcher;
use storage::{Querier, Queryable, StorageError};
use tokio::sync::watch;
use tsdb::Db;
use tsdb::head::Head;
use web::sources as ws;

use super::flags::Flags;
use super::{ConfigSource, process};

mod config_yaml;

/// The database, once storage has been opened. Until then queries fail
/// (the API answers 503 before that anyway: it is gated on readiness).
#[derive(Default)]
pub(crate) struct LateDb(OnceLock<Arc<Db>>);

impl LateDb {
    pub(crate) fn set(&self, db: Arc<Db>) {
        let _ = self.0.set(db);
    }

    fn get(&self) -> Option<&Arc<Db>> {
        self.0.get()
    }

    fn head(&self) -> Option<&Head> {
        self.0.get().map(|db| db.head())
    }
}

impl Queryable for LateDb {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier + '_>, StorageError> {
        match self.get() {
            Some(h) => h.querier(mint, maxt),
            None => Err(StorageError::Io {
                place: "storage".into(),
                reason: "not open yet".into(),
            }),
        }
    }
}

impl storage::Appendable for LateDb {
    fn appender(&self) -> Box<dyn storage::Appender + '_> {
        match self.get() {
            Some(h) => h.appender(),
            None => Box::new(NotOpen),
        }
    }
}

/// The appender handed out before the head opens: every append fails.
struct NotOpen;

impl NotOpen {
    fn err() -> storage::AppendError {
        storage::AppendError::Storage("not open yet".into())
    }
}

impl storage::Appender for NotOpen {
    fn append(
        &mut self,
        _: Option<storage::SeriesRef>,
        _: &model::Labels,
        _: model::Timestamp,
        _: storage::Sample<'_>,
    ) -> Result<storage::SeriesRef, storage::AppendError> {
        Err(Self::err())
    }
    fn append_exemplar(
        &mut self,
        _: Option<storage::SeriesRef>,
        _: &model::Labels,
        _: &storage::Exemplar,
    ) -> Result<storage::SeriesRef, storage::AppendError> {
        Err(Self::err())
    }
    fn update_metadata(
        &mut self,
        _: Option<storage::SeriesRef>,
        _: &model::Labels,
        _: &model::Metadata,
    ) -> Result<storage::SeriesRef, storage::AppendError> {
        Err(Self::err())
    }
    fn commit(self: Box<Self>) -> Result<(), storage::AppendError> {
        Err(Self::err())
    }
    fn rollback(self: Box<Self>) {}
}

/// What a reload needs besides the scrape manager.
pub(crate) struct Reloader {
    pub(crate) source: ConfigSource,
    pub(crate) discovery: discovery::Manager,
}

struct ConfigState {
    config: config::Config,
    last_reload_ok: bool,
    last_reload_ms: i64,
}

/// Everything the API reads besides samples.
pub(crate) struct Sources {
    flags: Flags,
    head: Arc<LateDb>,
    config: Mutex<ConfigState>,
    scrape: Mutex<Option<Arc<scrape::Manager>>>,
    reloader: Mutex<Option<Reloader>>,
    quit: watch::Sender<bool>,
    start_ms: i64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The host name, as the kernel reports it.
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

impl Sources {
    pub(crate) fn new(
        flags: Flags,
        config: config::Config,
        head: Arc<LateDb>,
        quit: watch::Sender<bool>,
    ) -> Sources {
        let now = web::now_ms();
        Sources {
            flags,
            head,
            config: Mutex::new(ConfigState {
                config,
                last_reload_ok: true,
                last_reload_ms: now,
            }),
            scrape: Mutex::new(None),
            reloader: Mutex::new(None),
            quit,
            start_ms: now,
        }
    }

    pub(crate) fn set_scrape(&self, scrape: Arc<scrape::Manager>, reloader: Reloader) {
        *lock(&self.scrape) = Some(scrape);
        *lock(&self.reloader) = Some(reloader);
    }

    /// Drops the references to the scrape and discovery managers (shutdown).
    pub(crate) fn clear_scrape(&self) {
        lock(&self.scrape).take();
        lock(&self.reloader).take();
    }

    fn scrape(&self) -> Option<Arc<scrape::Manager>> {
        lock(&self.scrape).clone()
    }

    /// Re-reads the configuration and applies it; a bad one is refused and
    /// the running one stays. Needs a tokio runtime context.
    pub(crate) fn reload_config(&self) -> Result<(), String> {
        let mut reloader = lock(&self.reloader);
        let Some(r) = reloader.as_mut() else {
            return Err("server is not running yet".into());
        };
        let scrape = self.scrape().ok_or("server is not running yet")?;
        // Prometheus's wording for a file that does not load.
        let load_error = |e: config::ConfigError| {
            let file = match &r.source {
                ConfigSource::File(p) => p.display().to_string(),
                ConfigSource::Embedded(_) => String::new(),
            };
            format!(
                "couldn't load configuration (--config.file={}): {e}",
                model::matcher::go_quote(&file)
            )
        };
        let result = r.source.load().map_err(load_error).and_then(|cfg| {
            scrape
                .apply_config(&cfg)
                .map(|()| cfg)
                .map_err(|e| e.to_string())
        });
        let mut st = lock(&self.config);
        match result {
            Ok(cfg) => {
                r.discovery.apply_config(&cfg);
                for w in cfg.warnings() {
                    tracing::warn!("{w}");
                }
                st.config = cfg;
                st.last_reload_ok = true;
                st.last_reload_ms = web::now_ms();
                tracing::info!("completed loading of configuration file");
                Ok(())
            }
            Err(e) => {
                st.last_reload_ok = false;
                tracing::error!(err = %e, "error reloading config; keeping the running one");
                Err(e)
            }
        }
    }

    fn reload_metrics(&self) -> Vec<MetricFamily> {
        let st = lock(&self.config);
        vec![
            MetricFamily::gauge(
                "prometheus_config_last_reload_successful",
                "Whether the last configuration reload attempt was successful.",
                if st.last_reload_ok { 1.0 } else { 0.0 },
            ),
            MetricFamily::gauge(
                "prometheus_config_last_reload_success_timestamp_seconds",
                "Timestamp of the last successful configuration reload.",
                st.last_reload_ms as f64 / 1000.0,
            ),
        ]
    }
}

impl ws::ExemplarSource for Sources {
    fn select(
        &self,
        start: i64,
        end: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> Result<Vec<ws::ExemplarSeries>, String> {
        let head = self.head.head().ok_or("storage is not open yet")?;
        Ok(head
            .select_exemplars(start, end, matcher_sets)
            .into_iter()
            .map(|s| ws::ExemplarSeries {
                series_labels: s.labels,
                exemplars: s.exemplars,
            })
            .collect())
    }
}

fn secs(d: std::time::Duration) -> String {
    config::Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).to_string()
}

/// Host names Prometheus treats as this machine (`LocalhostRepresentations`).
const LOCALHOST: [&str; 3] = ["127.0.0.1", "localhost", "::1"];

/// `scheme://authority/rest` → (scheme, authority, rest).
fn split_url(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some((scheme, &rest[..end], &rest[end..]))
}

/// Go's `sanitizeSplitHostPort`: host (without brackets) and port, the
/// port empty when absent.
fn split_host_port(authority: &str) -> (&str, &str) {
    if let Some(rest) = authority.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':').unwrap_or("")),
            None => (authority, ""),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, port),
        _ => (authority, ""),
    }
}

/// Go's `net.JoinHostPort`.
fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl Sources {
    /// The external URL's scheme and authority (`--web.external-url`, by
    /// default `http://<hostname>:<listen port>/`, as Prometheus computes it).
    fn external_scheme_host(&self) -> (String, String) {
        self.flags
            .external_url
            .as_deref()
            .and_then(split_url)
            .map(|(scheme, host, _)| (scheme.to_string(), host.to_string()))
            .unwrap_or_else(|| {
                let port = self.flags.listen_address.port().to_string();
                ("http".into(), join_host_port(&hostname(), &port))
            })
    }

    /// `getGlobalURL`: a target on a loopback address is shown under the
    /// external URL's host name, or under the whole external URL's scheme
    /// and host when it is this server's own port.
    fn global_url(&self, scrape_url: &str) -> String {
        let Some((scheme, authority, rest)) = split_url(scrape_url) else {
            return scrape_url.to_string();
        };
        let (host, port) = split_host_port(authority);
        if !LOCALHOST.contains(&host) {
            return scrape_url.to_string();
        }
        let (ext_scheme, ext_host) = self.external_scheme_host();
        if port == self.flags.listen_address.port().to_string() {
            return format!("{ext_scheme}://{ext_host}{rest}");
        }
        let (ext_name, _) = split_host_port(&ext_host);
        let authority = if port.is_empty() {
            ext_name.to_string()
        } else {
            join_host_port(ext_name, port)
        };
        format!("{scheme}://{authority}{rest}")
    }
}

impl ws::TargetSource for Sources {
    fn active(&self) -> BTreeMap<String, Vec<ws::ActiveTarget>> {
        let Some(scrape) = self.scrape() else {
            return BTreeMap::new();
        };
        let metadata: BTreeMap<(String, model::Labels), Vec<ws::TargetMetadata>> = scrape
            .target_metadata()
            .into_iter()
            .map(|m| {
                let md = m
                    .metadata
                    .iter()
                    .map(|(metric, md)| ws::TargetMetadata {
                        metric: metric.clone(),
                        kind: md.kind.as_str().to_string(),
                        help: md.help.clone(),
                        unit: md.unit.clone(),
                    })
                    .collect();
                ((m.scrape_pool, m.target), md)
            })
            .collect();
        let mut out: BTreeMap<String, Vec<ws::ActiveTarget>> = BTreeMap::new();
        for t in scrape.targets().active {
            let md = metadata
                .get(&(t.scrape_pool.clone(), t.labels.clone()))
                .cloned()
                .unwrap_or_default();
            out.entry(t.scrape_pool.clone())
                .or_default()
                .push(ws::ActiveTarget {
                    discovered_labels: t.discovered_labels,
                    labels: t.labels,
                    global_url: self.global_url(&t.scrape_url),
                    scrape_url: t.scrape_url,
                    last_error: t.last_error,
                    last_scrape: t
                        .last_scrape
                        .and_then(|s| s.duration_since(std::time::UNIX_EPOCH).ok())
                        .map(|d| d.as_millis() as i64),
                    last_scrape_duration: t.last_scrape_duration.as_secs_f64(),
                    health: match t.health {
                        scrape::Health::Up => "up",
                        scrape::Health::Down => "down",
                        scrape::Health::Unknown => "unknown",
                    }
                    .to_string(),
                    scrape_interval: secs(t.scrape_interval),
                    scrape_timeout: secs(t.scrape_timeout),
                    metadata: md,
                });
        }
        out
    }

    fn dropped(&self) -> BTreeMap<String, Vec<ws::DroppedTarget>> {
        let Some(scrape) = self.scrape() else {
            return BTreeMap::new();
        };
        let mut out: BTreeMap<String, Vec<ws::DroppedTarget>> = BTreeMap::new();
        for t in scrape.targets().dropped {
            out.entry(t.scrape_pool)
                .or_default()
                .push(ws::DroppedTarget {
                    discovered_labels: t.discovered_labels,
                });
        }
        out
    }

    fn dropped_counts(&self) -> BTreeMap<String, usize> {
        self.scrape()
            .map(|s| s.targets().dropped_counts)
            .unwrap_or_default()
    }
}

impl ws::StatusSource for Sources {
    fn config_yaml(&self) -> String {
        let cfg = &lock(&self.config).config;
        // As Prometheus: with exemplar storage enabled, the default
        // `storage.exemplars` section is filled in.
        if cfg.storage.exemplars.is_none()
            && self
                .flags
                .enable_feature
                .iter()
                .any(|f| f == "exemplar-storage")
        {
            let mut cfg = cfg.clone();
            cfg.storage.exemplars = Some(config::storage::ExemplarsConfig {
                max_exemplars: 100_000,
            });
            return config_yaml::render(&cfg);
        }
        config_yaml::render(cfg)
    }

    fn flags(&self) -> BTreeMap<String, String> {
        let f = &self.flags;
        let opt = |v: Option<String>| v.unwrap_or_default();
        // As Prometheus 3.x lists them: the retention and block-size flags
        // with the values in effect (the configuration file's retention
        // wins; 15d when neither limit is set; a tenth of it per block).
        let db = super::db_options(f, &lock(&self.config).config);
        let ms = |v: i64| config::Duration::from_millis(u64::try_from(v).unwrap_or(0)).to_string();
        BTreeMap::from([
            (
                "config.file".into(),
                opt(f.config_file.as_ref().map(|p| p.display().to_string())),
            ),
            ("web.listen-address".into(), f.listen_address.to_string()),
            (
                "web.enable-lifecycle".into(),
                f.enable_lifecycle.to_string(),
            ),
            (
                "web.enable-admin-api".into(),
                f.enable_admin_api.to_string(),
            ),
            (
                "web.enable-remote-write-receiver".into(),
                f.enable_remote_write_receiver.to_string(),
            ),
            ("web.external-url".into(), opt(f.external_url.clone())),
            (
                "storage.tsdb.path".into(),
                f.tsdb_path.display().to_string(),
            ),
            (
                "storage.tsdb.retention.time".into(),
                ms(db.retention_duration),
            ),
            (
                "storage.tsdb.retention.size".into(),
                config::ByteSize(i64::try_from(db.retention_size).unwrap_or(i64::MAX)).to_string(),
            ),
            (
                "storage.tsdb.wal-compression".into(),
                f.wal_compression.to_string(),
            ),
            ("storage.tsdb.no-lockfile".into(), f.no_lockfile.to_string()),
            (
                "storage.tsdb.min-block-duration".into(),
                f.min_block_duration.to_string(),
            ),
            (
                "storage.tsdb.max-block-duration".into(),
                ms(db.max_block_duration),
            ),
            (
                "storage.tsdb.out-of-order-time-window".into(),
                opt(f.out_of_order_time_window.map(|d| d.to_string())),
            ),
            ("query.lookback-delta".into(), f.lookback_delta.to_string()),
            ("query.timeout".into(), f.query_timeout.to_string()),
            (
                "query.max-concurrency".into(),
                f.query_max_concurrency.to_string(),
            ),
            ("query.max-samples".into(), f.query_max_samples.to_string()),
            ("enable-feature".into(), f.enable_feature.join(",")),
            ("log.level".into(), f.log_level.clone()),
            ("log.format".into(), f.log_format.clone()),
            (
                "web.config.file".into(),
                opt(f.web_config_file.as_ref().map(|p| p.display().to_string())),
            ),
        ])
    }

    fn runtime_info(&self) -> Result<ws::RuntimeInfo, String> {
        let st = lock(&self.config);
        let threads = process::threads();
        Ok(ws::RuntimeInfo {
            start_time: self.start_ms,
            cwd: std::env::current_dir()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            hostname: hostname(),
            server_time: web::now_ms(),
            reload_config_success: st.last_reload_ok,
            last_config_time: st.last_reload_ms,
            corruption_count: 0,
            goroutine_count: threads,
            gomaxprocs: std::thread::available_parallelism().map_or(1, |n| n.get() as i64),
            gomemlimit: 0,
            gogc: String::new(),
            godebug: String::new(),
            storage_retention: retention_text(&super::db_options(&self.flags, &st.config)),
        })
    }

    fn build_info(&self) -> ws::BuildInfo {
        ws::BuildInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            revision: option_env!("EMBER_REVISION")
                .unwrap_or("unknown")
                .to_string(),
            branch: option_env!("EMBER_BRANCH").unwrap_or("unknown").to_string(),
            build_user: String::new(),
            build_date: String::new(),
            go_version: format!(
                "rust{}",
                option_env!("CARGO_PKG_RUST_VERSION").unwrap_or("")
            ),
        }
    }
}

/// runtimeinfo's `storageRetention`: the time limit, the size limit, or
/// both joined by ` or `.
fn retention_text(db: &tsdb::DbOptions) -> String {
    let time = u64::try_from(db.retention_duration).unwrap_or(0);
    let mut parts = Vec::new();
    if time != 0 {
        parts.push(config::Duration::from_millis(time).to_string());
    }
    if db.retention_size != 0 {
        parts.push(
            config::ByteSize(i64::try_from(db.retention_size).unwrap_or(i64::MAX)).to_string(),
        );
    }
    parts.join(" or ")
}

/// The head's chunk count, from its `prometheus_tsdb_head_chunks` gauge.
fn head_chunks(head: &Head) -> i64 {
    head.metric_families()
        .into_iter()
        .find(|f| f.name == "prometheus_tsdb_head_chunks")
        .and_then(|f| f.metrics.into_iter().next())
        .map_or(0, |m| match m.value {
            expfmt::MetricValue::Gauge(v) => v as i64,
            _ => 0,
        })
}

impl ws::TsdbStatsSource for Sources {
    fn stats(&self, limit: usize) -> Result<ws::TsdbStatus, String> {
        let head = self.head.head().ok_or("storage is not open yet")?;
        let s = head.cardinality_stats(limit);
        Ok(ws::TsdbStatus {
            num_series: s.num_series,
            num_label_pairs: s.num_label_pairs as i64,
            chunk_count: head_chunks(head),
            min_time: s.min_time.unwrap_or(i64::MAX),
            max_time: s.max_time.unwrap_or(i64::MIN),
            series_count_by_metric_name: s.series_count_by_metric_name,
            label_value_count_by_label_name: s.label_value_count_by_label_name,
            memory_in_bytes_by_label_name: s.memory_in_bytes_by_label_name,
            series_count_by_label_value_pair: s.series_count_by_label_value_pair,
        })
    }

    fn wal_replay(&self) -> ws::WalReplayStatus {
        ws::WalReplayStatus::default()
    }
}

impl ws::MetricsSource for Sources {
    fn gather(&self) -> Vec<MetricFamily> {
        let mut out = process::metric_families(self.start_ms);
        out.extend(self.reload_metrics());
        if let Some(db) = self.head.get() {
            out.extend(db.metric_families());
        }
        if let Some(s) = self.scrape() {
            out.extend(s.metrics());
        }
        out
    }
}

impl ws::Lifecycle for Sources {
    fn reload(&self) -> Result<(), String> {
        self.reload_config()
    }

    fn quit(&self) -> bool {
        !self.quit.send_replace(true)
    }
}

impl ws::AdminSource for Sources {
    fn delete_series(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<(), String> {
        let db = self.head.get().ok_or("storage is not open yet")?;
        db.delete(mint, maxt, matchers).map_err(|e| e.to_string())
    }

    fn clean_tombstones(&self) -> Result<(), String> {
        let db = self.head.get().ok_or("storage is not open yet")?;
        db.clean_tombstones().map_err(|e| e.to_string())
    }

    fn snapshot(&self, skip_head: bool) -> Result<String, String> {
        let db = self.head.get().ok_or("storage is not open yet")?;
        // Prometheus's name: UTC time, then 8 random bytes in hex.
        let (y, mo, d, h, mi, s) = model::time::civil_from_millis(web::now_ms());
        let mut rnd = [0u8; 8];
        getrandom::fill(&mut rnd).map_err(|e| format!("random snapshot name: {e}"))?;
        let hex: String = rnd.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z-{hex}");
        let dir = db.dir().join("snapshots").join(&name);
        db.snapshot(&dir, !skip_head).map_err(|e| e.to_string())?;
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parts() {
        assert_eq!(
            split_url("http://127.0.0.1:9100/metrics?x=1"),
            Some(("http", "127.0.0.1:9100", "/metrics?x=1"))
        );
        assert_eq!(split_host_port("[::1]:9100"), ("::1", "9100"));
        assert_eq!(split_host_port("localhost"), ("localhost", ""));
        assert_eq!(split_host_port("h:80"), ("h", "80"));
        assert_eq!(join_host_port("::1", "80"), "[::1]:80");
    }
}
