//! Service discovery: where targets come from.
//!
//! Owns the [`Provider`] trait and its implementations — [`static_sd`]
//! (`static_configs`), [`file`] (`file_sd_configs`, polled: no inotify) and
//! [`http`] (`http_sd_configs`) — and the [`Manager`] that runs the
//! providers of every job, merges their [`TargetGroup`]s by source and hands
//! debounced snapshots ([`TargetSets`]) to whoever scrapes. Also owns
//! [`client`]: turning a configuration's HTTP client block into a
//! `reqwest::Client` (rustls on ring, auth, TLS), shared with `scrape`.
//!
//! A provider only discovers: it sends label sets (`__address__` plus
//! `__meta_*` labels) and knows nothing of relabeling, scraping or storage.
//! New mechanisms (DNS, Consul, Kubernetes, EC2) implement [`Provider`] and
//! add a case to [`providers_for`].
//!
//! Async on tokio. Every channel is bounded: providers send through
//! [`PROVIDER_CHANNEL_CAPACITY`]-sized channels, the manager's output has
//! [`SYNC_CHANNEL_CAPACITY`].

pub mod client;
pub mod file;
pub mod http;
mod manager;
pub mod static_sd;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use model::Labels;
use tokio::sync::mpsc;

pub use manager::{Manager, ManagerOptions, SYNC_CHANNEL_CAPACITY};

/// Capacity of the channel between one provider and the manager.
pub const PROVIDER_CHANNEL_CAPACITY: usize = 4;

/// The label holding a target's address.
pub const ADDRESS_LABEL: &str = "__address__";

/// A set of targets with common labels, as a provider discovered it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetGroup {
    /// Identifies the group within its provider (`file.json:0`, `0`, ...). A
    /// later group with the same source replaces it; one with no targets
    /// removes it.
    pub source: String,
    /// One label set per target (at least `__address__`).
    pub targets: Vec<Labels>,
    /// Labels every target of the group gets unless it has its own value.
    pub labels: Labels,
}

/// Target groups of every job: job name to its current groups.
pub type TargetSets = BTreeMap<String, Vec<TargetGroup>>;

/// A boxed future, as [`Provider::run`] returns.
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A discovery mechanism. `run` sends the full or changed groups whenever
/// they change, and returns when the receiver is gone (the manager dropped
/// it). Sending blocks when the manager is behind: the channel is bounded.
pub trait Provider: Send {
    /// The mechanism's name for logs (`static`, `file`, `http`).
    fn name(&self) -> &'static str;

    /// Runs until `updates` is closed.
    fn run(self: Box<Self>, updates: mpsc::Sender<Vec<TargetGroup>>) -> BoxFuture;
}

/// Errors of discovery (logged by the providers, which keep their last good
/// targets).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file_sd file could not be read or parsed.
    #[error("read file_sd file {path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// An HTTP SD request failed.
    #[error("fetch targets from {url}: {message}")]
    Http {
        /// The endpoint.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// An HTTP client could not be built from its configuration.
    #[error("build HTTP client: {0}")]
    Client(String),
}

/// The providers for one job's (or Alertmanager set's) discovery sections.
/// Mechanisms Ember does not run yet are skipped (the configuration names
/// them in its warnings).
pub fn providers_for(d: &config::discovery::Discovery) -> Vec<Box<dyn Provider>> {
    let mut out: Vec<Box<dyn Provider>> = Vec::new();
    if !d.static_configs.is_empty() {
        out.push(Box::new(static_sd::StaticProvider::new(&d.static_configs)));
    }
    for f in &d.file_sd_configs {
        out.push(Box::new(file::FileProvider::new(
            f,
            file::FileOptions::default(),
        )));
    }
    for h in &d.http_sd_configs {
        match http::HttpProvider::new(h) {
            Ok(p) => out.push(Box::new(p)),
            Err(e) => tracing::error!(url = %h.url, err = %e, "cannot start http_sd provider"),
        }
    }
    out
}

/// Converts a configuration-style group (`targets` as addresses, `labels`
/// as a map) into a [`TargetGroup`], adding `extra` labels to the group.
pub(crate) fn group_from_static(
    source: String,
    g: &config::discovery::StaticConfig,
    extra: &[(&str, &str)],
) -> TargetGroup {
    let targets = g
        .targets
        .iter()
        .map(|t| Labels::from_pairs([(ADDRESS_LABEL, t.as_str())]))
        .collect();
    let mut b = model::LabelsBuilder::new();
    for (k, v) in &g.labels {
        b.set(k, v);
    }
    for (k, v) in extra {
        b.set(k, v);
    }
    TargetGroup {
        source,
        targets,
        labels: b.labels(),
    }
}
