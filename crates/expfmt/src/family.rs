//! Owned metric families: what exporters build and encoders write, and what
//! [`MetricFamily::collect`] rebuilds from any parser's entries.
//!
//! Naming follows the wire formats' own conventions, so that one model
//! serves all three: a counter family's name is the sample name, usually
//! ending in `_total`, as in client_golang (the OpenMetrics encoder strips the
//! suffix for its `# TYPE` line); an info family's name has no `_info` (the
//! encoders add it to the sample name, OpenMetrics style); a stateset family's
//! name is also the label that carries the state.
//!
//! Counts are `f64`, as the text formats allow any float there; the encoders
//! write integral counts as integers where the format has integer fields.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::{
    Entry, Exemplar, Format, HistogramValue, LabelsView, OwnedExemplar, ParseError, Parser,
};
use model::MetricType;

/// A metric family: metadata plus its metrics, in exposition order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct MetricFamily {
    /// The family name (see the module docs for counters and info metrics).
    pub name: String,
    /// The help text, unescaped; empty for none (no `# HELP` is written).
    pub help: String,
    /// The unit, empty for none.
    pub unit: String,
    /// The type written in `# TYPE`.
    pub kind: MetricType,
    /// The metrics.
    pub metrics: Vec<Metric>,
}

/// One metric of a family: a label set and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    /// Label pairs in exposition order, without the metric name.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: MetricValue,
    /// The explicit timestamp in milliseconds, if any.
    pub timestamp_ms: Option<i64>,
}

/// The value of a [`Metric`], by type.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricValue {
    /// A counter.
    Counter(Counter),
    /// A gauge.
    Gauge(f64),
    /// An untyped (text 0.0.4) or unknown (OpenMetrics) value.
    Unknown(f64),
    /// A summary.
    Summary(Summary),
    /// A histogram: classic buckets, a native part, or both.
    Histogram(Histogram),
    /// A gauge histogram.
    GaugeHistogram(Histogram),
    /// An info metric (its value is always 1; the labels are the info).
    Info,
    /// A stateset: each state and whether it is set.
    Stateset(Vec<(String, bool)>),
}

/// A counter's value.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Counter {
    /// The value.
    pub value: f64,
    /// When the counter was created, in milliseconds.
    pub created_ms: Option<i64>,
    /// An exemplar.
    pub exemplar: Option<OwnedExemplar>,
}

/// A summary's value.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Summary {
    /// The number of observations.
    pub count: f64,
    /// The sum of observations.
    pub sum: f64,
    /// The quantiles, in exposition order.
    pub quantiles: Vec<Quantile>,
    /// When the summary was created, in milliseconds.
    pub created_ms: Option<i64>,
}

/// One quantile of a summary.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Quantile {
    /// The quantile, 0 to 1.
    pub quantile: f64,
    /// Its value.
    pub value: f64,
}

/// The state of a summary an exporter keeps: all-time count and sum, and
/// the recent observations its quantiles are computed from — exactly, over
/// the last [`SummaryWindow::CAPACITY`] observations within
/// [`SummaryWindow::MAX_AGE`], rather than client_golang's streaming
/// estimate over its 10-minute window.
#[derive(Clone, Debug, Default)]
pub struct SummaryWindow {
    recent: VecDeque<(Instant, f64)>,
    count: u64,
    sum: f64,
}

impl SummaryWindow {
    /// Most recent observations kept.
    pub const CAPACITY: usize = 2048;
    /// How long an observation counts for the quantiles (client_golang's
    /// default `MaxAge`).
    pub const MAX_AGE: Duration = Duration::from_secs(600);

    /// Records one observation.
    pub fn observe(&mut self, v: f64) {
        if self.recent.len() == Self::CAPACITY {
            self.recent.pop_front();
        }
        self.recent.push_back((Instant::now(), v));
        self.count += 1;
        self.sum += v;
    }

    /// The summary now, with the quantiles `objectives` (NaN without
    /// recent observations, as client_golang).
    pub fn value(&mut self, objectives: &[f64]) -> MetricValue {
        let now = Instant::now();
        while self
            .recent
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > Self::MAX_AGE)
        {
            self.recent.pop_front();
        }
        let mut vals: Vec<f64> = self.recent.iter().map(|(_, v)| *v).collect();
        vals.sort_by(f64::total_cmp);
        let quantiles = objectives
            .iter()
            .map(|q| Quantile {
                quantile: *q,
                value: if vals.is_empty() {
                    f64::NAN
                } else {
                    let i = ((*q * vals.len() as f64).ceil() as usize).clamp(1, vals.len()) - 1;
                    vals[i]
                },
            })
            .collect();
        MetricValue::Summary(Summary {
            count: self.count as f64,
            sum: self.sum,
            quantiles,
            created_ms: None,
        })
    }
}

/// A histogram's value: classic buckets and/or a native histogram.
///
/// With a native part, the protobuf encoder takes the count and sum from it;
/// `count` and `sum` here should then agree with it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Histogram {
    /// The number of observations.
    pub count: f64,
    /// The sum of observations.
    pub sum: f64,
    /// Classic buckets, ascending by upper bound; the `+Inf` bucket is
    /// optional (encoders add it from `count`).
    pub buckets: Vec<Bucket>,
    /// When the histogram was created, in milliseconds.
    pub created_ms: Option<i64>,
    /// The native histogram, if any.
    pub native: Option<NativeHistogram>,
    /// Exemplars of the native histogram (protobuf only).
    pub exemplars: Vec<OwnedExemplar>,
}

/// One classic histogram bucket.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Bucket {
    /// The inclusive upper bound (`le`).
    pub upper_bound: f64,
    /// Observations at or below the bound.
    pub cumulative_count: f64,
    /// An exemplar.
    pub exemplar: Option<OwnedExemplar>,
}

/// A native histogram with integer or float counts.
#[derive(Clone, Debug, PartialEq)]
pub enum NativeHistogram {
    /// Integer counts.
    Int(model::Histogram),
    /// Float counts.
    Float(model::FloatHistogram),
}

impl NativeHistogram {
    /// The native histogram's observation count.
    pub fn count(&self) -> f64 {
        match self {
            NativeHistogram::Int(h) => h.count as f64,
            NativeHistogram::Float(h) => h.count,
        }
    }

    /// The native histogram's observation sum.
    pub fn sum(&self) -> f64 {
        match self {
            NativeHistogram::Int(h) => h.sum,
            NativeHistogram::Float(h) => h.sum,
        }
    }
}

impl MetricValue {
    /// An empty value of the kind that `kind` families hold.
    pub fn empty(kind: MetricType) -> MetricValue {
        match kind {
            MetricType::Counter => MetricValue::Counter(Counter::default()),
            MetricType::Gauge => MetricValue::Gauge(0.0),
            MetricType::Histogram => MetricValue::Histogram(Histogram::default()),
            MetricType::GaugeHistogram => MetricValue::GaugeHistogram(Histogram::default()),
            MetricType::Summary => MetricValue::Summary(Summary::default()),
            MetricType::Info => MetricValue::Info,
            MetricType::Stateset => MetricValue::Stateset(Vec::new()),
            MetricType::Unknown => MetricValue::Unknown(0.0),
        }
    }
}

impl MetricFamily {
    /// A family of one unlabelled gauge.
    pub fn gauge(name: &str, help: &str, value: f64) -> MetricFamily {
        MetricFamily::single(name, help, MetricType::Gauge, MetricValue::Gauge(value))
    }

    /// A family of one unlabelled counter (`name` includes `_total`).
    pub fn counter(name: &str, help: &str, value: f64) -> MetricFamily {
        let c = Counter {
            value,
            created_ms: None,
            exemplar: None,
        };
        MetricFamily::single(name, help, MetricType::Counter, MetricValue::Counter(c))
    }

    /// A family without unit.
    pub fn new(name: &str, help: &str, kind: MetricType, metrics: Vec<Metric>) -> MetricFamily {
        MetricFamily {
            name: name.to_string(),
            help: help.to_string(),
            unit: String::new(),
            kind,
            metrics,
        }
    }

    fn single(name: &str, help: &str, kind: MetricType, value: MetricValue) -> MetricFamily {
        let m = Metric {
            labels: Vec::new(),
            value,
            timestamp_ms: None,
        };
        MetricFamily::new(name, help, kind, vec![m])
    }

    /// Rebuilds families from all entries of `parser` (whose input is in
    /// `format`, used in error messages): suffixed series (`_total`,
    /// `_created`, `_sum`, `_count`, `_gsum`, `_gcount`, `_bucket`, `_info`)
    /// join the family announced by the preceding `# TYPE`, samples of one
    /// label set join one [`Metric`], `le`/`quantile`/stateset labels become
    /// fields. A sample that fits no current family starts an untyped one.
    /// OpenMetrics `_created` values (seconds) become milliseconds.
    pub fn collect<P: Parser + ?Sized>(
        parser: &mut P,
        format: Format,
    ) -> Result<Vec<MetricFamily>, ParseError> {
        let mut c = Collector {
            families: Vec::new(),
            format,
        };
        while let Some(entry) = parser.next() {
            c.add(entry?)?;
        }
        Ok(c.families)
    }
}

struct Collector {
    families: Vec<MetricFamily>,
    format: Format,
}

/// What a sample is within its family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Value,
    /// A counter's `_total` sample; the family takes its name.
    Total,
    Created,
    Sum,
    Count,
    Bucket,
    Quantile,
    Info,
    State,
    Native,
}

impl Role {
    /// The label that is a field of the value, not part of the label set.
    fn magic_label(self, family: &str) -> Option<&str> {
        match self {
            Role::Bucket => Some("le"),
            Role::Quantile => Some("quantile"),
            Role::State => Some(family),
            _ => None,
        }
    }
}

/// The role of sample `name` in a family, if it belongs there.
fn role(kind: MetricType, family: &str, name: &str, native: bool) -> Option<Role> {
    if native {
        let histogram = matches!(kind, MetricType::Histogram | MetricType::GaugeHistogram);
        return (histogram && name == family).then_some(Role::Native);
    }
    let suffix = name.strip_prefix(family);
    match kind {
        MetricType::Counter => {
            let base = family.strip_suffix("_total").unwrap_or(family);
            match suffix {
                Some("") => Some(Role::Value),
                Some("_total") => Some(Role::Total),
                _ => (name.strip_prefix(base) == Some("_created")).then_some(Role::Created),
            }
        }
        MetricType::Gauge | MetricType::Unknown => (suffix == Some("")).then_some(Role::Value),
        MetricType::Summary => match suffix? {
            "" => Some(Role::Quantile),
            "_sum" => Some(Role::Sum),
            "_count" => Some(Role::Count),
            "_created" => Some(Role::Created),
            _ => None,
        },
        MetricType::Histogram | MetricType::GaugeHistogram => match suffix? {
            "_bucket" => Some(Role::Bucket),
            "_sum" | "_gsum" => Some(Role::Sum),
            "_count" | "_gcount" => Some(Role::Count),
            "_created" => Some(Role::Created),
            _ => None,
        },
        MetricType::Info => (suffix == Some("_info")).then_some(Role::Info),
        MetricType::Stateset => (suffix == Some("")).then_some(Role::State),
    }
}

/// One float or native sample, as `Collector::sample` needs it.
struct In<'e, 'p> {
    name: &'p str,
    labels: LabelsView<'p>,
    value: f64,
    timestamp: Option<i64>,
    exemplar: Option<&'e Exemplar<'p>>,
    created: Option<i64>,
    native: Option<(HistogramValue<'p>, &'p [OwnedExemplar])>,
}

impl Collector {
    fn add(&mut self, entry: Entry<'_>) -> Result<(), ParseError> {
        match entry {
            Entry::Help { metric, text } => self.meta(metric).help = text.to_string(),
            Entry::Type { metric, kind } => self.meta(metric).kind = kind,
            Entry::Unit { metric, unit } => self.meta(metric).unit = unit.to_string(),
            Entry::Comment(_) => {}
            Entry::Sample(s) => self.sample(In {
                name: s.name,
                labels: s.labels,
                value: s.value,
                timestamp: s.timestamp,
                exemplar: s.exemplar.as_ref(),
                created: s.created_timestamp,
                native: None,
            })?,
            Entry::Histogram(h) => self.sample(In {
                name: h.name,
                labels: h.labels,
                value: 0.0,
                timestamp: h.timestamp,
                exemplar: None,
                created: h.created_timestamp,
                native: Some((h.value, h.exemplars)),
            })?,
        }
        Ok(())
    }

    /// The family a HELP/TYPE/UNIT line describes: the current one while it
    /// has the same name and no metrics yet, else a new one.
    fn meta(&mut self, name: &str) -> &mut MetricFamily {
        let reuse =
            matches!(self.families.last(), Some(f) if f.name == name && f.metrics.is_empty());
        if !reuse {
            self.families.push(MetricFamily {
                name: name.to_string(),
                ..MetricFamily::default()
            });
        }
        let last = self.families.len() - 1;
        &mut self.families[last]
    }

    fn sample(&mut self, s: In<'_, '_>) -> Result<(), ParseError> {
        let native = s.native.is_some();
        let found = self
            .families
            .last()
            .and_then(|f| role(f.kind, &f.name, s.name, native));
        let role = match found {
            Some(r) => r,
            None => {
                let kind = if native {
                    MetricType::Histogram
                } else {
                    MetricType::Unknown
                };
                self.families.push(MetricFamily {
                    name: s.name.to_string(),
                    kind,
                    ..MetricFamily::default()
                });
                if native { Role::Native } else { Role::Value }
            }
        };
        let format = self.format;
        let last = self.families.len() - 1;
        let fam = &mut self.families[last];
        if role == Role::Total {
            fam.name = s.name.to_string();
        }
        let magic = role.magic_label(&fam.name).map(str::to_string);
        let magic_value = magic
            .as_deref()
            .map(|m| {
                s.labels
                    .get(m)
                    .ok_or_else(|| semantic(format, &s, &format!("missing label {m:?}")))
            })
            .transpose()?;

        // Single-sample roles start a metric; the others join the last
        // metric with the same labels.
        let joins = !matches!(role, Role::Value | Role::Total | Role::Info | Role::Native);
        let labels_match = |m: &Metric| {
            let mut theirs = s
                .labels
                .iter()
                .filter(|(n, _)| Some(*n) != magic.as_deref());
            m.labels.len() == s.labels.len() - usize::from(magic_value.is_some())
                && m.labels
                    .iter()
                    .all(|(n, v)| theirs.next().is_some_and(|(tn, tv)| tn == n && tv == v))
        };
        let existing = if joins {
            fam.metrics.iter().rposition(labels_match)
        } else {
            None
        };
        let idx = match existing {
            Some(i) => i,
            None => {
                let kind =
                    if role == Role::Native && !matches!(fam.kind, MetricType::GaugeHistogram) {
                        MetricType::Histogram
                    } else {
                        fam.kind
                    };
                fam.metrics.push(Metric {
                    labels: s
                        .labels
                        .iter()
                        .filter(|(n, _)| Some(*n) != magic.as_deref())
                        .map(|(n, v)| (n.to_string(), v.to_string()))
                        .collect(),
                    value: MetricValue::empty(kind),
                    timestamp_ms: None,
                });
                fam.metrics.len() - 1
            }
        };
        let metric = &mut fam.metrics[idx];
        if s.timestamp.is_some() {
            metric.timestamp_ms = s.timestamp;
        }
        let created_from_value = || (s.value * 1000.0).round() as i64;
        match (&mut metric.value, role) {
            (MetricValue::Counter(c), Role::Value | Role::Total) => {
                c.value = s.value;
                c.exemplar = s.exemplar.map(owned_exemplar);
                c.created_ms = s.created.or(c.created_ms);
            }
            (MetricValue::Counter(c), Role::Created) => c.created_ms = Some(created_from_value()),
            (MetricValue::Gauge(v) | MetricValue::Unknown(v), Role::Value) => *v = s.value,
            (MetricValue::Summary(sm), _) => {
                sm.created_ms = s.created.or(sm.created_ms);
                match role {
                    Role::Sum => sm.sum = s.value,
                    Role::Count => sm.count = s.value,
                    Role::Created => sm.created_ms = Some(created_from_value()),
                    _ => {
                        let q = parse_float(magic_value.unwrap_or_default())
                            .ok_or_else(|| semantic(format, &s, "invalid quantile label value"))?;
                        sm.quantiles.push(crate::family::Quantile {
                            quantile: q,
                            value: s.value,
                        });
                    }
                }
            }
            (MetricValue::Histogram(h) | MetricValue::GaugeHistogram(h), _) => {
                h.created_ms = s.created.or(h.created_ms);
                match role {
                    Role::Sum => h.sum = s.value,
                    Role::Count => h.count = s.value,
                    Role::Created => h.created_ms = Some(created_from_value()),
                    Role::Native => {
                        if let Some((value, exemplars)) = s.native {
                            let native = match value {
                                HistogramValue::Int(n) => NativeHistogram::Int(n.clone()),
                                HistogramValue::Float(n) => NativeHistogram::Float(n.clone()),
                            };
                            h.count = native.count();
                            h.sum = native.sum();
                            h.native = Some(native);
                            h.exemplars = exemplars.to_vec();
                        }
                    }
                    _ => {
                        let le = parse_float(magic_value.unwrap_or_default())
                            .ok_or_else(|| semantic(format, &s, "invalid le label value"))?;
                        h.buckets.push(Bucket {
                            upper_bound: le,
                            cumulative_count: s.value,
                            exemplar: s.exemplar.map(owned_exemplar),
                        });
                    }
                }
            }
            (MetricValue::Info, _) => {}
            (MetricValue::Stateset(states), _) => {
                states.push((magic_value.unwrap_or_default().to_string(), s.value != 0.0));
            }
            _ => return Err(semantic(format, &s, "sample does not fit its metric")),
        }
        Ok(())
    }
}

fn owned_exemplar(e: &Exemplar<'_>) -> OwnedExemplar {
    OwnedExemplar {
        labels: e
            .labels
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        value: e.value,
        timestamp: e.timestamp,
    }
}

/// Parses a float as the exposition formats spell them (`+Inf`, `NaN`,
/// `1e+06`, ...).
fn parse_float(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

fn semantic(format: Format, s: &In<'_, '_>, what: &str) -> ParseError {
    let mut near = s.name.to_string();
    near.push('{');
    for (i, (n, v)) in s.labels.iter().enumerate() {
        if i > 0 {
            near.push(',');
        }
        near.push_str(n);
        near.push_str("=\"");
        near.push_str(v);
        near.push('"');
    }
    near.push('}');
    ParseError {
        format,
        position: crate::Position::default(),
        message: format!("collect series: {what}"),
        near,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode_text;
    use crate::text::TextParser;

    /// Collects `input` (text format) and writes it back out as text.
    #[track_caller]
    fn check(input: &str, want: Result<&str, &str>) {
        let mut p = TextParser::new(input.as_bytes()).unwrap();
        let got = MetricFamily::collect(&mut p, Format::Text).map(|f| {
            let mut out = String::new();
            encode_text(&f, &mut out);
            out
        });
        match (got, want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "collecting {input:?}"),
            (Err(e), Err(want)) => assert_eq!(e.to_string(), want, "collecting {input:?}"),
            (got, want) => panic!("collecting {input:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn collects() {
        check(
            "a 1\nb 2\n",
            Ok("# TYPE a untyped\na 1\n# TYPE b untyped\nb 2\n"),
        );
        check(
            "# TYPE a gauge\n# HELP a x\na 1\n",
            Ok("# HELP a x\n# TYPE a gauge\na 1\n"),
        );
        check(
            "# TYPE s summary\ns{q=\"1\",quantile=\"0.5\"} 1\ns{q=\"2\",quantile=\"0.5\"} 2\ns_count{q=\"1\"} 3\ns_sum{q=\"1\"} 4\n",
            Ok(
                "# TYPE s summary\ns{q=\"1\",quantile=\"0.5\"} 1\ns_sum{q=\"1\"} 4\ns_count{q=\"1\"} 3\ns{q=\"2\",quantile=\"0.5\"} 2\ns_sum{q=\"2\"} 0\ns_count{q=\"2\"} 0\n",
            ),
        );
        check(
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 3\nh_other 1\n",
            Ok(
                "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n# TYPE h_other untyped\nh_other 1\n",
            ),
        );
        check(
            "# TYPE h histogram\nh_bucket{le=\"x\"} 1\n",
            Err(
                "parse text 0.0.4 at byte 0: collect series: invalid le label value near \"h_bucket{le=\\\"x\\\"}\"",
            ),
        );
        check(
            "# TYPE h histogram\nh_bucket 1\n",
            Err(
                "parse text 0.0.4 at byte 0: collect series: missing label \"le\" near \"h_bucket{}\"",
            ),
        );
    }
}
