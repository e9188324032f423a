//! Series held in memory: a sorted list of samples per series.
//!
//! Used where samples arrive already materialised — remote read responses,
//! rule unit tests, the PromQL test runner's loads — and as the building
//! block of merged series.

use std::sync::Arc;

use model::{FloatHistogram, Histogram, Labels};

use crate::query::{BoxedSeries, SampleIterator, Series, SeriesSet, StorageError, ValueType};

/// One stored value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A float.
    Float(f64),
    /// An integer-count native histogram.
    Histogram(Arc<Histogram>),
    /// A float-count native histogram.
    FloatHistogram(Arc<FloatHistogram>),
}

/// A series whose samples live in a vector sorted by time.
#[derive(Clone, Debug, PartialEq)]
pub struct VecSeries {
    labels: Labels,
    samples: Arc<[(i64, Value)]>,
    /// Start timestamps aligned with `samples` (0 = unknown); empty when
    /// the series has none.
    start_timestamps: Arc<[i64]>,
}

impl VecSeries {
    /// A series; `samples` are sorted by time here (stable, so for equal
    /// timestamps the first given wins when iterating with dedup).
    pub fn new(labels: Labels, mut samples: Vec<(i64, Value)>) -> VecSeries {
        samples.sort_by_key(|(t, _)| *t);
        samples.dedup_by_key(|(t, _)| *t);
        VecSeries {
            labels,
            samples: samples.into(),
            start_timestamps: Arc::new([]),
        }
    }

    /// A series whose samples carry start timestamps (ms, 0 = unknown):
    /// `(t, start, value)`, sorted and deduplicated as in [`VecSeries::new`].
    pub fn with_start_timestamps(labels: Labels, mut samples: Vec<(i64, i64, Value)>) -> VecSeries {
        samples.sort_by_key(|(t, _, _)| *t);
        samples.dedup_by_key(|(t, _, _)| *t);
        let start_timestamps: Arc<[i64]> = samples.iter().map(|(_, st, _)| *st).collect();
        VecSeries {
            labels,
            samples: samples.into_iter().map(|(t, _, v)| (t, v)).collect(),
            start_timestamps,
        }
    }

    /// The start timestamps aligned with [`VecSeries::samples`]; empty when
    /// the series has none.
    pub fn start_timestamps(&self) -> &[i64] {
        &self.start_timestamps
    }

    /// A float-only series.
    pub fn floats(labels: Labels, samples: impl IntoIterator<Item = (i64, f64)>) -> VecSeries {
        VecSeries::new(
            labels,
            samples
                .into_iter()
                .map(|(t, v)| (t, Value::Float(v)))
                .collect(),
        )
    }

    /// The samples, sorted by time.
    pub fn samples(&self) -> &[(i64, Value)] {
        &self.samples
    }
}

impl Series for VecSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }
    fn iterator(&self) -> Box<dyn SampleIterator + '_> {
        Box::new(VecIterator {
            samples: &self.samples,
            start_timestamps: &self.start_timestamps,
            pos: None,
        })
    }
}

/// Iterator over a sorted sample slice.
pub struct VecIterator<'a> {
    samples: &'a [(i64, Value)],
    start_timestamps: &'a [i64],
    /// `None` before the first `next`/`seek`.
    pos: Option<usize>,
}

impl<'a> VecIterator<'a> {
    /// An iterator over `samples`, which must be sorted by time.
    pub fn new(samples: &'a [(i64, Value)]) -> VecIterator<'a> {
        VecIterator {
            samples,
            start_timestamps: &[],
            pos: None,
        }
    }

    fn kind(&self) -> ValueType {
        match self.pos.and_then(|p| self.samples.get(p)) {
            None => ValueType::None,
            Some((_, Value::Float(_))) => ValueType::Float,
            Some((_, Value::Histogram(_))) => ValueType::Histogram,
            Some((_, Value::FloatHistogram(_))) => ValueType::FloatHistogram,
        }
    }

    fn current(&self) -> Option<&'a (i64, Value)> {
        self.pos.and_then(|p| self.samples.get(p))
    }
}

impl SampleIterator for VecIterator<'_> {
    fn next(&mut self) -> ValueType {
        self.pos = Some(self.pos.map_or(0, |p| (p + 1).min(self.samples.len())));
        self.kind()
    }

    fn seek(&mut self, t: i64) -> ValueType {
        let from = self.pos.unwrap_or(0);
        if let Some((ct, _)) = self.current()
            && *ct >= t
        {
            return self.kind();
        }
        let rest = &self.samples[from.min(self.samples.len())..];
        self.pos = Some(from + rest.partition_point(|(st, _)| *st < t));
        self.kind()
    }

    fn at(&self) -> (i64, f64) {
        match self.current() {
            Some((t, Value::Float(v))) => (*t, *v),
            Some((t, _)) => (*t, f64::NAN),
            None => (i64::MIN, f64::NAN),
        }
    }

    fn at_histogram(&self, into: &mut Histogram) -> i64 {
        match self.current() {
            Some((t, Value::Histogram(h))) => {
                into.clone_from(h);
                *t
            }
            Some((t, _)) => *t,
            None => i64::MIN,
        }
    }

    fn at_float_histogram(&self, into: &mut FloatHistogram) -> i64 {
        match self.current() {
            Some((t, Value::Histogram(h))) => {
                *into = h.to_float();
                *t
            }
            Some((t, Value::FloatHistogram(h))) => {
                into.clone_from(h);
                *t
            }
            Some((t, _)) => *t,
            None => i64::MIN,
        }
    }

    fn at_t(&self) -> i64 {
        self.current().map_or(i64::MIN, |(t, _)| *t)
    }

    fn at_st(&self) -> i64 {
        self.pos
            .and_then(|p| self.start_timestamps.get(p))
            .copied()
            .unwrap_or(0)
    }
}

/// A series set over series already in memory, handed out in the order given.
pub struct ListSeriesSet {
    series: std::vec::IntoIter<BoxedSeries>,
}

impl ListSeriesSet {
    /// A set handing out `series` in order.
    pub fn new(series: Vec<BoxedSeries>) -> ListSeriesSet {
        ListSeriesSet {
            series: series.into_iter(),
        }
    }

    /// A set sorted by labels.
    pub fn sorted(mut series: Vec<BoxedSeries>) -> ListSeriesSet {
        series.sort_by(|a, b| a.labels().cmp(b.labels()));
        ListSeriesSet::new(series)
    }
}

impl SeriesSet for ListSeriesSet {
    fn next(&mut self) -> Option<Result<BoxedSeries, StorageError>> {
        self.series.next().map(Ok)
    }
}

/// A series set that fails at once.
pub struct ErrorSeriesSet(pub Option<StorageError>);

impl SeriesSet for ErrorSeriesSet {
    fn next(&mut self) -> Option<Result<BoxedSeries, StorageError>> {
        self.0.take().map(Err)
    }
}

/// A querier over series held in memory (remote read results, rule tests).
#[derive(Clone, Debug, Default)]
pub struct VecQuerier {
    series: Vec<VecSeries>,
    mint: i64,
    maxt: i64,
}

impl VecQuerier {
    /// A querier over `series`, restricted to samples in `[mint, maxt]`.
    pub fn new(mut series: Vec<VecSeries>, mint: i64, maxt: i64) -> VecQuerier {
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        VecQuerier { series, mint, maxt }
    }

    fn matching<'a>(
        &'a self,
        matchers: &'a [model::matcher::Matcher],
    ) -> impl Iterator<Item = &'a VecSeries> + 'a {
        self.series.iter().filter(move |s| {
            crate::query::matches_all(&s.labels, matchers)
                && s.samples
                    .iter()
                    .any(|(t, _)| (self.mint..=self.maxt).contains(t))
        })
    }
}

impl crate::Querier for VecQuerier {
    fn select(
        &self,
        _sorted: bool,
        hints: Option<&crate::SelectHints>,
        matchers: &[model::matcher::Matcher],
    ) -> Box<dyn SeriesSet + '_> {
        let limit = hints.map_or(0, |h| h.limit);
        let out: Vec<BoxedSeries> = self
            .matching(matchers)
            .map(|s| {
                let in_range = |(t, _): &&(i64, Value)| (self.mint..=self.maxt).contains(t);
                if s.start_timestamps.is_empty() {
                    let kept = s.samples.iter().filter(in_range).cloned().collect();
                    return Box::new(VecSeries::new(s.labels.clone(), kept)) as BoxedSeries;
                }
                let kept = s
                    .samples
                    .iter()
                    .zip(s.start_timestamps.iter())
                    .filter(|(p, _)| in_range(p))
                    .map(|((t, v), st)| (*t, *st, v.clone()))
                    .collect();
                Box::new(VecSeries::with_start_timestamps(s.labels.clone(), kept)) as BoxedSeries
            })
            .collect();
        Box::new(ListSeriesSet::new(crate::query::apply_limit(out, limit)))
    }

    fn label_values(
        &self,
        name: &str,
        hints: &crate::LabelHints,
        matchers: &[model::matcher::Matcher],
    ) -> Result<(Vec<String>, crate::query::Warnings), StorageError> {
        let mut v: Vec<String> = self
            .matching(matchers)
            .filter_map(|s| s.labels.get(name))
            .map(str::to_string)
            .collect();
        v.sort_unstable();
        v.dedup();
        Ok((crate::query::apply_limit(v, hints.limit), Vec::new()))
    }

    fn label_names(
        &self,
        hints: &crate::LabelHints,
        matchers: &[model::matcher::Matcher],
    ) -> Result<(Vec<String>, crate::query::Warnings), StorageError> {
        let mut v: Vec<String> = self
            .matching(matchers)
            .flat_map(|s| s.labels.iter().map(|(n, _)| n.to_string()))
            .collect();
        v.sort_unstable();
        v.dedup();
        Ok((crate::query::apply_limit(v, hints.limit), Vec::new()))
    }
}

/// An iterator that owns its sorted samples (and, optionally, the error
/// that cut them short), for series decoded eagerly.
pub struct OwnedIterator {
    samples: Vec<(i64, Value)>,
    pos: Option<usize>,
    err: Option<StorageError>,
}

impl OwnedIterator {
    /// An iterator over `samples`, sorted by time; `err` is reported by
    /// `err()` (after the samples that were decoded before it).
    pub fn new(samples: Vec<(i64, Value)>, err: Option<StorageError>) -> OwnedIterator {
        OwnedIterator {
            samples,
            pos: None,
            err,
        }
    }

    fn view(&self) -> VecIterator<'_> {
        VecIterator {
            samples: &self.samples,
            start_timestamps: &[],
            pos: self.pos,
        }
    }

    fn step(&mut self, f: impl FnOnce(&mut VecIterator<'_>) -> ValueType) -> ValueType {
        let mut v = VecIterator {
            samples: &self.samples,
            start_timestamps: &[],
            pos: self.pos,
        };
        let vt = f(&mut v);
        self.pos = v.pos;
        vt
    }
}

impl SampleIterator for OwnedIterator {
    fn next(&mut self) -> ValueType {
        self.step(|v| v.next())
    }

    fn seek(&mut self, t: i64) -> ValueType {
        self.step(|v| v.seek(t))
    }

    fn at(&self) -> (i64, f64) {
        self.view().at()
    }

    fn at_histogram(&self, into: &mut Histogram) -> i64 {
        self.view().at_histogram(into)
    }

    fn at_float_histogram(&self, into: &mut FloatHistogram) -> i64 {
        self.view().at_float_histogram(into)
    }

    fn at_t(&self) -> i64 {
        self.view().at_t()
    }

    fn err(&self) -> Option<StorageError> {
        self.err.clone()
    }
}
