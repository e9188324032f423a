//! Parser for the length-delimited protobuf exposition format: a stream of
//! `io.prometheus.client.MetricFamily` messages, each prefixed by its length
//! as a varint.
//!
//! Entries follow Prometheus's `protobufparse.go`: per non-empty family a
//! `Help` (always), a `Unit` (when set) and a `Type`, then its series.
//! Counters, gauges and untyped metrics give one sample named like the
//! family. Summaries give `_count`, `_sum`, then one sample per quantile
//! with a `quantile` label. Classic histograms give `_count`, `_sum`, then
//! `_bucket` samples with an `le` label, ending with an `le="+Inf"` bucket
//! (synthesized from the count when the exposition has none). `le` and
//! `quantile` values are formatted as Prometheus does (`1.0`, `0.25`,
//! `1e+06`). Native histograms give one [`Entry::Histogram`]; with
//! [`ProtobufParser::with_classic_histograms`], one that also carries
//! classic buckets is followed by its classic series.
//!
//! Two Prometheus conventions for unset values are kept: `timestamp_ms` 0 and
//! a created timestamp of 0 both mean "none".
//!
//! Fast path: labels are spans into the input (the bytes between a metric's
//! label strings are tag and length bytes, which are ASCII for labels shorter
//! than 128 bytes, so the whole label region is usually one valid `&str`);
//! synthesized names, `le`/`quantile` values and the series key go into
//! buffers that are reused, so the steady state allocates nothing per sample.

mod decode;
pub(crate) mod wire;

use std::borrow::Cow;

use crate::encode::float::push_openmetrics;
use crate::{
    Entry, Exemplar, Format, HistogramSample, HistogramValue, LabelsView, OwnedExemplar,
    ParseError, Parser, Position, Sample, Str,
};
use decode::{ExemplarRef, FamilyHeader, LabelRef, MetricData, ProtoType};
use model::histogram::CounterResetHint;
use model::{FloatHistogram, Histogram, MetricType};
use wire::{Reader, WireError};

/// Separates label names and values in series keys; never part of UTF-8.
const SEP: u8 = 0xff;
/// Separates the labels from the metric name in series keys.
const NAME_SEP: u8 = 0xfe;
/// Inputs this large could overflow the `u32` offsets of [`Str`].
const MAX_INPUT: usize = (u32::MAX / 4) as usize;

/// Parser for the delimited protobuf format.
pub struct ProtobufParser<'a> {
    input: &'a [u8],
    /// Where the next family's length prefix starts.
    next_family: usize,
    classic_histograms: bool,
    state: State,
    failed: bool,

    // The current family.
    family_name: &'a str,
    family_help: &'a str,
    family_unit: &'a str,
    family_kind: ProtoType,
    /// Where to look for the next `metric` field, and where the family ends.
    metric_cursor: usize,
    family_end: usize,

    // The current metric (boxed: it holds many vectors) and where we are in it.
    metric: Box<MetricData>,
    step: Step,

    // Output buffers, reused.
    /// Layout: the family's suffixed names and magic label names, then the
    /// metric's copied labels (slow path only), then per-sample text.
    scratch: String,
    family_scratch: usize,
    metric_scratch: usize,
    names: SuffixNames,
    /// The metric's label region as one string (fast path), or "".
    labels_input: &'a str,
    spans: Vec<(Str, Str)>,
    metric_labels: usize,
    exemplar_input: &'a str,
    exemplar_spans: Vec<(Str, Str)>,
    /// Series key: the metric's labels, then the name and magic label.
    key: Vec<u8>,
    metric_key: usize,
    histogram: Box<Histogram>,
    float_histogram: Box<FloatHistogram>,
    exemplars: Vec<OwnedExemplar>,
    exemplars_len: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    NextFamily,
    Unit,
    Type,
    NextMetric,
    Emit,
}

/// Where we are within one metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// The one sample of a counter, gauge or untyped metric.
    Single,
    /// The native histogram.
    Native,
    Count,
    Sum,
    /// Quantile or bucket `i`.
    Item(usize),
    /// The synthesized `le="+Inf"` bucket.
    Inf,
    Done,
}

/// Scratch ranges of the family's names with suffixes.
#[derive(Clone, Copy, Debug, Default)]
struct SuffixNames {
    count: (usize, usize),
    sum: (usize, usize),
    bucket: (usize, usize),
    le: (usize, usize),
    quantile: (usize, usize),
}

/// A scratch range.
type Range = (usize, usize);

/// One float sample of a metric: its name (a scratch range, `None` for the
/// family name), value, magic label (`le`/`quantile` name and value) and
/// exemplar.
struct Pick {
    name: Option<Range>,
    value: f64,
    magic: Option<(Range, f64)>,
    exemplar: Option<ExemplarRef>,
}

/// What [`ProtobufParser::advance`] prepared; turned into an [`Entry`] by
/// [`ProtobufParser::entry`].
#[derive(Clone, Copy, Debug)]
enum Emit {
    Help,
    Unit,
    Type,
    Sample {
        /// Scratch range of the name, or `None` for the family name.
        name: Option<(usize, usize)>,
        value: f64,
        exemplar: Option<(f64, Option<i64>)>,
    },
    Histogram {
        float: bool,
    },
}

impl<'a> ProtobufParser<'a> {
    /// A parser over `input`.
    pub fn new(input: &'a [u8]) -> ProtobufParser<'a> {
        ProtobufParser {
            input,
            next_family: 0,
            classic_histograms: false,
            state: State::NextFamily,
            failed: false,
            family_name: "",
            family_help: "",
            family_unit: "",
            family_kind: ProtoType::Counter,
            metric_cursor: 0,
            family_end: 0,
            metric: Box::default(),
            step: Step::Done,
            scratch: String::new(),
            family_scratch: 0,
            metric_scratch: 0,
            names: SuffixNames::default(),
            labels_input: "",
            spans: Vec::new(),
            metric_labels: 0,
            exemplar_input: "",
            exemplar_spans: Vec::new(),
            key: Vec::new(),
            metric_key: 0,
            histogram: Box::default(),
            float_histogram: Box::default(),
            exemplars: Vec::new(),
            exemplars_len: 0,
        }
    }

    /// Whether a native histogram that also has classic buckets is followed
    /// by its classic `_count`, `_sum` and `_bucket` series (Prometheus's
    /// "always scrape classic histograms"). Off by default: a histogram is
    /// then emitted as native when it is native, as classic series otherwise.
    pub fn with_classic_histograms(mut self, classic: bool) -> ProtobufParser<'a> {
        self.classic_histograms = classic;
        self
    }

    /// Moves to the next entry, preparing all buffers it borrows.
    fn advance(&mut self) -> Result<Option<Emit>, WireError> {
        loop {
            match self.state {
                State::NextFamily => {
                    if self.next_family >= self.input.len() {
                        return Ok(None);
                    }
                    if self.next_family == 0 && self.input.len() > MAX_INPUT {
                        return Err(WireError::new(0, "read input: larger than 1 GiB"));
                    }
                    if self.start_family()? {
                        self.state = if self.family_unit.is_empty() {
                            State::Type
                        } else {
                            State::Unit
                        };
                        return Ok(Some(Emit::Help));
                    }
                }
                State::Unit => {
                    self.state = State::Type;
                    return Ok(Some(Emit::Unit));
                }
                State::Type => {
                    self.state = State::NextMetric;
                    return Ok(Some(Emit::Type));
                }
                State::NextMetric => {
                    match decode::next_metric(self.input, &mut self.metric_cursor, self.family_end)?
                    {
                        None => self.state = State::NextFamily,
                        Some((start, end)) => {
                            self.start_metric(start, end)?;
                            self.state = State::Emit;
                        }
                    }
                }
                State::Emit => {
                    if self.step == Step::Done {
                        self.state = State::NextMetric;
                        continue;
                    }
                    return self.emit().map(Some);
                }
            }
        }
    }

    /// Reads the next family's header; `false` for an empty family (skipped,
    /// as Prometheus does).
    fn start_family(&mut self) -> Result<bool, WireError> {
        let mut r = Reader::new(self.input, self.next_family, self.input.len());
        let (start, end) = r.len_delimited()?;
        let family_at = self.next_family;
        self.next_family = end;
        let h = FamilyHeader::decode(self.input, start, end)?;
        if h.metrics == 0 {
            return Ok(false);
        }
        let name = self.str_at(h.name, "MetricFamily.name")?;
        if name.is_empty() {
            return Err(WireError::new(
                family_at,
                "read MetricFamily: invalid metric name \"\"",
            ));
        }
        let help = self.str_at(h.help, "MetricFamily.help")?;
        let unit = self.str_at(h.unit, "MetricFamily.unit")?;
        if !unit.is_empty() {
            let base = match h.kind {
                ProtoType::Counter => name.strip_suffix("_total").unwrap_or(name),
                _ => name,
            };
            let ok = base
                .strip_suffix(unit)
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('_'));
            if !ok {
                return Err(WireError::new(
                    h.unit.0,
                    format!("read MetricFamily: unit {unit:?} not a suffix of metric {name:?}"),
                ));
            }
        }
        self.family_name = name;
        self.family_help = help;
        self.family_unit = unit;
        self.family_kind = h.kind;
        self.metric_cursor = start;
        self.family_end = end;

        // The family's suffixed names and magic label names, once.
        self.scratch.clear();
        fn push(s: &mut String, parts: &[&str]) -> (usize, usize) {
            let from = s.len();
            for p in parts {
                s.push_str(p);
            }
            (from, s.len())
        }
        self.names = SuffixNames {
            count: push(&mut self.scratch, &[name, "_count"]),
            sum: push(&mut self.scratch, &[name, "_sum"]),
            bucket: push(&mut self.scratch, &[name, "_bucket"]),
            le: push(&mut self.scratch, &["le"]),
            quantile: push(&mut self.scratch, &["quantile"]),
        };
        self.family_scratch = self.scratch.len();
        Ok(true)
    }

    fn str_at(&self, (start, end): (usize, usize), what: &str) -> Result<&'a str, WireError> {
        std::str::from_utf8(&self.input[start..end])
            .map_err(|_| WireError::new(start, format!("read {what}: invalid UTF-8")))
    }

    /// Decodes a metric, lays out its labels and key prefix, and picks its
    /// first step.
    fn start_metric(&mut self, start: usize, end: usize) -> Result<(), WireError> {
        self.metric
            .decode(self.input, start, end, self.family_kind)?;
        self.scratch.truncate(self.family_scratch);
        self.spans.clear();
        self.labels_input = lay_out_labels(
            self.input,
            &self.metric.labels,
            &mut self.spans,
            &mut self.scratch,
        )?;
        self.metric_labels = self.spans.len();
        self.metric_scratch = self.scratch.len();

        self.key.clear();
        for l in &self.metric.labels {
            self.key.push(SEP);
            self.key.extend_from_slice(&self.input[l.name.0..l.name.1]);
            self.key.push(SEP);
            self.key
                .extend_from_slice(&self.input[l.value.0..l.value.1]);
        }
        self.key.push(NAME_SEP);
        self.metric_key = self.key.len();

        self.step = match self.family_kind {
            ProtoType::Counter | ProtoType::Gauge | ProtoType::Untyped => Step::Single,
            ProtoType::Summary => Step::Count,
            ProtoType::Histogram | ProtoType::GaugeHistogram => {
                if self.metric.hist.is_native() {
                    Step::Native
                } else {
                    Step::Count
                }
            }
        };
        Ok(())
    }

    /// Prepares the entry for the current step and moves to the next step.
    fn emit(&mut self) -> Result<Emit, WireError> {
        self.scratch.truncate(self.metric_scratch);
        self.spans.truncate(self.metric_labels);
        self.key.truncate(self.metric_key);
        let step = self.step;
        let m = &self.metric;
        let kind = self.family_kind;
        let n_items = if kind == ProtoType::Summary {
            m.quantiles.len()
        } else {
            m.hist.buckets.len()
        };
        let after_sum = if kind == ProtoType::Summary && n_items == 0 {
            Step::Done
        } else if n_items == 0 {
            Step::Inf
        } else {
            Step::Item(0)
        };
        self.step = match step {
            Step::Single | Step::Inf | Step::Done => Step::Done,
            Step::Native => {
                if self.classic_histograms && !m.hist.buckets.is_empty() {
                    Step::Count
                } else {
                    Step::Done
                }
            }
            Step::Count => Step::Sum,
            Step::Sum => after_sum,
            Step::Item(i) => {
                let inf =
                    kind != ProtoType::Summary && m.hist.buckets[i].upper_bound == f64::INFINITY;
                if i + 1 < n_items && !inf {
                    Step::Item(i + 1)
                } else if kind == ProtoType::Summary || inf {
                    Step::Done
                } else {
                    Step::Inf
                }
            }
        };
        let summary = kind == ProtoType::Summary;
        let pick = |name, value, magic, exemplar| Pick {
            name,
            value,
            magic,
            exemplar,
        };
        let Pick {
            name,
            value,
            magic,
            exemplar,
        } = match step {
            Step::Native => return self.prepare_native(),
            Step::Single => pick(None, m.value, None, m.counter_exemplar),
            Step::Count if summary => {
                pick(Some(self.names.count), m.summary_count as f64, None, None)
            }
            Step::Count => pick(Some(self.names.count), m.hist.count(), None, None),
            Step::Sum if summary => pick(Some(self.names.sum), m.summary_sum, None, None),
            Step::Sum => pick(Some(self.names.sum), m.hist.sample_sum, None, None),
            Step::Item(i) if summary => {
                let (q, v) = m.quantiles[i];
                pick(None, v, Some((self.names.quantile, q)), None)
            }
            Step::Item(i) => {
                let b = &m.hist.buckets[i];
                let magic = Some((self.names.le, b.upper_bound));
                pick(Some(self.names.bucket), b.count(), magic, b.exemplar)
            }
            Step::Inf => {
                let magic = Some((self.names.le, f64::INFINITY));
                pick(Some(self.names.bucket), m.hist.count(), magic, None)
            }
            Step::Done => return Err(WireError::new(0, "internal: emit after the last step")),
        };

        // Key: labels (already there), name, magic label.
        match name {
            Some((s, e)) => self.key.extend_from_slice(&self.scratch.as_bytes()[s..e]),
            None => self.key.extend_from_slice(self.family_name.as_bytes()),
        }
        if let Some((label, v)) = magic {
            let from = self.scratch.len();
            push_openmetrics(&mut self.scratch, v);
            let to = self.scratch.len();
            self.spans
                .push((Str::scratch(label.0, label.1), Str::scratch(from, to)));
            self.key.push(SEP);
            self.key
                .extend_from_slice(&self.scratch.as_bytes()[label.0..label.1]);
            self.key.push(SEP);
            self.key
                .extend_from_slice(&self.scratch.as_bytes()[from..to]);
        }
        let exemplar = match exemplar {
            Some(ex) => Some(self.prepare_exemplar(ex)?),
            None => None,
        };
        Ok(Emit::Sample {
            name,
            value,
            exemplar,
        })
    }

    fn prepare_exemplar(&mut self, ex: ExemplarRef) -> Result<(f64, Option<i64>), WireError> {
        self.exemplar_spans.clear();
        let labels = &self.metric.ex_labels[ex.labels.0..ex.labels.1];
        self.exemplar_input = lay_out_labels(
            self.input,
            labels,
            &mut self.exemplar_spans,
            &mut self.scratch,
        )?;
        Ok((ex.value, ex.timestamp))
    }

    /// Fills the reusable native histogram and its exemplars.
    fn prepare_native(&mut self) -> Result<Emit, WireError> {
        self.key.extend_from_slice(self.family_name.as_bytes());
        let h = &self.metric.hist;
        let hint = if self.family_kind == ProtoType::GaugeHistogram {
            CounterResetHint::Gauge
        } else {
            CounterResetHint::Unknown
        };
        let float = h.is_float();
        if float {
            let f = &mut self.float_histogram;
            f.clear();
            f.counter_reset_hint = hint;
            f.schema = h.schema;
            f.zero_threshold = h.zero_threshold;
            f.zero_count = h.zero_count_float;
            f.count = h.sample_count_float;
            f.sum = h.sample_sum;
            f.positive_spans.extend_from_slice(&h.positive_spans);
            f.negative_spans.extend_from_slice(&h.negative_spans);
            f.positive_buckets.extend_from_slice(&h.positive_counts);
            f.negative_buckets.extend_from_slice(&h.negative_counts);
        } else {
            let i = &mut self.histogram;
            i.clear();
            i.counter_reset_hint = hint;
            i.schema = h.schema;
            i.zero_threshold = h.zero_threshold;
            i.zero_count = h.zero_count;
            i.count = h.sample_count;
            i.sum = h.sample_sum;
            i.positive_spans.extend_from_slice(&h.positive_spans);
            i.negative_spans.extend_from_slice(&h.negative_spans);
            i.positive_buckets.extend_from_slice(&h.positive_deltas);
            i.negative_buckets.extend_from_slice(&h.negative_deltas);
        }

        // Exemplars: the histogram's own, else the buckets'; only those with
        // a timestamp, as Prometheus keeps for native histograms.
        self.exemplars_len = 0;
        let own = !h.exemplars.is_empty();
        let n = if own {
            h.exemplars.len()
        } else {
            h.buckets.len()
        };
        for i in 0..n {
            let h = &self.metric.hist;
            let ex = if own {
                Some(h.exemplars[i])
            } else {
                h.buckets[i].exemplar
            };
            let Some(ex) = ex.filter(|e| e.timestamp.is_some()) else {
                continue;
            };
            if self.exemplars_len == self.exemplars.len() {
                self.exemplars.push(OwnedExemplar::default());
            }
            let slot = &mut self.exemplars[self.exemplars_len];
            fill_exemplar(self.input, &self.metric.ex_labels, ex, slot)?;
            self.exemplars_len += 1;
        }
        Ok(Emit::Histogram { float })
    }

    /// The entry prepared by [`ProtobufParser::advance`].
    fn entry(&self, emit: Emit) -> Entry<'_> {
        let name = self.family_name;
        match emit {
            Emit::Help => Entry::Help {
                metric: name,
                text: self.family_help,
            },
            Emit::Unit => Entry::Unit {
                metric: name,
                unit: self.family_unit,
            },
            Emit::Type => Entry::Type {
                metric: name,
                kind: match self.family_kind {
                    ProtoType::Counter => MetricType::Counter,
                    ProtoType::Gauge => MetricType::Gauge,
                    ProtoType::Summary => MetricType::Summary,
                    ProtoType::Untyped => MetricType::Unknown,
                    ProtoType::Histogram => MetricType::Histogram,
                    ProtoType::GaugeHistogram => MetricType::GaugeHistogram,
                },
            },
            Emit::Sample {
                name: sample_name,
                value,
                exemplar,
            } => Entry::Sample(Sample {
                series: &self.key,
                name: match sample_name {
                    Some((s, e)) => &self.scratch[s..e],
                    None => name,
                },
                labels: self.labels(),
                value,
                timestamp: self.timestamp(),
                exemplar: exemplar.map(|(value, timestamp)| Exemplar {
                    labels: LabelsView {
                        input: self.exemplar_input,
                        scratch: &self.scratch,
                        spans: &self.exemplar_spans,
                    },
                    value,
                    timestamp,
                }),
                created_timestamp: self.metric.created,
            }),
            Emit::Histogram { float } => Entry::Histogram(HistogramSample {
                series: &self.key,
                name,
                labels: self.labels(),
                value: if float {
                    HistogramValue::Float(&self.float_histogram)
                } else {
                    HistogramValue::Int(&self.histogram)
                },
                timestamp: self.timestamp(),
                exemplars: &self.exemplars[..self.exemplars_len],
                created_timestamp: self.metric.created,
            }),
        }
    }

    fn labels(&self) -> LabelsView<'_> {
        LabelsView {
            input: self.labels_input,
            scratch: &self.scratch,
            spans: &self.spans,
        }
    }

    /// Prometheus reads a zero `timestamp_ms` as "none".
    fn timestamp(&self) -> Option<i64> {
        self.metric.timestamp_ms.filter(|&t| t != 0)
    }
}

/// Lays out `labels` as spans: into one window of the input when the bytes
/// from the first to the last label string are valid UTF-8 and every string
/// starts and ends on a character boundary (fast path, no copy), else by
/// checking and copying each string into `scratch`. Returns the window.
fn lay_out_labels<'a>(
    input: &'a [u8],
    labels: &[LabelRef],
    spans: &mut Vec<(Str, Str)>,
    scratch: &mut String,
) -> Result<&'a str, WireError> {
    let Some(first) = labels.first() else {
        return Ok("");
    };
    let (mut lo, mut hi) = (first.name.0, first.name.1);
    for l in labels {
        lo = lo.min(l.name.0).min(l.value.0);
        hi = hi.max(l.name.1).max(l.value.1);
    }
    if let Ok(window) = std::str::from_utf8(&input[lo..hi]) {
        let on_boundaries = labels.iter().all(|l| {
            [l.name.0, l.name.1, l.value.0, l.value.1]
                .iter()
                .all(|&i| window.is_char_boundary(i - lo))
        });
        if on_boundaries {
            for l in labels {
                spans.push((
                    Str::input(l.name.0 - lo, l.name.1 - lo),
                    Str::input(l.value.0 - lo, l.value.1 - lo),
                ));
            }
            return Ok(window);
        }
    }
    for l in labels {
        let name = copy_str(input, l.name, scratch, "LabelPair.name")?;
        let value = copy_str(input, l.value, scratch, "LabelPair.value")?;
        spans.push((name, value));
    }
    Ok("")
}

fn copy_str(
    input: &[u8],
    (start, end): (usize, usize),
    scratch: &mut String,
    what: &'static str,
) -> Result<Str, WireError> {
    let s = std::str::from_utf8(&input[start..end])
        .map_err(|_| WireError::new(start, format!("read {what}: invalid UTF-8")))?;
    let from = scratch.len();
    scratch.push_str(s);
    Ok(Str::scratch(from, scratch.len()))
}

/// Overwrites `slot` with `ex`, reusing its allocations.
fn fill_exemplar(
    input: &[u8],
    ex_labels: &[LabelRef],
    ex: ExemplarRef,
    slot: &mut OwnedExemplar,
) -> Result<(), WireError> {
    slot.value = ex.value;
    slot.timestamp = ex.timestamp;
    let labels = &ex_labels[ex.labels.0..ex.labels.1];
    slot.labels.truncate(labels.len());
    for (i, l) in labels.iter().enumerate() {
        let name = utf8(input, l.name, "LabelPair.name")?;
        let value = utf8(input, l.value, "LabelPair.value")?;
        if i == slot.labels.len() {
            slot.labels.push((String::new(), String::new()));
        }
        let (n, v) = &mut slot.labels[i];
        n.clear();
        n.push_str(name);
        v.clear();
        v.push_str(value);
    }
    Ok(())
}

fn utf8<'a>(
    input: &'a [u8],
    (s, e): (usize, usize),
    what: &'static str,
) -> Result<&'a str, WireError> {
    std::str::from_utf8(&input[s..e])
        .map_err(|_| WireError::new(s, format!("read {what}: invalid UTF-8")))
}

impl From<WireError> for ParseError {
    fn from(e: WireError) -> ParseError {
        ParseError {
            format: Format::Protobuf,
            position: Position {
                line: 0,
                column: 0,
                offset: e.offset,
            },
            message: match e.message {
                Cow::Borrowed(s) => s.to_string(),
                Cow::Owned(s) => s,
            },
            near: String::new(),
        }
    }
}

impl Parser for ProtobufParser<'_> {
    fn next(&mut self) -> Option<Result<Entry<'_>, ParseError>> {
        if self.failed {
            return None;
        }
        match self.advance() {
            Ok(None) => None,
            Ok(Some(emit)) => Some(Ok(self.entry(emit))),
            Err(e) => {
                self.failed = true;
                Some(Err(e.into()))
            }
        }
    }
}

#[cfg(test)]
mod tests;
