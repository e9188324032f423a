//! `ember server`: the Prometheus server.
//!
//! Wires the components in order: configuration → HTTP (answering 503 on
//! `/-/ready` and the API until storage is open) → TSDB head (WAL replay) →
//! discovery and scraping → ready. Stops in reverse on SIGTERM/SIGINT or
//! `/-/quit`: HTTP, scraping, then the head (closing the WAL). SIGHUP and
//! `/-/reload` re-read the configuration; a bad one is refused and the
//! running one stays.

mod chunks;
mod flags;
mod logging;
mod process;
mod sources;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::watch;
use tsdb::head::{Head, HeadOptions};

pub(crate) use flags::Flags;
use sources::{LateHead, Reloader, Sources};

/// How often the head drops data older than the retention.
const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);
/// Default retention when no flag sets one (Prometheus's 15d).
const DEFAULT_RETENTION_MS: u64 = 15 * 24 * 3600 * 1000;

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
    let late_head = Arc::new(LateHead::default());
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
    let head_opts = HeadOptions {
        wal_compression: if flags.wal_compression {
            tsdb::wal::Compression::Snappy
        } else {
            tsdb::wal::Compression::None
        },
        ..HeadOptions::default()
    };
    let dir = flags.tsdb_path.clone();
    let started = std::time::Instant::now();
    let head = tokio::task::spawn_blocking(move || Head::open(&dir, head_opts))
        .await
        .context("open storage")?
        .with_context(|| format!("open storage at {}", flags.tsdb_path.display()))?;
    let head = Arc::new(head);
    late_head.set(head.clone());
    tracing::info!(series = head.num_series(), elapsed = ?started.elapsed(), "storage ready");

    // Discovery and scraping.
    let hostname = sources::hostname();
    let scrape = Arc::new(scrape::Manager::new(
        head.clone(),
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

    // Retention.
    let retention = flags
        .retention_time
        .map_or(DEFAULT_RETENTION_MS, |d| d.as_millis());
    let retention_head = head.clone();
    let retention_task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(RETENTION_INTERVAL);
        loop {
            tick.tick().await;
            let h = retention_head.clone();
            let mint = web::now_ms() - retention as i64;
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || h.truncate(mint)).await {
                tracing::error!(err = %e, "apply retention");
            }
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
    retention_task.abort();
    let _ = retention_task.await;
    scrape.stop().await;
    scrape_run.abort();
    let _ = scrape_run.await;
    sources.clear_scrape();
    drop(scrape);
    drop(sources);
    drop(late_head);
    match Arc::try_unwrap(head) {
        Ok(head) => tokio::task::spawn_blocking(move || head.close())
            .await?
            .context("close storage")?,
        Err(_) => tracing::warn!(
            "storage still in use at shutdown; its WAL is closed when the process exits"
        ),
    }
    tracing::info!("see you next time");
    Ok(())
}
