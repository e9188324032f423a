//! Deletions in the head (Prometheus's `Head.Delete`): the head does not
//! rewrite its chunks; it logs a tombstones record to the WAL so the
//! deletion survives a restart, and the database hides the deleted
//! intervals from queries and leaves them out of the blocks it cuts.
//! [`Head::take_replayed_tombstones`] hands the deletions found in the WAL
//! on open to the database.

use model::Labels;
use model::matcher::Matcher;

use super::{Error, Head, lock, read};
use crate::record::{self, RefTombstone};

impl Head {
    /// The references and labels of the series matching `matchers`.
    pub fn matching_series(&self, matchers: &[Matcher]) -> Vec<(u64, Labels)> {
        let p = read(&self.postings);
        let refs = p.for_matchers(matchers);
        refs.into_iter()
            .filter_map(|r| self.series.get_by_ref(r).map(|s| (r, p.labels(&s.labels))))
            .collect()
    }

    /// Logs deletions to the WAL (one tombstones record), under the commit
    /// lock so they are ordered with the samples around them.
    pub fn log_tombstones(&self, stones: &[RefTombstone]) -> Result<(), Error> {
        if stones.is_empty() {
            return Ok(());
        }
        let mut rec = Vec::with_capacity(1 + 12 * stones.len());
        record::encode_tombstones(stones, &mut rec);
        let mut cs = lock(&self.commit);
        if let Some(wal) = cs.wal.as_mut() {
            wal.log(&[&rec])?;
        }
        Ok(())
    }

    /// The deletions read from the WAL when the head opened (series
    /// references resolved); empty after the first call.
    pub fn take_replayed_tombstones(&self) -> Vec<(Labels, RefTombstone)> {
        let stones = std::mem::take(&mut *lock(&self.replayed_tombstones));
        let p = read(&self.postings);
        stones
            .into_iter()
            .filter_map(|t| {
                self.series
                    .get_by_ref(t.series.0)
                    .map(|s| (p.labels(&s.labels), t))
            })
            .collect()
    }
}
