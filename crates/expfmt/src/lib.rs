//! Exposition formats: streaming parsers and encoders.
//!
//! Owns the wire formats a scrape can return and an exporter can serve:
//! Prometheus text 0.0.4 (plus 1.0.0's quoted UTF-8 names), OpenMetrics 1.0
//! text, and the length-delimited protobuf `io.prometheus.client.MetricFamily`
//! stream; content negotiation between them ([`Format`]).
//!
//! Parsers are lending iterators ([`Parser::next`]): each [`Entry`] borrows
//! from the input buffer and from the parser's own reusable scratch space, so
//! the happy path allocates nothing per sample. [`Sample::series`] is the raw
//! series identity (the `name{labels}` bytes for the text formats), meant as
//! a scrape-cache key. Errors name line, column and the offending text.
//!
//! Pure and synchronous; knows nothing of storage, scraping or HTTP.

pub mod family;
pub mod format;
pub mod lint;
pub mod openmetrics;
pub mod protobuf;
pub mod text;

mod encode;
mod lex;

pub use encode::{encode_openmetrics, encode_protobuf, encode_text};
pub use family::{Metric, MetricFamily, MetricValue};
pub use format::Format;
pub use model::MetricType;

use model::{FloatHistogram, Histogram};

/// A location in a parsed input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Position {
    /// 1-based line (0 for binary formats).
    pub line: usize,
    /// 1-based column in bytes (0 for binary formats).
    pub column: usize,
    /// 0-based byte offset into the input.
    pub offset: usize,
}

/// A parse failure: where, what, and the text found there.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("parse {format} at {}: {message}{}", position_text(.position), near_text(.near))]
pub struct ParseError {
    /// The format being parsed.
    pub format: Format,
    /// Where the problem is.
    pub position: Position,
    /// What is wrong, e.g. `expected label value`.
    pub message: String,
    /// The offending text (truncated), empty at end of input.
    pub near: String,
}

fn position_text(p: &Position) -> String {
    if p.line == 0 {
        format!("byte {}", p.offset)
    } else {
        format!("line {}, column {}", p.line, p.column)
    }
}

fn near_text(near: &str) -> String {
    if near.is_empty() {
        String::new()
    } else {
        format!(" near {near:?}")
    }
}

/// A span of text in either the input or the parser's scratch buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Str {
    pub(crate) start: u32,
    pub(crate) len: u32,
    pub(crate) scratch: bool,
}

impl Str {
    pub(crate) fn input(start: usize, end: usize) -> Str {
        Str {
            start: start as u32,
            len: (end - start) as u32,
            scratch: false,
        }
    }
    pub(crate) fn scratch(start: usize, end: usize) -> Str {
        Str {
            start: start as u32,
            len: (end - start) as u32,
            scratch: true,
        }
    }
    pub(crate) fn resolve<'p>(self, input: &'p str, scratch: &'p str) -> &'p str {
        let s = if self.scratch { scratch } else { input };
        &s[self.start as usize..(self.start + self.len) as usize]
    }
}

/// The labels of one sample or exemplar, borrowed from a parser.
///
/// Does not include the metric name. Order is as exposed (not sorted).
#[derive(Clone, Copy, Debug)]
pub struct LabelsView<'p> {
    pub(crate) input: &'p str,
    pub(crate) scratch: &'p str,
    pub(crate) spans: &'p [(Str, Str)],
}

impl<'p> LabelsView<'p> {
    /// An empty view.
    pub fn empty() -> LabelsView<'static> {
        LabelsView {
            input: "",
            scratch: "",
            spans: &[],
        }
    }

    /// Iterates over (name, value) pairs in exposition order.
    pub fn iter(&self) -> impl Iterator<Item = (&'p str, &'p str)> + 'p {
        let (input, scratch) = (self.input, self.scratch);
        self.spans
            .iter()
            .map(move |(n, v)| (n.resolve(input, scratch), v.resolve(input, scratch)))
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&'p str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

/// An exemplar attached to a sample.
#[derive(Clone, Copy, Debug)]
pub struct Exemplar<'p> {
    /// The exemplar's labels (e.g. `trace_id`).
    pub labels: LabelsView<'p>,
    /// The exemplar's value.
    pub value: f64,
    /// Its timestamp in milliseconds, if given.
    pub timestamp: Option<i64>,
}

/// One float sample of a series.
#[derive(Clone, Copy, Debug)]
pub struct Sample<'p> {
    /// Raw series identity, stable across scrapes of an unchanged exposition:
    /// the exact `name{labels}` bytes for the text formats, a synthesized key
    /// for protobuf. Use it as a cache key; do not parse it.
    pub series: &'p [u8],
    /// The metric name, with any suffix (`_bucket`, `_total`, ...).
    pub name: &'p str,
    /// The labels, without the name.
    pub labels: LabelsView<'p>,
    /// The value.
    pub value: f64,
    /// The explicit timestamp in milliseconds, if given.
    pub timestamp: Option<i64>,
    /// The exemplar, if given.
    pub exemplar: Option<Exemplar<'p>>,
    /// The created timestamp in milliseconds, when the format carries it on
    /// the sample itself (protobuf). OpenMetrics `_created` lines are
    /// separate samples.
    pub created_timestamp: Option<i64>,
}

/// A native histogram's value.
#[derive(Clone, Copy, Debug)]
pub enum HistogramValue<'p> {
    /// Integer counts.
    Int(&'p Histogram),
    /// Float counts.
    Float(&'p FloatHistogram),
}

/// One native-histogram sample of a series (protobuf only).
#[derive(Clone, Debug)]
pub struct HistogramSample<'p> {
    /// Raw series identity, as in [`Sample::series`].
    pub series: &'p [u8],
    /// The metric name (no suffix).
    pub name: &'p str,
    /// The labels, without the name.
    pub labels: LabelsView<'p>,
    /// The histogram.
    pub value: HistogramValue<'p>,
    /// The explicit timestamp in milliseconds, if given.
    pub timestamp: Option<i64>,
    /// Exemplars attached to the histogram.
    pub exemplars: &'p [OwnedExemplar],
    /// The created timestamp in milliseconds, if given.
    pub created_timestamp: Option<i64>,
}

/// An exemplar that owns its data (used where several accompany one value).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct OwnedExemplar {
    /// Label pairs.
    pub labels: Vec<(String, String)>,
    /// Value.
    pub value: f64,
    /// Timestamp in milliseconds, if given.
    pub timestamp: Option<i64>,
}

/// One item of an exposition.
#[derive(Clone, Debug)]
pub enum Entry<'p> {
    /// `# HELP name text` (text unescaped).
    Help {
        /// The metric family name.
        metric: &'p str,
        /// The help text.
        text: &'p str,
    },
    /// `# TYPE name type`.
    Type {
        /// The metric family name.
        metric: &'p str,
        /// The type.
        kind: MetricType,
    },
    /// `# UNIT name unit` (OpenMetrics, or protobuf's unit field).
    Unit {
        /// The metric family name.
        metric: &'p str,
        /// The unit.
        unit: &'p str,
    },
    /// A float sample.
    Sample(Sample<'p>),
    /// A native histogram sample.
    Histogram(HistogramSample<'p>),
    /// A comment line that is not HELP/TYPE/UNIT (text 0.0.4 only).
    Comment(&'p str),
}

/// A streaming exposition parser: call [`Parser::next`] until it returns
/// `None`. After an error, the parser's state is unspecified: stop.
pub trait Parser {
    /// The next entry, or `None` at the end of input.
    fn next(&mut self) -> Option<Result<Entry<'_>, ParseError>>;
}

/// A parser for any supported format, chosen at run time without boxing.
pub enum AnyParser<'a> {
    /// Prometheus text.
    Text(text::TextParser<'a>),
    /// OpenMetrics text.
    OpenMetrics(openmetrics::OpenMetricsParser<'a>),
    /// Delimited protobuf.
    Protobuf(protobuf::ProtobufParser<'a>),
}

impl<'a> AnyParser<'a> {
    /// A parser for `input` in `format`. Text formats fail at once (with the
    /// position of the first bad byte) if the input is not UTF-8.
    pub fn new(format: Format, input: &'a [u8]) -> Result<AnyParser<'a>, ParseError> {
        Ok(match format {
            Format::Text | Format::Text1 => AnyParser::Text(text::TextParser::new(input)?),
            Format::OpenMetrics => {
                AnyParser::OpenMetrics(openmetrics::OpenMetricsParser::new(input)?)
            }
            Format::Protobuf => AnyParser::Protobuf(protobuf::ProtobufParser::new(input)),
        })
    }
}

impl Parser for AnyParser<'_> {
    fn next(&mut self) -> Option<Result<Entry<'_>, ParseError>> {
        match self {
            AnyParser::Text(p) => p.next(),
            AnyParser::OpenMetrics(p) => p.next(),
            AnyParser::Protobuf(p) => p.next(),
        }
    }
}
