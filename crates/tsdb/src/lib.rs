//! Ember's time-series database, in Prometheus's on-disk formats.
//!
//! Owns the chunk encodings ([`chunkenc`]: XOR floats, native histograms),
//! the head-chunk files (`chunks_head/`, [`chunks`]), the write-ahead log
//! ([`wal`]) and its record encodings ([`record`]), the in-memory
//! [`head`] (series, postings, appender, querier, replay, truncation,
//! exemplars, self-metrics), the block [`index`] file (format v2), blocks
//! ([`block`]), their compaction ([`compact`]) and the database over all
//! of it ([`db`]: head plus blocks, retention, deletion, out-of-order
//! blocks, the directory lock).
//!
//! Synchronous: callers on an async runtime use `spawn_blocking`. Knows
//! nothing of scraping, PromQL or HTTP; it is reached through the `storage`
//! seams.

pub mod block;
pub mod chunkenc;
pub mod chunks;
pub mod compact;
pub mod db;
pub mod head;
pub mod index;
pub mod record;
pub mod wal;

pub use db::{Db, DbOptions};
pub use head::{Head, HeadOptions};
