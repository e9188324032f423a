//! Exemplars in a bounded ring (Prometheus's `CircularExemplarStorage`).
//!
//! Entries live in one fixed-size ring; each series keeps the positions of
//! its oldest and newest entries and every entry links to the next entry of
//! the same series, so a series' exemplars are walked in time order without
//! scanning the ring. When the ring is full the oldest entry is
//! overwritten and unlinked from its series. An exemplar equal to the
//! series' newest one is a duplicate; one older than it (by timestamp, then
//! value, then label hash, as Prometheus orders them) is out of order.

use std::collections::HashMap;

use model::Labels;
use model::matcher::Matcher;
use storage::{AppendError, Exemplar};

/// Maximum total length (in characters) of an exemplar's label names and
/// values, as OpenMetrics allows.
pub const EXEMPLAR_MAX_LABEL_SET_LENGTH: usize = 128;

const NONE: usize = usize::MAX;

struct Entry {
    exemplar: Exemplar,
    series: Labels,
    /// Next entry of the same series, or [`NONE`].
    next: usize,
}

#[derive(Clone, Copy)]
struct SeriesIndex {
    oldest: usize,
    newest: usize,
}

/// The exemplars of one series.
#[derive(Clone, Debug, PartialEq)]
pub struct ExemplarSeries {
    /// The series.
    pub labels: Labels,
    /// Its exemplars in the queried range, oldest first.
    pub exemplars: Vec<Exemplar>,
}

/// The bounded exemplar store of the head.
pub struct ExemplarStorage {
    entries: Vec<Entry>,
    capacity: usize,
    /// Where the next entry goes once the ring is full.
    next: usize,
    index: HashMap<Labels, SeriesIndex>,
    /// Exemplars added since start.
    pub(crate) appended: u64,
    /// Exemplars refused as out of order.
    pub(crate) out_of_order: u64,
    /// Newest exemplar timestamp (ms), `i64::MIN` when none.
    pub(crate) last_ts: i64,
}

impl std::fmt::Debug for ExemplarStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExemplarStorage")
            .field("len", &self.entries.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

fn order_key(e: &Exemplar) -> (i64, f64, u64) {
    (e.timestamp.0, e.value, e.labels.stable_hash())
}

impl ExemplarStorage {
    /// A store of `capacity` exemplars (0 disables it).
    pub fn new(capacity: usize) -> ExemplarStorage {
        ExemplarStorage {
            entries: Vec::new(),
            capacity,
            next: 0,
            index: HashMap::new(),
            appended: 0,
            out_of_order: 0,
            last_ts: i64::MIN,
        }
    }

    /// Exemplars stored.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none are stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The ring's size.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Series with at least one exemplar.
    pub fn num_series(&self) -> usize {
        self.index.len()
    }

    /// Checks an exemplar for `series` without storing it.
    pub fn validate(&self, series: &Labels, e: &Exemplar) -> Result<(), AppendError> {
        if self.capacity == 0 {
            return Err(AppendError::ExemplarsDisabled);
        }
        let len: usize = e
            .labels
            .iter()
            .map(|(n, v)| n.chars().count() + v.chars().count())
            .sum();
        if len > EXEMPLAR_MAX_LABEL_SET_LENGTH {
            return Err(AppendError::ExemplarLabelLength);
        }
        let Some(idx) = self.index.get(series) else {
            return Ok(());
        };
        let Some(newest) = self.entries.get(idx.newest) else {
            return Ok(());
        };
        if newest.exemplar == *e {
            return Err(AppendError::DuplicateExemplar);
        }
        let (a, b) = (order_key(e), order_key(&newest.exemplar));
        if a.0 < b.0 || (a.0 == b.0 && (a.1 < b.1 || (a.1 == b.1 && a.2 < b.2))) {
            return Err(AppendError::OutOfOrderExemplar);
        }
        Ok(())
    }

    /// Stores an exemplar for `series`, evicting the oldest one when full.
    pub fn add(&mut self, series: &Labels, e: &Exemplar) -> Result<(), AppendError> {
        if let Err(err) = self.validate(series, e) {
            if err == AppendError::OutOfOrderExemplar {
                self.out_of_order += 1;
            }
            return Err(err);
        }
        let entry = Entry {
            exemplar: e.clone(),
            series: series.clone(),
            next: NONE,
        };
        let pos = if self.entries.len() < self.capacity {
            self.entries.push(entry);
            self.entries.len() - 1
        } else {
            let pos = self.next;
            self.evict(pos);
            self.entries[pos] = entry;
            pos
        };
        self.next = (pos + 1) % self.capacity;
        match self.index.get_mut(series) {
            Some(idx) => {
                let prev = idx.newest;
                idx.newest = pos;
                if let Some(p) = self.entries.get_mut(prev) {
                    p.next = pos;
                }
            }
            None => {
                self.index.insert(
                    series.clone(),
                    SeriesIndex {
                        oldest: pos,
                        newest: pos,
                    },
                );
            }
        }
        self.appended += 1;
        self.last_ts = self.last_ts.max(e.timestamp.0);
        Ok(())
    }

    /// Unlinks the entry at `pos` (the oldest of its series).
    fn evict(&mut self, pos: usize) {
        let Some(old) = self.entries.get(pos) else {
            return;
        };
        let next = old.next;
        let series = old.series.clone();
        if let Some(idx) = self.index.get_mut(&series) {
            if next == NONE {
                self.index.remove(&series);
            } else {
                idx.oldest = next;
            }
        }
    }

    /// Exemplars in `[start, end]` of series matching any of the matcher
    /// sets, sorted by series labels.
    pub fn select(
        &self,
        start: i64,
        end: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> Vec<ExemplarSeries> {
        let mut out = Vec::new();
        for (labels, idx) in &self.index {
            if !matcher_sets
                .iter()
                .any(|ms| ms.iter().all(|m| m.matches_labels(labels)))
            {
                continue;
            }
            let mut exemplars = Vec::new();
            let mut pos = idx.oldest;
            while let Some(e) = self.entries.get(pos) {
                let t = e.exemplar.timestamp.0;
                if t > end {
                    break;
                }
                if t >= start {
                    exemplars.push(e.exemplar.clone());
                }
                pos = e.next;
            }
            if !exemplars.is_empty() {
                out.push(ExemplarSeries {
                    labels: labels.clone(),
                    exemplars,
                });
            }
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::Timestamp;

    fn ex(t: i64, v: f64) -> Exemplar {
        Exemplar {
            labels: Labels::from_pairs([("trace_id", format!("t{t}"))]),
            value: v,
            timestamp: Timestamp(t),
        }
    }

    #[test]
    fn ring_and_errors() {
        let a = Labels::from_pairs([("__name__", "a")]);
        let b = Labels::from_pairs([("__name__", "b")]);
        let mut s = ExemplarStorage::new(3);
        assert_eq!(s.add(&a, &ex(1, 1.0)), Ok(()));
        assert_eq!(s.add(&a, &ex(1, 1.0)), Err(AppendError::DuplicateExemplar));
        assert_eq!(s.add(&a, &ex(0, 1.0)), Err(AppendError::OutOfOrderExemplar));
        assert_eq!(s.add(&b, &ex(2, 1.0)), Ok(()));
        assert_eq!(s.add(&a, &ex(3, 1.0)), Ok(()));
        assert_eq!(s.add(&b, &ex(4, 1.0)), Ok(())); // evicts a@1
        let all = [
            vec![Matcher::equal("__name__", "a")],
            vec![Matcher::equal("__name__", "b")],
        ];
        let got = s.select(0, 10, &all);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].exemplars, [ex(3, 1.0)]);
        assert_eq!(got[1].exemplars, [ex(2, 1.0), ex(4, 1.0)]);
        assert_eq!(s.select(3, 3, &all)[0].exemplars, [ex(3, 1.0)]);
        let long = Exemplar {
            labels: Labels::from_pairs([("trace_id", "x".repeat(130))]),
            value: 1.0,
            timestamp: Timestamp(9),
        };
        assert_eq!(s.add(&a, &long), Err(AppendError::ExemplarLabelLength));
        assert_eq!(
            ExemplarStorage::new(0).add(&a, &ex(1, 1.0)),
            Err(AppendError::ExemplarsDisabled)
        );
    }
}
