//! Merging several queriers into one (head + blocks, local + remote read).
//!
//! Series with the same labels from different queriers become one series
//! whose samples are the union by timestamp; where two sources hold a sample
//! at the same timestamp, the earlier querier in the list wins.

use std::cmp::Ordering;

use model::matcher::Matcher;
use model::{FloatHistogram, Histogram, Labels};

use crate::query::{
    BoxedSeries, LabelHints, Querier, SampleIterator, SelectHints, Series, SeriesSet, StorageError,
    ValueType, Warnings, apply_limit,
};
use crate::vec::ErrorSeriesSet;

/// A querier over the union of several queriers.
pub struct MergeQuerier<'a> {
    queriers: Vec<Box<dyn Querier + 'a>>,
}

impl<'a> MergeQuerier<'a> {
    /// Merges `queriers`; earlier ones win on duplicate timestamps.
    pub fn new(queriers: Vec<Box<dyn Querier + 'a>>) -> MergeQuerier<'a> {
        MergeQuerier { queriers }
    }
}

impl Querier for MergeQuerier<'_> {
    fn select(
        &self,
        sorted: bool,
        hints: Option<&SelectHints>,
        matchers: &[Matcher],
    ) -> Box<dyn SeriesSet + '_> {
        match self.queriers.len() {
            0 => Box::new(crate::vec::ListSeriesSet::new(Vec::new())),
            1 => self.queriers[0].select(sorted, hints, matchers),
            _ => {
                // Merging needs every input sorted, whatever the caller asked.
                let sets = self
                    .queriers
                    .iter()
                    .map(|q| q.select(true, hints, matchers))
                    .collect();
                match MergeSeriesSet::new(sets) {
                    Ok(s) => Box::new(s),
                    Err(e) => Box::new(ErrorSeriesSet(Some(e))),
                }
            }
        }
    }

    fn label_values(
        &self,
        name: &str,
        hints: &LabelHints,
        matchers: &[Matcher],
    ) -> Result<(Vec<String>, Warnings), StorageError> {
        union(
            self.queriers
                .iter()
                .map(|q| q.label_values(name, hints, matchers)),
            hints.limit,
        )
    }

    fn label_names(
        &self,
        hints: &LabelHints,
        matchers: &[Matcher],
    ) -> Result<(Vec<String>, Warnings), StorageError> {
        union(
            self.queriers.iter().map(|q| q.label_names(hints, matchers)),
            hints.limit,
        )
    }
}

fn union(
    parts: impl Iterator<Item = Result<(Vec<String>, Warnings), StorageError>>,
    limit: usize,
) -> Result<(Vec<String>, Warnings), StorageError> {
    let mut all = Vec::new();
    let mut warnings = Vec::new();
    for p in parts {
        let (v, w) = p?;
        all.extend(v);
        warnings.extend(w);
    }
    all.sort_unstable();
    all.dedup();
    Ok((apply_limit(all, limit), warnings))
}

/// A k-way merge of sorted series sets.
pub struct MergeSeriesSet<'a> {
    sets: Vec<Box<dyn SeriesSet + 'a>>,
    /// The head of each set (None once exhausted).
    heads: Vec<Option<BoxedSeries>>,
}

impl<'a> MergeSeriesSet<'a> {
    /// Merges `sets`, each of which must be sorted by labels.
    pub fn new(mut sets: Vec<Box<dyn SeriesSet + 'a>>) -> Result<MergeSeriesSet<'a>, StorageError> {
        let mut heads = Vec::with_capacity(sets.len());
        for s in &mut sets {
            heads.push(s.next().transpose()?);
        }
        Ok(MergeSeriesSet { sets, heads })
    }
}

impl SeriesSet for MergeSeriesSet<'_> {
    fn next(&mut self) -> Option<Result<BoxedSeries, StorageError>> {
        let min: Labels = self
            .heads
            .iter()
            .flatten()
            .map(|s| s.labels())
            .min_by(|a, b| a.cmp(b))?
            .clone();
        let mut parts = Vec::new();
        for i in 0..self.heads.len() {
            if self.heads[i]
                .as_ref()
                .is_some_and(|s| s.labels().cmp(&min) == Ordering::Equal)
            {
                parts.extend(self.heads[i].take());
                match self.sets[i].next().transpose() {
                    Ok(next) => self.heads[i] = next,
                    Err(e) => return Some(Err(e)),
                }
            }
        }
        if parts.len() == 1 {
            return parts.pop().map(Ok);
        }
        Some(Ok(Box::new(MergedSeries { labels: min, parts })))
    }

    fn warnings(&self) -> Warnings {
        self.sets.iter().flat_map(|s| s.warnings()).collect()
    }
}

/// Several series with the same labels, read as one.
pub struct MergedSeries {
    labels: Labels,
    parts: Vec<BoxedSeries>,
}

impl Series for MergedSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }
    fn iterator(&self) -> Box<dyn SampleIterator + '_> {
        Box::new(MergeIterator::new(
            self.parts.iter().map(|p| p.iterator()).collect(),
        ))
    }
}

/// Merges sample iterators by timestamp, keeping one sample per timestamp
/// (from the earliest iterator in the list).
pub struct MergeIterator<'a> {
    its: Vec<Box<dyn SampleIterator + 'a>>,
    kinds: Vec<ValueType>,
    cur: Option<usize>,
    started: bool,
}

impl<'a> MergeIterator<'a> {
    /// Merges `its`.
    pub fn new(its: Vec<Box<dyn SampleIterator + 'a>>) -> MergeIterator<'a> {
        let kinds = vec![ValueType::None; its.len()];
        MergeIterator {
            its,
            kinds,
            cur: None,
            started: false,
        }
    }

    fn pick(&mut self) -> ValueType {
        self.cur = None;
        let mut best: Option<(i64, usize)> = None;
        for (i, k) in self.kinds.iter().enumerate() {
            if *k != ValueType::None {
                let t = self.its[i].at_t();
                if best.is_none_or(|(bt, _)| t < bt) {
                    best = Some((t, i));
                }
            }
        }
        match best {
            Some((_, i)) => {
                self.cur = Some(i);
                self.kinds[i]
            }
            None => ValueType::None,
        }
    }
}

impl SampleIterator for MergeIterator<'_> {
    fn next(&mut self) -> ValueType {
        if !self.started {
            self.started = true;
            for (it, k) in self.its.iter_mut().zip(&mut self.kinds) {
                *k = it.next();
            }
        } else {
            let Some(c) = self.cur else {
                return ValueType::None;
            };
            let t = self.its[c].at_t();
            for (it, k) in self.its.iter_mut().zip(&mut self.kinds) {
                if *k != ValueType::None && it.at_t() == t {
                    *k = it.next();
                }
            }
        }
        self.pick()
    }

    fn seek(&mut self, t: i64) -> ValueType {
        let first = !self.started;
        self.started = true;
        for (it, k) in self.its.iter_mut().zip(&mut self.kinds) {
            if first || *k != ValueType::None {
                *k = it.seek(t);
            }
        }
        self.pick()
    }

    fn at(&self) -> (i64, f64) {
        self.cur.map_or((i64::MIN, f64::NAN), |c| self.its[c].at())
    }

    fn at_histogram(&self, into: &mut Histogram) -> i64 {
        self.cur
            .map_or(i64::MIN, |c| self.its[c].at_histogram(into))
    }

    fn at_float_histogram(&self, into: &mut FloatHistogram) -> i64 {
        self.cur
            .map_or(i64::MIN, |c| self.its[c].at_float_histogram(into))
    }

    fn at_t(&self) -> i64 {
        self.cur.map_or(i64::MIN, |c| self.its[c].at_t())
    }

    fn at_st(&self) -> i64 {
        self.cur.map_or(0, |c| self.its[c].at_st())
    }

    fn err(&self) -> Option<StorageError> {
        self.its.iter().find_map(|it| it.err())
    }
}
