//! Prometheus's HTTP API, read side: `/api/v1/*` queries, metadata and
//! status, `/federate`, `/metrics`, health, readiness and lifecycle.
//!
//! Owns every JSON wire type and writes them byte for byte as Prometheus
//! 3.x does (envelope `{"status","data","warnings","infos"}` or
//! `{"status":"error","errorType","error"}`, status codes, Go's float,
//! timestamp and string encodings; see `json`), parameter parsing with
//! Prometheus's error texts (`params`), and response compression.
//!
//! Entry point: [`router`] over an [`Api`], which holds the
//! [`storage::Queryable`], the [`promql::Engine`], [`Options`] and the
//! optional read-only views of the rest of the server ([`sources`]: targets,
//! exemplars, TSDB statistics, self-metrics, admin and lifecycle actions).
//! The binary implements those traits; this crate must not know the TSDB,
//! scraping or rule internals. Query evaluation runs on the blocking pool
//! behind a semaphore (`--query.max-concurrency`).
//!
//! Layout: `query` (`/query`, `/query_range`, `/format_query`,
//! `/parse_query`, whose tree is written by `parse_query`), `series`
//! (`/series`, `/labels`, `/label/<name>/values`, `/query_exemplars`),
//! `status` (targets, metadata, rules, alerts, `/status/*`), `federate`,
//! `lifecycle` (`/metrics`, `/-/*`, admin), `api` (envelope, errors,
//! request plumbing, compression), `histogram` (bucket bounds for JSON),
//! `webconfig` (`--web.config.file`: parsing and validation) and `serve`
//! (HTTP or HTTPS with rustls, basic authentication, extra headers).

mod api;
mod federate;
mod histogram;
mod json;
mod lifecycle;
mod metrics;
mod params;
mod parse_query;
mod query;
mod remote;
mod series;
pub mod serve;
pub mod sources;
mod status;
pub mod ui;
pub mod webconfig;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::Router;
use axum::routing::{get, post};
use model::Labels;
use promql::Engine;
use storage::Queryable;

pub use serve::{WebConfigFile, serve};
pub use webconfig::{WebConfig, WebConfigError};

pub use sources::{
    ActiveTarget, AdminSource, AlertmanagerSource, BuildInfo, DroppedTarget, ExemplarSeries,
    ExemplarSource, Lifecycle, MetricsSource, RuntimeInfo, StatusSource, TargetMetadata,
    TargetSource, TsdbStatsSource, TsdbStatus, WalReplayStatus,
};

/// Web options (the `--web.*` and `--query.max-concurrency` flags, external
/// labels). Lookback, query timeout and max samples are the engine's
/// options ([`promql::EngineOptions`]).
#[derive(Clone, Debug)]
pub struct Options {
    /// Queries evaluated at once; more wait (`--query.max-concurrency`).
    pub max_concurrency: usize,
    /// `--web.enable-lifecycle`: `/-/reload` and `/-/quit` work.
    pub enable_lifecycle: bool,
    /// `--web.enable-admin-api`: `/api/v1/admin/*` work.
    pub enable_admin_api: bool,
    /// `global.external_labels`, added by `/federate`.
    pub external_labels: Labels,
    /// Name in the health and readiness texts (`<name> is Healthy.`).
    pub app_name: String,
    /// The clock, milliseconds since the epoch (a fixed one in tests).
    pub clock: fn() -> i64,
    /// Largest request body read, bytes.
    pub max_body_bytes: usize,
    /// The prefix the binary serves these routes under (`--web.route-prefix`),
    /// left out of the `handler` label of the HTTP metrics.
    pub route_prefix: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_concurrency: 20,
            enable_lifecycle: false,
            enable_admin_api: false,
            external_labels: Labels::empty(),
            app_name: "Prometheus Server".into(),
            clock: now_ms,
            max_body_bytes: 16 << 20,
            route_prefix: String::new(),
        }
    }
}

/// The current time in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Everything the endpoints read. Sources left `None` answer with empty
/// data (no targets, no exemplars, ...) or, where Prometheus would need
/// them to answer at all, with an `unavailable` error.
#[derive(Clone)]
pub struct Api {
    /// The samples.
    pub queryable: Arc<dyn Queryable>,
    /// The PromQL engine. Build it with `max_concurrency: 0`: the API
    /// limits concurrency itself without blocking a thread.
    pub engine: Arc<Engine>,
    /// Options.
    pub options: Options,
    /// Whether the server is ready (WAL replayed); the API and
    /// `/federate` answer 503 until it is.
    pub ready: Arc<AtomicBool>,
    /// Exemplar storage.
    pub exemplars: Option<Arc<dyn ExemplarSource>>,
    /// Scrape targets and their metadata.
    pub targets: Option<Arc<dyn TargetSource>>,
    /// Alertmanagers.
    pub alertmanagers: Option<Arc<dyn AlertmanagerSource>>,
    /// Configuration, flags, runtime and build information.
    pub status: Option<Arc<dyn StatusSource>>,
    /// TSDB statistics and WAL replay progress.
    pub tsdb: Option<Arc<dyn TsdbStatsSource>>,
    /// Self-metrics.
    pub metrics: Option<Arc<dyn MetricsSource>>,
    /// TSDB administration.
    pub admin: Option<Arc<dyn AdminSource>>,
    /// Reload and shutdown.
    pub lifecycle: Option<Arc<dyn Lifecycle>>,
    /// Where remote-written samples go (`/api/v1/write`).
    pub appendable: Option<Arc<dyn storage::Appendable>>,
    /// `--web.enable-remote-write-receiver`: `/api/v1/write` answers 404
    /// unless set (and [`Api::appendable`] is given).
    pub remote_write: bool,
    /// Encodes chunks for remote read's `STREAMED_XOR_CHUNKS`; without it
    /// only `SAMPLES` is offered.
    pub chunk_encoder: Option<Arc<dyn ::remote::ChunkEncoder>>,
}

impl Api {
    /// An API over `queryable` and `engine` with default options, ready,
    /// and no other sources.
    pub fn new(queryable: Arc<dyn Queryable>, engine: Arc<Engine>) -> Api {
        Api {
            queryable,
            engine,
            options: Options::default(),
            ready: Arc::new(AtomicBool::new(true)),
            exemplars: None,
            targets: None,
            alertmanagers: None,
            status: None,
            tsdb: None,
            metrics: None,
            admin: None,
            lifecycle: None,
            appendable: None,
            remote_write: false,
            chunk_encoder: None,
        }
    }
}

/// The routes: `/api/v1/*`, `/federate`, `/metrics` and `/-/*`.
pub fn router(api: Api) -> Router {
    let shared = Arc::new(api::Shared::new(api));
    let v1 = Router::new()
        .route("/query", get(query::instant).post(query::instant))
        .route("/query_range", get(query::range).post(query::range))
        .route("/format_query", get(query::format).post(query::format))
        .route("/parse_query", get(query::parse).post(query::parse))
        .route("/write", post(remote::write))
        .route("/read", post(remote::read))
        .route("/series", get(series::series).post(series::series))
        .route(
            "/labels",
            get(series::label_names).post(series::label_names),
        )
        .route("/label/{name}/values", get(series::label_values))
        .route(
            "/query_exemplars",
            get(series::exemplars).post(series::exemplars),
        )
        .route("/targets", get(status::targets))
        .route("/targets/metadata", get(status::target_metadata))
        .route("/metadata", get(status::metadata))
        .route("/alerts", get(status::alerts))
        .route("/rules", get(status::rules))
        .route("/alertmanagers", get(status::alertmanagers))
        .route("/scrape_pools", get(status::scrape_pools))
        .route("/status/config", get(status::config))
        .route("/status/flags", get(status::flags))
        .route("/status/runtimeinfo", get(status::runtime_info))
        .route("/status/buildinfo", get(status::build_info))
        .route("/status/tsdb", get(status::tsdb))
        .route("/status/walreplay", get(status::wal_replay))
        .route(
            "/admin/tsdb/delete_series",
            post(lifecycle::delete_series).put(lifecycle::delete_series),
        )
        .route(
            "/admin/tsdb/clean_tombstones",
            post(lifecycle::clean_tombstones).put(lifecycle::clean_tombstones),
        )
        .route(
            "/admin/tsdb/snapshot",
            post(lifecycle::snapshot).put(lifecycle::snapshot),
        );
    Router::new()
        .nest("/api/v1", v1)
        .route("/federate", get(federate::federate))
        .route("/metrics", get(lifecycle::metrics))
        .route(
            "/-/healthy",
            get(lifecycle::healthy).head(lifecycle::healthy_head),
        )
        .route(
            "/-/ready",
            get(lifecycle::ready).head(lifecycle::ready_head),
        )
        .route(
            "/-/reload",
            post(lifecycle::reload)
                .put(lifecycle::reload)
                .get(lifecycle::post_only),
        )
        .route(
            "/-/quit",
            post(lifecycle::quit)
                .put(lifecycle::quit)
                .get(lifecycle::post_only),
        )
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            metrics::instrument,
        ))
        .with_state(shared)
}
