//! `ember server`: the Prometheus server.
//!
//! Wires the components in order: configuration → HTTP (answering 503 on
//! `/-/ready` and the API until storage is open) → TSDB (blocks, then the
//! head's WAL replay) → discovery and scraping → ready; a background task
//! compacts the head into blocks and applies retention every minute. Stops
//! in reverse on SIGTERM/SIGINT or `/-/quit`: HTTP, scraping, compaction,
//! then the head (closing the WAL). SIGHUP and
//! `/-/reload` re-read the configuration; a bad one is refused and the
//! running one stays.

mod chunks;
mod flags;
mod logging;
mod memory;
mod process;
mod sources;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::watch;
use tsdb::head::HeadOptions;
use tsdb::{Db, DbOptions};

pub(crate) use flags::Flags;
use sources::{LateDb, Reloader, Sources};

/// How often the database checks for compaction and retention
/// (Prometheus: every minute).
const COMPACTION_INTERVAL: Duration = Duration::from_secs(60);
/// Default retention when no flag sets one (Prometheus's 15d).
const DEFAULT_RETENTION_MS: u64 = 15 * 24 * 3600 * 1000;
/// How long shutdown waits for a running compaction to release storage.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(60);
/// Largest block: 31d (Prometheus caps 10% of the retention there).
const MAX_BLOCK_DURATION_MS: u64 = 31 * 24 * 3600 * 1000;

/// Runs the server until it is told to stop.
pub(crate) fn run(flags: Flags) -> ExitCode {
    logging::init(&flags.log_level, &flags.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ember")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(serve(flags)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(err = format!("{e:#}"), "server stopped with an error");
            ExitCode::FAILURE
        }
    }
}

/// Where the configuration comes from.
#[derive(Clone, Debug)]
enum ConfigSource {
    File(PathBuf),
    Embedded(String),
}

impl ConfigSource {
    fn choose(flags: &Flags) -> ConfigSource {
        match &flags.config_file {
            Some(p) => ConfigSource::File(p.clone()),
            None if Path::new("prometheus.yml").exists() => {
                ConfigSource::File("prometheus.yml".into())
            }
            None => ConfigSource::Embedded(flags::default_config(
                flags.listen_address,
                &flags::route_prefix(flags),
            )),
        }
    }

    fn load(&self) -> Result<config::Config, config::ConfigError> {
        match self {
            ConfigSource::File(p) => config::Config::load_file(p),
            ConfigSource::Embedded(text) => config::Config::load_str(text),
        }
    }
}

async fn serve(flags: Flags) -> anyhow::Result<()> {
    let source = ConfigSource::choose(&flags);
    let cfg = source.load().context("load configuration")?;
    match &source {
        ConfigSource::File(p) => tracing::info!(file = %p.display(), "loaded configuration"),
        ConfigSource::Embedded(_) => {
            tracing::info!(
                "no configuration file given: using the embedded default, which scrapes Ember itself"
            )
        }
    }
    for w in cfg.warnings() {
        tracing::warn!("{w}");
    }

    let ready = Arc::new(AtomicBool::new(false));
    let late_head = Arc::new(LateDb::default());
    let (quit_tx, mut quit_rx) = watch::channel(false);
    let sources = Arc::new(Sources::new(
        flags.clone(),
        cfg.clone(),
        late_head.clone(),
        quit_tx,
    ));

    // HTTP first, so /-/healthy answers and /-/ready says 503 during replay.
    let engine = Arc::new(promql::Engine::new(promql::EngineOptions {
        lookback_delta: flags.lookback_delta.as_std(),
        max_samples: flags.query_max_samples,
        timeout: Duration::from_millis(flags.query_timeout.as_millis()),
        max_concurrency: 0,
        enable_delayed_name_removal: flags
            .enable_feature
            .iter()
            .any(|f| f == "promql-delayed-name-removal"),
        ..promql::EngineOptions::default()
    }));
    let mut api = web::Api::new(late_head.clone(), engine);
    api.ready = ready.clone();
    api.options.max_concurrency = flags.query_max_concurrency;
    api.options.enable_lifecycle = flags.enable_lifecycle;
    api.options.enable_admin_api = flags.enable_admin_api;
    api.options.external_labels = model::Labels::from_pairs(cfg.global.external_labels.iter());
    api.exemplars = Some(sources.clone());
    api.targets = Some(sources.clone());
    api.status = Some(sources.clone());
    api.tsdb = Some(sources.clone());
    api.metrics = Some(sources.clone());
    api.lifecycle = Some(sources.clone());
    api.remote_write = flags.enable_remote_write_receiver;
    api.appendable = Some(late_head.clone());
    if flags.enable_admin_api {
        api.admin = Some(sources.clone());
    }
    api.chunk_encoder = Some(Arc::new(chunks::TsdbChunkEncoder));
    // Routes live under the route prefix; the UI's links use the path the
    // browser sees (the external URL's path), which is the prefix by default.
    let prefix = flags::route_prefix(&flags);
    api.options.route_prefix = prefix.clone();
    let external_path = match &flags.external_url {
        Some(u) => flags::external_path(Some(u)),
        None => prefix.clone(),
    };
    let routes = web::router(api).merge(web::ui::router(&external_path));
    let app = if prefix.is_empty() {
        routes
    } else {
        let target = format!("{prefix}/");
        axum::Router::new().nest(&prefix, routes).route(
            "/",
            axum::routing::get(move || async move {
                (
                    axum::http::StatusCode::FOUND,
                    [(axum::http::header::LOCATION, target)],
                )
            }),
        )
    };
    let web_config = match &flags.web_config_file {
        Some(p) => Some(Arc::new(web::WebConfigFile::open(p)?)),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(flags.listen_address)
        .await
        .with_context(|| format!("listen on {}", flags.listen_address))?;
    tracing::info!(address = %flags.listen_address, "listening");
    let mut http_quit = quit_rx.clone();
    let http = tokio::spawn(web::serve(listener, app, web_config, async move {
        let _ = http_quit.wait_for(|q| *q).await;
    }));

    // Storage.
    let db_opts = db_options(&flags, &cfg);
    let dir = flags.tsdb_path.clone();
    let started = std::time::Instant::now();
    let db = tokio::task::spawn_blocking(move || Db::open(&dir, db_opts))
        .await
        .context("open storage")?
        .with_context(|| format!("open storage at {}", flags.tsdb_path.display()))?;
    let db = Arc::new(db);
    late_head.set(db.clone());
    tracing::info!(series = db.head().num_series(), blocks = db.blocks().len(), elapsed = ?started.elapsed(), "storage ready");

    // Discovery and scraping.
    let hostname = sources::hostname();
    let scrape = Arc::new(scrape::Manager::new(
        db.clone(),
        scrape::Options {
            offset_seed: scrape::Options::offset_seed(&cfg.global.external_labels, &hostname),
            user_agent: format!("Ember/{}", env!("CARGO_PKG_VERSION")),
            ..scrape::Options::default()
        },
    ));
    let (mut discovery, updates) = discovery::Manager::new(discovery::ManagerOptions::default());
    scrape.apply_config(&cfg).context("start scraping")?;
    discovery.apply_config(&cfg);
    sources.set_scrape(
        scrape.clone(),
        Reloader {
            source: source.clone(),
            discovery,
        },
    );
    let scrape_run = {
        let scrape = scrape.clone();
        tokio::spawn(async move { scrape.run(updates).await })
    };
    ready.store(true, Ordering::Release);
    tracing::info!("server is ready to receive web requests");

    // Compaction and retention, off the async runtime.
    let compact_db = db.clone();
    let compaction_task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(COMPACTION_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let db = compact_db.clone();
            match tokio::task::spawn_blocking(move || db.compact()).await {
                Ok(Err(e)) => tracing::error!(err = %e, "compaction failed"),
                Err(e) => tracing::error!(err = %e, "compaction task failed"),
                Ok(Ok(_)) => {}
            }
        }
    });

    // Freed heap pages back to the kernel (see `memory`).
    let trim_task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(memory::TRIM_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let _ = tokio::task::spawn_blocking(memory::trim).await;
        }
    });

    // Signals, reloads, quit.
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("received SIGTERM, exiting gracefully"); break; }
            _ = tokio::signal::ctrl_c() => { tracing::info!("received SIGINT, exiting gracefully"); break; }
            _ = quit_rx.wait_for(|q| *q) => { tracing::info!("quit requested over HTTP, exiting gracefully"); break; }
            _ = hup.recv() => {
                let s = sources.clone();
                let _ = tokio::task::spawn_blocking(move || s.reload_config()).await;
            }
        }
    }

    // Stop in reverse order: HTTP, scraping and discovery, then storage.
    use web::sources::Lifecycle as _;
    sources.quit();
    let _ = http.await;
    compaction_task.abort();
    let _ = compaction_task.await;
    trim_task.abort();
    let _ = trim_task.await;
    scrape.stop().await;
    scrape_run.abort();
    let _ = scrape_run.await;
    sources.clear_scrape();
    drop(scrape);
    drop(sources);
    drop(late_head);
    // A compaction under way holds the database until it finishes.
    let db = {
        let mut db = db;
        let deadline = std::time::Instant::now() + SHUTDOWN_WAIT;
        loop {
            match Arc::try_unwrap(db) {
                Ok(db) => break Some(db),
                Err(shared) if std::time::Instant::now() < deadline => {
                    db = shared;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(_) => break None,
            }
        }
    };
    match db {
        Some(db) => tokio::task::spawn_blocking(move || db.close())
            .await?
            .context("close storage")?,
        None => tracing::warn!(
            "storage still in use at shutdown; its WAL is closed when the process exits"
        ),
    }
    tracing::info!("see you next time");
    Ok(())
}

/// The database's options from the flags and the configuration file's
/// `storage` section (which wins where both say something, as in 3.x).
fn db_options(flags: &Flags, cfg: &config::Config) -> DbOptions {
    let tsdb_cfg = cfg.storage.tsdb.clone().unwrap_or_default();
    let retention_time = match tsdb_cfg.retention.time.as_millis() {
        0 => flags.retention_time.map(|d| d.as_millis()),
        ms => Some(ms),
    };
    let retention_size = match tsdb_cfg.retention.size.0 {
        0 => flags.retention_size.map(|b| b.0.max(0) as u64),
        b => Some(b.max(0) as u64),
    };
    // As Prometheus: 15d when neither limit is given; a size limit alone
    // keeps data of any age.
    let retention = match (retention_time, retention_size) {
        (Some(ms), _) => ms,
        (None, Some(_)) => 0,
        (None, None) => DEFAULT_RETENTION_MS,
    };
    let max_block = flags.max_block_duration.map_or_else(
        || match retention / 10 {
            0 => MAX_BLOCK_DURATION_MS,
            r => r.min(MAX_BLOCK_DURATION_MS),
        },
        |d| d.as_millis(),
    );
    let ooo_window = match tsdb_cfg.out_of_order_time_window.as_millis() {
        0 => flags.out_of_order_time_window.map_or(0, |d| d.as_millis()),
        ms => ms,
    };
    let max_exemplars = cfg
        .storage
        .exemplars
        .as_ref()
        .map_or(100_000, |e| e.max_exemplars.max(0) as usize);
    DbOptions {
        head: HeadOptions {
            chunk_range: flags.min_block_duration.as_millis() as i64,
            out_of_order_time_window: ooo_window as i64,
            max_exemplars,
            wal_compression: if flags.wal_compression {
                tsdb::wal::Compression::Snappy
            } else {
                tsdb::wal::Compression::None
            },
            ..HeadOptions::default()
        },
        retention_duration: retention as i64,
        retention_size: retention_size.unwrap_or(0),
        max_block_duration: max_block as i64,
        overlapping_compaction: true,
        lockfile: !flags.no_lockfile || flags.use_lockfile,
    }
}
