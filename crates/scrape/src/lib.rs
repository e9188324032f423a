//! Scraping: the [`Manager`] with one pool per job and one loop per
//! target.
//!
//! Owns everything between discovered target groups and appended samples:
//! building targets from labels (Prometheus's `PopulateLabels`, in
//! [`target`]), the per-target phase inside the interval, the HTTP request
//! (`Accept` from `scrape_protocols`, gzip, timeout, body size bounded while
//! streaming), parsing with `expfmt`, the scrape cache, `honor_labels`,
//! `honor_timestamps`, metric relabeling, the sample and label limits,
//! staleness markers, the report series (`up`, `scrape_duration_seconds`,
//! ...), per-target health and metadata for the APIs, and the diff of pools
//! on reload.
//!
//! Must not know how samples are stored: it appends through
//! `storage::Appendable` and never depends on `tsdb`. Discovery mechanisms
//! live in `discovery`; wiring (discovery → [`Manager::run`], config
//! reloads → both managers) is the binary's.
//!
//! Async on tokio at the edges; the parse/relabel/append work of a scrape
//! runs in `spawn_blocking`, so a slow or hostile target delays only its
//! own loop. Channels: the loops' stop signals are `watch` (one value);
//! discovery's snapshots arrive through its bounded channel.
//!
//! Deliberate differences from Prometheus: a scrape that fails after
//! parsing started (parse error, sample or label limit) writes stale
//! markers for every series of the previous scrape, where Prometheus skips
//! those it had already seen in the failed body; a removed job's targets get
//! their stale markers at once; [`Options::body_size_ceiling`] bounds every
//! body even when `body_size_limit` is unset.

mod append;
mod buffers;
mod cache;
pub mod fetch;
mod manager;
pub mod metrics;
mod pool;
mod scrape_loop;
pub mod target;

pub use fetch::accept_header;
pub use manager::{DroppedTarget, Manager, TargetInfo, TargetMetadata, Targets};
pub use scrape_loop::Health;

/// Manager knobs that do not come from the configuration.
#[derive(Clone, Debug)]
pub struct Options {
    /// Mixed into every target's phase (see [`Options::offset_seed`]).
    pub offset_seed: u64,
    /// `User-Agent` of scrapes.
    pub user_agent: String,
    /// A body limit applied even when `body_size_limit` is unset, so that an
    /// endless body costs bounded memory (`None`: none).
    pub body_size_ceiling: Option<u64>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            offset_seed: 0,
            user_agent: format!("Ember/{}", env!("CARGO_PKG_VERSION")),
            body_size_ceiling: Some(1 << 30),
        }
    }
}

/// Errors of the scrape manager.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A pool could not be built (its HTTP client, typically).
    #[error("create scrape pool for job {job}: {message}")]
    Pool {
        /// The job.
        job: String,
        /// Why.
        message: String,
    },
    /// The configuration could not be applied.
    #[error("apply scrape config: {0}")]
    Config(String),
}
