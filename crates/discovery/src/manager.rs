//! The discovery manager: runs each job's providers, merges their groups by
//! source and sends debounced snapshots of every job's groups.
//!
//! Like Prometheus's, a burst of updates becomes one snapshot per
//! [`ManagerOptions::debounce`] (5 s by default); when the receiver has not
//! taken the previous snapshot yet (the channel holds
//! [`SYNC_CHANNEL_CAPACITY`]), the next tick retries with a fresh one.
//! Reloading keeps the providers of jobs whose discovery configuration did
//! not change.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use crate::{PROVIDER_CHANNEL_CAPACITY, Provider, TargetGroup, TargetSets};

/// Capacity of the snapshot channel to the scrape manager: one pending
/// snapshot; newer ones wait for the next tick.
pub const SYNC_CHANNEL_CAPACITY: usize = 1;

/// Manager knobs.
#[derive(Clone, Debug)]
pub struct ManagerOptions {
    /// Minimum time between snapshots.
    pub debounce: Duration,
}

impl Default for ManagerOptions {
    fn default() -> ManagerOptions {
        ManagerOptions {
            debounce: Duration::from_secs(5),
        }
    }
}

#[derive(Default)]
struct JobGroups {
    generation: u64,
    /// (provider index, source) → group.
    groups: BTreeMap<(usize, String), TargetGroup>,
}

#[derive(Default)]
struct State {
    jobs: BTreeMap<String, JobGroups>,
}

struct RunningJob {
    config: config::discovery::Discovery,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for RunningJob {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Runs providers and publishes merged target groups. Dropping it stops
/// every provider.
pub struct Manager {
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    running: BTreeMap<String, RunningJob>,
    next_generation: u64,
    sender: JoinHandle<()>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl Manager {
    /// A manager sending snapshots to the returned receiver. Must be called
    /// inside a tokio runtime.
    pub fn new(options: ManagerOptions) -> (Manager, mpsc::Receiver<TargetSets>) {
        let (tx, rx) = mpsc::channel(SYNC_CHANNEL_CAPACITY);
        let state = Arc::new(Mutex::new(State::default()));
        let changed = Arc::new(Notify::new());
        let sender = tokio::spawn(send_loop(
            state.clone(),
            changed.clone(),
            tx,
            options.debounce,
        ));
        let m = Manager {
            state,
            changed,
            running: BTreeMap::new(),
            next_generation: 1,
            sender,
        };
        (m, rx)
    }

    /// Applies the scrape jobs of a configuration.
    pub fn apply_config(&mut self, cfg: &config::Config) {
        let jobs = cfg
            .scrape_configs
            .iter()
            .map(|sc| (sc.job_name.clone(), sc.discovery.clone()))
            .collect();
        self.apply(jobs);
    }

    /// Runs exactly these jobs: unchanged ones keep their providers, changed
    /// ones restart theirs, missing ones stop.
    pub fn apply(&mut self, jobs: BTreeMap<String, config::discovery::Discovery>) {
        let gone: Vec<String> = self
            .running
            .keys()
            .filter(|j| !jobs.contains_key(*j))
            .cloned()
            .collect();
        {
            let mut st = lock(&self.state);
            for j in &gone {
                st.jobs.remove(j);
            }
        }
        for j in gone {
            self.running.remove(&j);
        }
        for (job, d) in jobs {
            if self.running.get(&job).is_some_and(|r| r.config == d) {
                continue;
            }
            let providers = crate::providers_for(&d);
            self.start_job(job, d, providers);
        }
        self.changed.notify_one();
    }

    /// Runs `providers` for `job`, replacing what ran for it before.
    pub fn start_job(
        &mut self,
        job: String,
        config: config::discovery::Discovery,
        providers: Vec<Box<dyn Provider>>,
    ) {
        self.running.remove(&job);
        let generation = self.next_generation;
        self.next_generation += 1;
        lock(&self.state).jobs.insert(
            job.clone(),
            JobGroups {
                generation,
                groups: BTreeMap::new(),
            },
        );
        let mut tasks = Vec::new();
        for (index, p) in providers.into_iter().enumerate() {
            let (tx, mut rx) = mpsc::channel::<Vec<TargetGroup>>(PROVIDER_CHANNEL_CAPACITY);
            let name = p.name();
            tasks.push(tokio::spawn(p.run(tx)));
            let state = self.state.clone();
            let changed = self.changed.clone();
            let job = job.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(groups) = rx.recv().await {
                    tracing::debug!(job = %job, provider = name, groups = groups.len(), "discovery update");
                    let mut st = lock(&state);
                    let Some(jg) = st.jobs.get_mut(&job).filter(|j| j.generation == generation)
                    else {
                        return;
                    };
                    for g in groups {
                        jg.groups.insert((index, g.source.clone()), g);
                    }
                    drop(st);
                    changed.notify_one();
                }
            }));
        }
        self.running.insert(job, RunningJob { config, tasks });
        self.changed.notify_one();
    }

    /// The current merged groups (what the next snapshot will contain).
    pub fn snapshot(&self) -> TargetSets {
        snapshot(&lock(&self.state))
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.sender.abort();
    }
}

fn snapshot(st: &State) -> TargetSets {
    st.jobs
        .iter()
        .map(|(job, jg)| (job.clone(), jg.groups.values().cloned().collect()))
        .collect()
}

async fn send_loop(
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    tx: mpsc::Sender<TargetSets>,
    debounce: Duration,
) {
    loop {
        tokio::select! {
            _ = changed.notified() => {}
            _ = tx.closed() => return,
        }
        loop {
            tokio::time::sleep(debounce).await;
            let snap = snapshot(&lock(&state));
            match tx.try_send(snap) {
                Ok(()) => break,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::debug!("discovery receiver busy, retrying next tick");
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        }
    }
}
