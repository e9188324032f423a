//! A scrape pool: one job's targets and their loops. Syncing with new
//! target groups starts loops for new targets and removes vanished ones
//! (which write stale markers); reloading with a changed configuration
//! replaces every loop, handing each target's scrape cache to its
//! successor when the change does not affect samples.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use config::scrape::ScrapeConfig;
use discovery::TargetGroup;
use discovery::client::{ClientOptions, HttpClient};
use model::{Labels, LabelsBuilder};
use storage::Appendable;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::append::{Settings, State};
use crate::fetch::{Scraper, accept_header};
use crate::metrics::{Metrics, inc};
use crate::scrape_loop::{self, LoopParams, Status, Stop, lock};
use crate::target::{Built, Target, targets_from_group};
use crate::{Error, Options};

/// What every pool shares.
pub(crate) struct Context {
    pub(crate) appendable: Arc<dyn Appendable>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) options: Options,
    /// Body buffers shared by every loop.
    pub(crate) buffers: Arc<crate::buffers::BufferPool>,
}

/// Whether a successor loop takes over its predecessor's scrape cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cache {
    /// The change does not affect samples: keep the cache.
    Reuse,
    /// Start with an empty cache.
    Fresh,
}

/// A running loop.
pub(crate) struct LoopHandle {
    pub(crate) target: Arc<Target>,
    pub(crate) discovered: Labels,
    pub(crate) status: Arc<Mutex<Status>>,
    stop: watch::Sender<Stop>,
    task: JoinHandle<Option<State>>,
}

/// One job's scraping.
pub(crate) struct Pool {
    pub(crate) cfg: Arc<ScrapeConfig>,
    client: HttpClient,
    accept: String,
    pub(crate) loops: HashMap<u64, LoopHandle>,
    /// Dropped targets' discovered labels (at most `keep_dropped_targets`).
    pub(crate) dropped: Vec<Labels>,
    /// All dropped targets, kept or not.
    pub(crate) dropped_count: usize,
    /// Loops told to stop that may still write stale markers.
    draining: Vec<LoopHandle>,
    forced_error: Arc<Mutex<Option<String>>>,
    groups: Vec<TargetGroup>,
    ctx: Arc<Context>,
}

fn client_for(cfg: &ScrapeConfig, options: &Options) -> Result<HttpClient, Error> {
    HttpClient::new(
        &cfg.http,
        &ClientOptions {
            user_agent: options.user_agent.clone(),
            gzip: cfg.enable_compression,
        },
    )
    .map_err(|e| Error::Pool {
        job: cfg.job_name.clone(),
        message: e.to_string(),
    })
}

/// Whether a cache built under `a` stays valid under `b`: they differ at
/// most in interval, timeout, sample limit and HTTP client settings.
fn reusable_cache(a: &ScrapeConfig, b: &ScrapeConfig) -> bool {
    let zero = |c: &ScrapeConfig| {
        let mut z = c.clone();
        z.scrape_interval = config::Duration::ZERO;
        z.scrape_timeout = config::Duration::ZERO;
        z.sample_limit = 0;
        z.http = config::http::HttpClientConfig::default();
        z
    };
    zero(a) == zero(b)
}

impl Pool {
    pub(crate) fn new(cfg: Arc<ScrapeConfig>, ctx: Arc<Context>) -> Result<Pool, Error> {
        let client = client_for(&cfg, &ctx.options)?;
        let accept = accept_header(&cfg.scrape_protocols, cfg.metric_name_escaping_scheme);
        Ok(Pool {
            cfg,
            client,
            accept,
            loops: HashMap::new(),
            dropped: Vec::new(),
            dropped_count: 0,
            draining: Vec::new(),
            forced_error: Arc::default(),
            groups: Vec::new(),
            ctx,
        })
    }

    /// Builds the targets of `self.groups`: active (deduplicated) and
    /// dropped; also returns how many targets could not be created.
    fn build(&mut self) -> (Vec<(Target, Labels)>, u64) {
        let mut failed = 0;
        let mut b = LabelsBuilder::new();
        let mut active: Vec<(Target, Labels)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        self.dropped.clear();
        self.dropped_count = 0;
        let keep = self.cfg.keep_dropped_targets;
        for g in &self.groups {
            for r in targets_from_group(g, &self.cfg, &mut b) {
                match r {
                    Ok(Built::Active(t)) => {
                        if seen.insert(t.hash) {
                            let d = t.discovered.clone();
                            active.push((t, d));
                        }
                    }
                    Ok(Built::Dropped(l)) => {
                        self.dropped_count += 1;
                        if keep == 0 || (self.dropped.len() as u64) < keep {
                            self.dropped.push(l);
                        }
                    }
                    Err(e) => {
                        failed += 1;
                        tracing::error!(job = %self.cfg.job_name, err = %e, "creating target failed");
                    }
                }
            }
        }
        let limit = self.cfg.target_limit;
        let forced = if limit > 0 && active.len() as u64 > limit {
            inc(&self.ctx.metrics.exceeded_target_limit, 1);
            Some(format!(
                "target_limit exceeded (number of targets: {}, limit: {limit})",
                active.len()
            ))
        } else {
            None
        };
        *lock(&self.forced_error) = forced;
        (active, failed)
    }

    fn start(
        &self,
        target: Target,
        discovered: Labels,
        predecessor: Option<(JoinHandle<Option<State>>, Status)>,
        cache: Cache,
    ) -> LoopHandle {
        let target = Arc::new(target);
        let cfg = &self.cfg;
        let body_limit = match (
            cfg.body_size_limit.limit(),
            self.ctx.options.body_size_ceiling,
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let scraper = Scraper {
            client: self.client.clone(),
            url: target.url.clone(),
            accept: self.accept.clone(),
            compression: cfg.enable_compression,
            timeout: target.timeout,
            body_limit,
        };
        let settings = Arc::new(Settings {
            cfg: cfg.clone(),
            target_labels: target.public.clone(),
            timeout: target.timeout,
        });
        // A successor shows its predecessor's last scrape until its own.
        let (predecessor, status) = match predecessor {
            Some((task, status)) => (Some(task), status),
            None => (None, Status::default()),
        };
        let status = Arc::new(Mutex::new(status));
        let (stop_tx, stop_rx) = watch::channel(Stop::Run);
        let params = LoopParams {
            target: target.clone(),
            settings,
            scraper,
            status: status.clone(),
            forced_error: self.forced_error.clone(),
            appendable: self.ctx.appendable.clone(),
            metrics: self.ctx.metrics.clone(),
            offset_seed: self.ctx.options.offset_seed,
            buffers: self.ctx.buffers.clone(),
            state: State::default(),
            stop: stop_rx,
        };
        let task = tokio::spawn(async move {
            let mut params = params;
            if let Some(prev) = predecessor {
                // The old loop finishes its current scrape first.
                if let Ok(Some(state)) = prev.await
                    && cache == Cache::Reuse
                {
                    params.state = state;
                }
            }
            scrape_loop::run(params).await
        });
        LoopHandle {
            target,
            discovered,
            status,
            stop: stop_tx,
            task,
        }
    }

    /// Applies new target groups.
    pub(crate) fn sync(&mut self, groups: Vec<TargetGroup>) {
        let started = std::time::Instant::now();
        self.groups = groups;
        let (active, failed) = self.build();
        let mut keep = HashMap::with_capacity(active.len());
        for (t, discovered) in active {
            let hash = t.hash;
            match self.loops.remove(&hash) {
                Some(mut h) => {
                    h.discovered = discovered;
                    keep.insert(hash, h);
                }
                None => {
                    let h = self.start(t, discovered, None, Cache::Fresh);
                    keep.insert(hash, h);
                }
            }
        }
        for (_, h) in self.loops.drain() {
            h.stop.send_replace(Stop::Remove { wait: true });
            self.draining.push(h);
        }
        self.loops = keep;
        self.draining.retain(|h| !h.task.is_finished());
        self.ctx
            .metrics
            .observe_sync(&self.cfg.job_name, started.elapsed(), failed);
    }

    /// Applies a changed configuration: every loop is replaced.
    pub(crate) fn reload(&mut self, cfg: Arc<ScrapeConfig>) -> Result<(), Error> {
        inc(&self.ctx.metrics.pool_reloads, 1);
        let client = client_for(&cfg, &self.ctx.options)?;
        let cache = if reusable_cache(&self.cfg, &cfg) {
            Cache::Reuse
        } else {
            Cache::Fresh
        };
        self.client = client;
        self.accept = accept_header(&cfg.scrape_protocols, cfg.metric_name_escaping_scheme);
        self.cfg = cfg;
        let (active, _) = self.build();
        // A target's successor has the same URL and public labels (its hash
        // may differ: it covers `__scrape_interval__` and friends).
        let mut old: HashMap<(String, Labels), LoopHandle> = std::mem::take(&mut self.loops)
            .into_values()
            .map(|h| ((h.target.url.clone(), h.target.public.clone()), h))
            .collect();
        for (t, discovered) in active {
            let hash = t.hash;
            let predecessor = old.remove(&(t.url.clone(), t.public.clone())).map(|h| {
                h.stop.send_replace(Stop::Handover);
                let status = lock(&h.status).clone();
                (h.task, status)
            });
            let h = self.start(t, discovered, predecessor, cache);
            self.loops.insert(hash, h);
        }
        for (_, h) in old {
            h.stop.send_replace(Stop::Remove { wait: true });
            self.draining.push(h);
        }
        Ok(())
    }

    /// Tells every loop to stop with `mode`; returns their tasks.
    pub(crate) fn stop(&mut self, mode: Stop) -> Vec<JoinHandle<Option<State>>> {
        self.ctx.metrics.forget_job(&self.cfg.job_name);
        let mut out = Vec::new();
        for (_, h) in self.loops.drain() {
            h.stop.send_replace(mode);
            out.push(h.task);
        }
        for h in self.draining.drain(..) {
            if mode == Stop::Shutdown {
                h.stop.send_replace(mode);
            }
            out.push(h.task);
        }
        out
    }
}
