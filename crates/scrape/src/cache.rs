//! The scrape cache of one loop: raw series bytes (`Sample::series`) to the
//! storage reference, so that a steady target does no label work per
//! sample; the series dropped by relabeling; the per-family metadata; and
//! staleness tracking.
//!
//! Memory: an entry is 40 bytes in a vector plus a 4-byte index in a hash
//! table (~50 bytes a series at the table's usual load), whatever the series
//! looks like. Keys are not the raw bytes but a 128-bit keyed hash of them
//! (two SipHash-1-3 with random keys per cache): a false match needs a
//! collision of both among the few thousand series of one target, about
//! 2^-100 per cache. Entries do
//! not keep the final labels: the storage holds them, and a cached series
//! is appended by reference only ([`storage::Appender::append_by_ref`]).
//! When the storage no longer knows a reference, or labels are needed
//! (exemplars), the caller builds them again from the scraped entry, which
//! is what a cache miss does anyway.
//!
//! Staleness: every entry remembers the iteration (scrape) in which it was
//! last tracked (appended without an explicit timestamp, or with one under
//! `track_timestamps_staleness`) and the one before. A series tracked in the
//! previous iteration and not in this one gets a stale marker. Iterations
//! are `u32`: at one scrape a second they last 136 years.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::num::NonZeroU64;

use hashbrown::HashTable;

use model::{Metadata, MetricType};
use storage::SeriesRef;

/// The hash of a raw series (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Key(u64, u64);

impl std::hash::Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Already uniformly random: the first word is the table hash.
        state.write_u64(self.0);
    }
}

/// Passes a [`Key`]'s first word through.
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not reached for `Key`; a plain FNV-1a keeps it a valid hasher.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type KeyMap<V> = HashMap<Key, V, BuildHasherDefault<KeyHasher>>;

/// One cached series.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// The raw series' key (the table holds only indices into `entries`).
    key: Key,
    /// The storage reference from the last append.
    series_ref: Option<NonZeroU64>,
    /// The iteration in which the series was last seen.
    last_iter: u32,
    /// The iteration in which it was last tracked for staleness.
    tracked: u32,
    /// The value of `tracked` before that.
    tracked_before: u32,
}

impl Entry {
    /// The storage reference from the last append.
    pub(crate) fn series_ref(&self) -> Option<SeriesRef> {
        self.series_ref.map(|r| SeriesRef(r.get()))
    }

    /// Records the reference the storage returned.
    pub(crate) fn set_ref(&mut self, r: Option<SeriesRef>) {
        self.series_ref = r.and_then(|r| NonZeroU64::new(r.0));
    }
}

#[derive(Clone, Debug)]
struct MetaEntry {
    meta: Metadata,
    last_iter: u32,
}

/// Per-loop cache.
#[derive(Debug)]
pub(crate) struct Cache {
    /// Random keys of the two halves of [`Key`].
    hashers: [RandomState; 2],
    /// Indices into `entries`, hashed by their key's first word.
    series: HashTable<u32>,
    entries: Vec<Entry>,
    dropped: KeyMap<u32>,
    metadata: BTreeMap<String, MetaEntry>,
    /// Whether `metadata` changed since the last [`Cache::take_metadata_change`].
    metadata_changed: bool,
    /// The current iteration (starts at 1; 0 means "never").
    iter: u32,
    /// Entries after the last successful scrape.
    successful_count: usize,
    /// Flushes forced by growth during failing scrapes.
    pub(crate) forced_flushes: u64,
}

impl Default for Cache {
    fn default() -> Cache {
        Cache {
            hashers: [RandomState::new(), RandomState::new()],
            series: HashTable::new(),
            entries: Vec::new(),
            dropped: KeyMap::default(),
            metadata: BTreeMap::new(),
            metadata_changed: false,
            iter: 1,
            successful_count: 0,
            forced_flushes: 0,
        }
    }
}

impl Cache {
    pub(crate) fn iter(&self) -> u32 {
        self.iter
    }

    /// The key of raw series bytes.
    pub(crate) fn key(&self, series: &[u8]) -> Key {
        Key(
            self.hashers[0].hash_one(series),
            self.hashers[1].hash_one(series),
        )
    }

    /// Whether `key` is known to be dropped by relabeling (and marks it
    /// seen).
    pub(crate) fn is_dropped(&mut self, key: &Key) -> bool {
        match self.dropped.get_mut(key) {
            Some(it) => {
                *it = self.iter;
                true
            }
            None => false,
        }
    }

    pub(crate) fn add_dropped(&mut self, key: Key) {
        self.dropped.insert(key, self.iter);
    }

    /// The index of the entry for `key` and whether it was already seen in
    /// this iteration; marks it seen.
    pub(crate) fn lookup(&mut self, key: &Key) -> Option<(usize, bool)> {
        let entries = &self.entries;
        let i = *self
            .series
            .find(key.0, |&i| entries[i as usize].key == *key)? as usize;
        let e = &mut self.entries[i];
        let already = e.last_iter == self.iter;
        e.last_iter = self.iter;
        Some((i, already))
    }

    /// The entry at `i` (from [`Cache::lookup`] or [`Cache::add`]).
    pub(crate) fn entry(&mut self, i: usize) -> &mut Entry {
        &mut self.entries[i]
    }

    /// Adds a new series, seen in this iteration; returns its index.
    pub(crate) fn add(&mut self, key: Key, series_ref: Option<SeriesRef>) -> usize {
        let i = self.entries.len();
        self.entries.push(Entry {
            key,
            series_ref: series_ref.and_then(|r| NonZeroU64::new(r.0)),
            last_iter: self.iter,
            tracked: 0,
            tracked_before: 0,
        });
        let entries = &self.entries;
        self.series
            .insert_unique(key.0, i as u32, |&j| entries[j as usize].key.0);
        i
    }

    /// Marks `e` as exposed in this iteration (it will get a stale marker
    /// when it disappears).
    pub(crate) fn track(iter: u32, e: &mut Entry) {
        if e.tracked != iter {
            e.tracked_before = e.tracked;
            e.tracked = iter;
        }
    }

    /// Calls `f` for each series exposed in the previous iteration but not
    /// in this one. With `failed`, the current iteration counts as empty
    /// (the scrape was discarded): every series of the previous iteration is
    /// stale, and nothing tracked now survives into the next iteration.
    pub(crate) fn for_each_stale(&mut self, failed: bool, mut f: impl FnMut(&mut Entry)) {
        let prev = self.iter - 1;
        for e in &mut self.entries {
            if failed {
                let was_prev =
                    e.tracked == prev || (e.tracked == self.iter && e.tracked_before == prev);
                if e.tracked == self.iter {
                    e.tracked = e.tracked_before;
                }
                if was_prev && prev != 0 {
                    f(e);
                }
            } else if e.tracked == prev && prev != 0 {
                f(e);
            }
        }
    }

    /// Ends an iteration. `flush` (after a successful scrape) drops the
    /// entries not seen in it; a cache that grew past twice its size after
    /// the last success (plus 1000) is flushed anyway.
    pub(crate) fn iter_done(&mut self, flush: bool) {
        let count = self.series.len() + self.dropped.len() + self.metadata.len();
        let mut flush = flush;
        if flush {
            self.successful_count = count;
        } else if count > self.successful_count * 2 + 1000 {
            flush = true;
            self.forced_flushes += 1;
        }
        if flush {
            let iter = self.iter;
            // A steady target saw every entry: nothing moves.
            if self.entries.iter().any(|e| e.last_iter != iter) {
                self.entries.retain(|e| e.last_iter == iter);
                let entries = &self.entries;
                let hash = |&j: &u32| entries[j as usize].key.0;
                self.series.clear();
                if self.series.capacity() > 2 * entries.len() + 64 {
                    self.series.shrink_to(entries.len(), hash);
                }
                for (i, e) in entries.iter().enumerate() {
                    self.series.insert_unique(e.key.0, i as u32, hash);
                }
            }
            if self.entries.capacity() > self.entries.len() + self.entries.len() / 4 + 16 {
                self.entries.shrink_to_fit();
            }
            self.dropped.retain(|_, it| *it == iter);
            let before = self.metadata.len();
            self.metadata
                .retain(|_, m| m.last_iter.saturating_add(10) >= iter);
            self.metadata_changed |= before != self.metadata.len();
        }
        self.iter = self.iter.wrapping_add(1).max(1);
    }

    /// Records a family's type (`TYPE`).
    pub(crate) fn set_type(&mut self, family: &str, kind: MetricType) {
        self.meta_mut(family, |m| {
            let changed = m.kind != kind;
            m.kind = kind;
            changed
        });
    }

    /// Records a family's help text.
    pub(crate) fn set_help(&mut self, family: &str, help: &str) {
        self.meta_mut(family, |m| {
            if m.help == help {
                return false;
            }
            m.help.clear();
            m.help.push_str(help);
            true
        });
    }

    /// Records a family's unit.
    pub(crate) fn set_unit(&mut self, family: &str, unit: &str) {
        self.meta_mut(family, |m| {
            if m.unit == unit {
                return false;
            }
            m.unit.clear();
            m.unit.push_str(unit);
            true
        });
    }

    fn meta_mut(&mut self, family: &str, f: impl FnOnce(&mut Metadata) -> bool) {
        let iter = self.iter;
        // Fast path: a known family allocates nothing.
        if let Some(m) = self.metadata.get_mut(family) {
            m.last_iter = iter;
            self.metadata_changed |= f(&mut m.meta);
            return;
        }
        let mut meta = Metadata {
            kind: MetricType::Unknown,
            ..Metadata::default()
        };
        f(&mut meta);
        self.metadata.insert(
            family.to_owned(),
            MetaEntry {
                meta,
                last_iter: iter,
            },
        );
        self.metadata_changed = true;
    }

    /// The metadata of a family.
    pub(crate) fn metadata(&self, family: &str) -> Option<&Metadata> {
        self.metadata.get(family).map(|m| &m.meta)
    }

    /// The metadata of every family if it changed since the last call.
    pub(crate) fn take_metadata_change(&mut self) -> Option<BTreeMap<String, Metadata>> {
        if !std::mem::take(&mut self.metadata_changed) {
            return None;
        }
        Some(
            self.metadata
                .iter()
                .map(|(k, m)| (k.clone(), m.meta.clone()))
                .collect(),
        )
    }
}

/// Whether a series named `name` belongs to the family `family` of type
/// `kind` (Prometheus's `isSeriesPartOfFamily`).
pub(crate) fn is_series_part_of_family(name: &str, family: &str, kind: MetricType) -> bool {
    if !name.starts_with(family) {
        return false;
    }
    let strip = |s: &'static [&'static str]| {
        s.iter()
            .find_map(|suf| name.strip_suffix(suf))
            .unwrap_or(name)
    };
    match kind {
        MetricType::Counter => {
            family.strip_suffix("_total").unwrap_or(family) == strip(&["_total"])
        }
        MetricType::Histogram => family == strip(&["_bucket", "_sum", "_count"]),
        MetricType::GaugeHistogram => family == strip(&["_bucket", "_gsum", "_gcount"]),
        MetricType::Summary => family == strip(&["_sum", "_count"]),
        MetricType::Info => family.strip_suffix("_info").unwrap_or(family) == strip(&["_info"]),
        _ => family == name,
    }
}

#[cfg(test)]
mod tests {
    use storage::SeriesRef;

    use super::{Cache, Entry};

    /// The per-series cost the module docs promise: a 40-byte entry and a
    /// 4-byte index.
    #[test]
    fn an_entry_is_forty_bytes() {
        assert_eq!(std::mem::size_of::<Entry>(), 40);
    }

    /// Entries survive flushes under the right key and unseen ones go,
    /// with the table rebuilt over the compacted entries.
    #[test]
    fn flush_keeps_seen_entries_findable() {
        let mut c = Cache::default();
        let keys: Vec<_> = (0..3000u64).map(|i| c.key(&i.to_le_bytes())).collect();
        for (i, k) in keys.iter().enumerate() {
            assert!(c.lookup(k).is_none());
            c.add(*k, Some(SeriesRef(i as u64 + 1)));
        }
        c.iter_done(true);
        // Next scrape sees only the odd ones.
        for k in keys.iter().skip(1).step_by(2) {
            assert!(c.lookup(k).is_some());
        }
        c.iter_done(true);
        for (i, k) in keys.iter().enumerate() {
            match c.lookup(k) {
                Some((e, _)) => {
                    assert_eq!(i % 2, 1);
                    assert_eq!(c.entry(e).series_ref(), Some(SeriesRef(i as u64 + 1)));
                }
                None => assert_eq!(i % 2, 0),
            }
        }
        assert!(c.entries.capacity() <= 1500 + 1500 / 4 + 16);
    }
}
