//! The scrape manager: one pool per job, fed by discovery, reconfigured by
//! `apply_config`, and read by the targets and metadata APIs.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use config::scrape::ScrapeConfig;
use discovery::TargetSets;
use model::{Labels, Metadata};
use storage::Appendable;
use tokio::sync::mpsc;

use crate::metrics::{Metrics, inc};
use crate::pool::{Context, Pool};
use crate::scrape_loop::{Health, Stop, lock};
use crate::target::fnv64a;
use crate::{Error, Options};

/// One active target, as the targets API shows it.
#[derive(Clone, Debug)]
pub struct TargetInfo {
    /// Labels before relabeling.
    pub discovered_labels: Labels,
    /// The public labels.
    pub labels: Labels,
    /// The job.
    pub scrape_pool: String,
    /// The URL scraped.
    pub scrape_url: String,
    /// The last scrape's error, empty if none.
    pub last_error: String,
    /// When the last scrape started.
    pub last_scrape: Option<SystemTime>,
    /// How long the last scrape took.
    pub last_scrape_duration: Duration,
    /// Health from the last scrape.
    pub health: Health,
    /// The target's interval.
    pub scrape_interval: Duration,
    /// The target's timeout.
    pub scrape_timeout: Duration,
}

/// A target dropped by relabeling.
#[derive(Clone, Debug)]
pub struct DroppedTarget {
    /// Its labels before relabeling.
    pub discovered_labels: Labels,
    /// The job.
    pub scrape_pool: String,
}

/// Every pool's targets.
#[derive(Clone, Debug, Default)]
pub struct Targets {
    /// Active targets, by pool then URL.
    pub active: Vec<TargetInfo>,
    /// Dropped targets kept for display (`keep_dropped_targets`).
    pub dropped: Vec<DroppedTarget>,
    /// Per pool, how many targets were dropped in all.
    pub dropped_counts: BTreeMap<String, usize>,
}

/// The metadata one target exposed.
#[derive(Clone, Debug)]
pub struct TargetMetadata {
    /// The target's public labels.
    pub target: Labels,
    /// The job.
    pub scrape_pool: String,
    /// Family name to metadata.
    pub metadata: Arc<BTreeMap<String, Metadata>>,
}

/// Scrapes every job of a configuration.
pub struct Manager {
    ctx: Arc<Context>,
    pools: Mutex<BTreeMap<String, Pool>>,
    last_sets: Mutex<TargetSets>,
}

impl Options {
    /// Prometheus's offset seed: a hash of the external labels and the host
    /// name, so that HA replicas scrape at different phases.
    pub fn offset_seed(external_labels: &BTreeMap<String, String>, hostname: &str) -> u64 {
        let mut s = String::new();
        for (k, v) in external_labels {
            s.push_str(k);
            s.push('\u{ff}');
            s.push_str(v);
            s.push('\u{ff}');
        }
        s.push_str(hostname);
        fnv64a(&[s.as_bytes()])
    }
}

impl Manager {
    /// A manager appending to `appendable`.
    pub fn new(appendable: Arc<dyn Appendable>, options: Options) -> Manager {
        Manager {
            ctx: Arc::new(Context {
                appendable,
                metrics: Arc::new(Metrics::default()),
                options,
                buffers: Default::default(),
            }),
            pools: Mutex::new(BTreeMap::new()),
            last_sets: Mutex::new(TargetSets::new()),
        }
    }

    /// Applies a configuration: new jobs get a pool, changed ones reload
    /// (every loop replaced, caches kept where still valid), unchanged ones
    /// keep running untouched, removed ones stop and write stale markers.
    /// Must run inside a tokio runtime. Errors name the jobs whose pool
    /// could not be (re)built; the others are applied.
    pub fn apply_config(&self, cfg: &config::Config) -> Result<(), Error> {
        let jobs = cfg
            .scrape_configs()
            .map_err(|e| Error::Config(e.to_string()))?;
        self.apply_jobs(jobs)
    }

    /// [`Manager::apply_config`] on a list of jobs.
    pub fn apply_jobs(&self, jobs: Vec<ScrapeConfig>) -> Result<(), Error> {
        let sets = lock(&self.last_sets).clone();
        let mut pools = lock(&self.pools);
        let mut errors = Vec::new();
        let names: std::collections::BTreeSet<String> =
            jobs.iter().map(|j| j.job_name.clone()).collect();
        let gone: Vec<String> = pools
            .keys()
            .filter(|k| !names.contains(*k))
            .cloned()
            .collect();
        for job in gone {
            if let Some(mut p) = pools.remove(&job) {
                // Stale markers now: nothing will recreate these targets.
                drop(p.stop(Stop::Remove { wait: false }));
            }
        }
        for sc in jobs {
            let sc = Arc::new(sc);
            match pools.get_mut(&sc.job_name) {
                Some(p) if *p.cfg == *sc => {}
                Some(p) => {
                    if let Err(e) = p.reload(sc) {
                        tracing::error!(err = %e, "reloading scrape pool failed");
                        errors.push(e.to_string());
                    }
                }
                None => {
                    inc(&self.ctx.metrics.pools_total, 1);
                    match Pool::new(sc.clone(), self.ctx.clone()) {
                        Ok(mut p) => {
                            if let Some(groups) = sets.get(&sc.job_name) {
                                p.sync(groups.clone());
                            }
                            pools.insert(sc.job_name.clone(), p);
                        }
                        Err(e) => {
                            inc(&self.ctx.metrics.pools_failed, 1);
                            tracing::error!(err = %e, "creating scrape pool failed");
                            errors.push(e.to_string());
                        }
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Config(errors.join("; ")))
        }
    }

    /// Applies discovered targets (all jobs).
    pub fn sync(&self, sets: TargetSets) {
        let mut pools = lock(&self.pools);
        for (job, groups) in &sets {
            if let Some(p) = pools.get_mut(job) {
                p.sync(groups.clone());
            }
        }
        *lock(&self.last_sets) = sets;
    }

    /// Syncs every snapshot from discovery until the channel closes.
    pub async fn run(&self, mut updates: mpsc::Receiver<TargetSets>) {
        while let Some(sets) = updates.recv().await {
            self.sync(sets);
        }
    }

    /// Stops every loop without stale markers (the process is stopping) and
    /// waits for them.
    pub async fn stop(&self) {
        let tasks: Vec<_> = {
            let mut pools = lock(&self.pools);
            let t = pools
                .values_mut()
                .flat_map(|p| p.stop(Stop::Shutdown))
                .collect();
            pools.clear();
            t
        };
        for t in tasks {
            let _ = t.await;
        }
    }

    /// Active and dropped targets of every pool.
    pub fn targets(&self) -> Targets {
        let pools = lock(&self.pools);
        let mut out = Targets::default();
        for (job, p) in pools.iter() {
            let mut active: Vec<TargetInfo> = p
                .loops
                .values()
                .map(|h| {
                    let s = lock(&h.status).clone();
                    TargetInfo {
                        discovered_labels: h.discovered.clone(),
                        labels: h.target.public.clone(),
                        scrape_pool: job.clone(),
                        scrape_url: h.target.url.clone(),
                        last_error: s.last_error,
                        last_scrape: s.last_scrape,
                        last_scrape_duration: s.last_duration,
                        health: s.health,
                        scrape_interval: h.target.interval,
                        scrape_timeout: h.target.timeout,
                    }
                })
                .collect();
            active.sort_by(|a, b| a.scrape_url.cmp(&b.scrape_url));
            out.active.extend(active);
            out.dropped.extend(p.dropped.iter().map(|l| DroppedTarget {
                discovered_labels: l.clone(),
                scrape_pool: job.clone(),
            }));
            out.dropped_counts.insert(job.clone(), p.dropped_count);
        }
        out
    }

    /// The metadata of every active target.
    pub fn target_metadata(&self) -> Vec<TargetMetadata> {
        let pools = lock(&self.pools);
        let mut out = Vec::new();
        for (job, p) in pools.iter() {
            for h in p.loops.values() {
                out.push(TargetMetadata {
                    target: h.target.public.clone(),
                    scrape_pool: job.clone(),
                    metadata: lock(&h.status).metadata.clone(),
                });
            }
        }
        out
    }

    /// The self-metrics.
    pub fn metrics(&self) -> Vec<expfmt::MetricFamily> {
        self.ctx.metrics.families()
    }
}
