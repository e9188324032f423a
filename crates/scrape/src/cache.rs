//! The scrape cache of one loop: raw series bytes (`Sample::series`) to the
//! final labels and storage reference, so that a steady target does no label
//! work per sample; the series dropped by relabeling; the per-family
//! metadata; and staleness tracking.
//!
//! Staleness: every entry remembers the iteration (scrape) in which it was
//! last tracked (appended without an explicit timestamp, or with one under
//! `track_timestamps_staleness`) and the one before. A series tracked in the
//! previous iteration and not in this one gets a stale marker.

use std::collections::{BTreeMap, HashMap};

use model::{Labels, Metadata, MetricType};
use storage::SeriesRef;

/// One cached series.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// The storage reference from the last append.
    pub(crate) series_ref: Option<SeriesRef>,
    /// Final labels (target labels merged, metric relabeling applied).
    pub(crate) labels: Labels,
    /// The iteration in which the series was last seen.
    pub(crate) last_iter: u64,
    /// The iteration in which it was last tracked for staleness.
    tracked: u64,
    /// The value of `tracked` before that.
    tracked_before: u64,
}

#[derive(Clone, Debug)]
struct MetaEntry {
    meta: Metadata,
    last_iter: u64,
}

/// Per-loop cache.
#[derive(Debug)]
pub(crate) struct Cache {
    /// Raw series bytes to an index into `entries`.
    series: HashMap<Box<[u8]>, usize>,
    entries: Vec<Entry>,
    dropped: HashMap<Box<[u8]>, u64>,
    metadata: BTreeMap<String, MetaEntry>,
    /// Whether `metadata` changed since the last [`Cache::take_metadata_change`].
    metadata_changed: bool,
    /// The current iteration (starts at 1; 0 means "never").
    iter: u64,
    /// Entries after the last successful scrape.
    successful_count: usize,
    /// Flushes forced by growth during failing scrapes.
    pub(crate) forced_flushes: u64,
}

impl Default for Cache {
    fn default() -> Cache {
        Cache {
            series: HashMap::new(),
            entries: Vec::new(),
            dropped: HashMap::new(),
            metadata: BTreeMap::new(),
            metadata_changed: false,
            iter: 1,
            successful_count: 0,
            forced_flushes: 0,
        }
    }
}

impl Cache {
    pub(crate) fn iter(&self) -> u64 {
        self.iter
    }

    /// Whether `key` is known to be dropped by relabeling (and marks it
    /// seen).
    pub(crate) fn is_dropped(&mut self, key: &[u8]) -> bool {
        match self.dropped.get_mut(key) {
            Some(it) => {
                *it = self.iter;
                true
            }
            None => false,
        }
    }

    pub(crate) fn add_dropped(&mut self, key: &[u8]) {
        self.dropped.insert(key.into(), self.iter);
    }

    /// The index of the entry for `key` and whether it was already seen in
    /// this iteration; marks it seen.
    pub(crate) fn lookup(&mut self, key: &[u8]) -> Option<(usize, bool)> {
        let i = *self.series.get(key)?;
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
    pub(crate) fn add(
        &mut self,
        key: &[u8],
        series_ref: Option<SeriesRef>,
        labels: Labels,
    ) -> usize {
        let i = self.entries.len();
        self.entries.push(Entry {
            series_ref,
            labels,
            last_iter: self.iter,
            tracked: 0,
            tracked_before: 0,
        });
        self.series.insert(key.into(), i);
        i
    }

    /// Marks `e` as exposed in this iteration (it will get a stale marker
    /// when it disappears).
    pub(crate) fn track(iter: u64, e: &mut Entry) {
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
            let mut keep = Vec::with_capacity(self.entries.len());
            let old = std::mem::take(&mut self.entries);
            let mut new_index = vec![usize::MAX; old.len()];
            for (i, e) in old.into_iter().enumerate() {
                if e.last_iter == iter {
                    new_index[i] = keep.len();
                    keep.push(e);
                }
            }
            self.entries = keep;
            self.series.retain(|_, i| {
                *i = new_index[*i];
                *i != usize::MAX
            });
            self.dropped.retain(|_, it| *it == iter);
            let before = self.metadata.len();
            self.metadata.retain(|_, m| m.last_iter + 10 >= iter);
            self.metadata_changed |= before != self.metadata.len();
        }
        self.iter += 1;
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
