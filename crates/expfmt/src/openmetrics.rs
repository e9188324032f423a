//! The OpenMetrics 1.0 text parser.
//!
//! Strict, per the specification's ABNF and its rules (see [`check`] for
//! the ones spanning lines), as the OpenMetrics conformance suite expects:
//!
//! - every line ends with a line feed, blank lines are errors, and the
//!   exposition ends with `# EOF` (its line feed optional) and nothing after;
//! - only `# HELP name text`, `# TYPE name type` and `# UNIT name unit`
//!   lines may start with `#`; the name is followed by exactly one space;
//!   types are `counter`, `gauge`, `histogram`, `gaugehistogram`,
//!   `summary`, `info`, `stateset` and `unknown`; help unescapes `\\`,
//!   `\"` and `\n`;
//! - a sample is `name[{labels}] value[ timestamp][ # {labels} value[
//!   timestamp]]`, single spaces, no trailing blanks; labels have no
//!   blanks, no empty items and no trailing comma; label values unescape
//!   `\\`, `\"` and `\n` (other pairs stay as written) and are never split
//!   across lines; label names repeat nowhere;
//! - values are `number` (decimal, `inf`/`infinity` signed or not, `nan`,
//!   any case; no hex, no `_`; within `f64` range); timestamps are decimal
//!   seconds, returned in milliseconds (truncated, exact from the digits).
//!
//! Like Prometheus 3, names may also be quoted UTF-8 strings (`{"a.b"} 1`,
//! `{"label.x"="v"}`, `# TYPE "a.b" gauge`), and `le`/`quantile` values
//! are rewritten in canonical float form after a histogram/summary
//! `# TYPE` (`le="1"` is returned as `1.0`). `_created` lines are ordinary
//! samples. After an error the parser returns `None`.

mod check;

use model::MetricType;

use self::check::{CheckError, Checker, Meta, SampleInfo};
use crate::lex::num::{self, NumError, Seconds};
use crate::lex::{self, Escapes};
use crate::{Entry, Exemplar, Format, LabelsView, ParseError, Parser, Sample, Str};

type Result<T> = std::result::Result<T, ParseError>;

/// Parser for OpenMetrics 1.0 text.
///
/// Fast path: entries borrow from the input, and the label lists, scratch
/// buffer and family state are reused, so a sample costs no allocation.
pub struct OpenMetricsParser<'a> {
    input: &'a str,
    pos: usize,
    done: bool,
    bufs: Bufs,
    checker: Checker<'a>,
    /// The type of the latest `# TYPE` line (for `le`/`quantile` rewriting).
    last_type: Option<MetricType>,
}

/// Reusable per-line buffers.
#[derive(Default)]
struct Bufs {
    labels: Vec<(Str, Str)>,
    label_pos: Vec<u32>,
    exemplar: Vec<(Str, Str)>,
    exemplar_pos: Vec<u32>,
    scratch: String,
    order: Vec<u32>,
}

impl Bufs {
    fn clear(&mut self) {
        self.labels.clear();
        self.label_pos.clear();
        self.exemplar.clear();
        self.exemplar_pos.clear();
        self.scratch.clear();
    }
}

enum Parsed {
    Help { metric: Str, text: Str },
    Type { metric: Str, kind: MetricType },
    Unit { metric: Str, unit: Str },
    Sample(SampleLine),
}

/// The spans and numbers of one sample line.
struct SampleLine {
    start: usize,
    series_end: usize,
    name: Str,
    value: f64,
    ts: Option<Seconds>,
    exemplar: Option<(f64, Option<Seconds>)>,
}

fn err(input: &str, offset: usize, message: impl Into<String>) -> ParseError {
    lex::error(Format::OpenMetrics, input, offset, message)
}

impl<'a> OpenMetricsParser<'a> {
    /// A parser over `input`; fails at once if it is not UTF-8.
    pub fn new(input: &'a [u8]) -> std::result::Result<OpenMetricsParser<'a>, ParseError> {
        let input = lex::validate(Format::OpenMetrics, input)?;
        Ok(OpenMetricsParser {
            input,
            pos: 0,
            done: false,
            bufs: Bufs::default(),
            checker: Checker::new(input.len()),
            last_type: None,
        })
    }

    fn check_err(&self, e: CheckError) -> ParseError {
        err(self.input, e.offset, e.message)
    }

    fn advance(&mut self) -> Option<Result<Parsed>> {
        self.bufs.clear();
        let input = self.input;
        let b = input.as_bytes();
        let start = self.pos;
        if start >= b.len() {
            return Some(Err(err(input, b.len(), "missing # EOF at end of input")));
        }
        let end = lex::line_end(b, start);
        self.pos = (end + 1).min(b.len());
        if end == start {
            return Some(Err(err(input, start, "unexpected blank line")));
        }
        if b[start] != b'#' {
            return Some(self.sample(start, end).map(Parsed::Sample));
        }
        if &input[start..end] == "# EOF" {
            self.done = true;
            if let Err(e) = self.checker.finish(start) {
                return Some(Err(self.check_err(e)));
            }
            if self.pos < b.len() {
                return Some(Err(err(input, self.pos, "unexpected data after # EOF")));
            }
            return None;
        }
        Some(self.metadata(start, end))
    }

    fn metadata(&mut self, start: usize, end: usize) -> Result<Parsed> {
        let input = self.input;
        let b = input.as_bytes();
        let line = &input[start..end];
        let kind = ["# HELP ", "# TYPE ", "# UNIT "]
            .into_iter()
            .position(|p| line.starts_with(p));
        let Some(kind) = kind else {
            return Err(err(
                input,
                start,
                "invalid line: only # HELP, # TYPE, # UNIT and # EOF lines may start with #",
            ));
        };
        let ns = start + 7;
        let (metric, name_end) = match b.get(ns) {
            Some(b'"') => {
                let Some(e) = lex::scan_quoted(b, ns, false) else {
                    return Err(err(input, ns, "unterminated quoted metric name"));
                };
                let s = lex::unescape(
                    input,
                    ns + 1,
                    e - 1,
                    Escapes::Quoted,
                    &mut self.bufs.scratch,
                );
                if s.len == 0 {
                    return Err(err(input, ns, "invalid metric name: empty"));
                }
                (s, e)
            }
            Some(&c) if lex::is_metric_start(c) => {
                let e = lex::scan_while(b, ns, lex::is_metric_char);
                (Str::input(ns, e), e)
            }
            _ => return Err(err(input, ns, "expected metric name")),
        };
        if name_end >= end || b[name_end] != b' ' {
            return Err(err(
                input,
                name_end,
                "expected a space after the metric name",
            ));
        }
        let ts = name_end + 1;
        let name_in_input = (!metric.scratch)
            .then(|| &input[metric.start as usize..(metric.start + metric.len) as usize]);
        let (parsed, meta) = match kind {
            0 => {
                let text = lex::unescape(input, ts, end, Escapes::Quoted, &mut self.bufs.scratch);
                (Parsed::Help { metric, text }, Meta::Help)
            }
            1 => {
                let kind = match &input[ts..end] {
                    "counter" => MetricType::Counter,
                    "gauge" => MetricType::Gauge,
                    "histogram" => MetricType::Histogram,
                    "gaugehistogram" => MetricType::GaugeHistogram,
                    "summary" => MetricType::Summary,
                    "info" => MetricType::Info,
                    "stateset" => MetricType::Stateset,
                    "unknown" => MetricType::Unknown,
                    other => return Err(err(input, ts, format!("invalid metric type {other:?}"))),
                };
                self.last_type = Some(kind);
                (Parsed::Type { metric, kind }, Meta::Type(kind))
            }
            _ => {
                let unit = &input[ts..end];
                if let Some(i) = unit.bytes().position(|c| !lex::is_metric_char(c)) {
                    return Err(err(input, ts + i, format!("invalid unit {unit:?}")));
                }
                (
                    Parsed::Unit {
                        metric,
                        unit: Str::input(ts, end),
                    },
                    Meta::Unit(unit),
                )
            }
        };
        let name = metric.resolve(input, &self.bufs.scratch);
        if let Err(e) = self.checker.metadata(name, name_in_input, meta, start) {
            return Err(self.check_err(e));
        }
        Ok(parsed)
    }

    fn sample(&mut self, start: usize, end: usize) -> Result<SampleLine> {
        let input = self.input;
        let line = parse_sample_line(input, start, end, &mut self.bufs)?;
        let bufs = &self.bufs;
        let scratch = bufs.scratch.as_str();
        let exemplar_chars = line.exemplar.map(|_| {
            bufs.exemplar
                .iter()
                .map(|(n, v)| {
                    n.resolve(input, scratch).chars().count()
                        + v.resolve(input, scratch).chars().count()
                })
                .sum()
        });
        let n = line.name;
        let info = SampleInfo {
            name: n.resolve(input, scratch),
            name_in_input: (!n.scratch)
                .then(|| &input[n.start as usize..(n.start + n.len) as usize]),
            labels: LabelsView {
                input,
                scratch,
                spans: &bufs.labels,
            },
            value: line.value,
            ts: line.ts.map(|t| t.ns),
            exemplar_chars,
            offset: start,
        };
        let mut reread = |at: usize| reread_line(input, at);
        if let Err(e) = self.checker.sample(&info, &mut reread) {
            return Err(self.check_err(e));
        }
        lex::normalize_float_labels(
            self.last_type,
            input,
            &mut self.bufs.scratch,
            &mut self.bufs.labels,
        );
        Ok(line)
    }

    fn entry(&self, parsed: Parsed) -> Entry<'_> {
        let (input, scratch) = (self.input, self.bufs.scratch.as_str());
        let view = |spans| LabelsView {
            input,
            scratch,
            spans,
        };
        match parsed {
            Parsed::Help { metric, text } => Entry::Help {
                metric: metric.resolve(input, scratch),
                text: text.resolve(input, scratch),
            },
            Parsed::Type { metric, kind } => Entry::Type {
                metric: metric.resolve(input, scratch),
                kind,
            },
            Parsed::Unit { metric, unit } => Entry::Unit {
                metric: metric.resolve(input, scratch),
                unit: unit.resolve(input, scratch),
            },
            Parsed::Sample(s) => Entry::Sample(Sample {
                series: &input.as_bytes()[s.start..s.series_end],
                name: s.name.resolve(input, scratch),
                labels: view(&self.bufs.labels),
                value: s.value,
                timestamp: s.ts.map(|t| t.ms),
                exemplar: s.exemplar.map(|(value, ts)| Exemplar {
                    labels: view(&self.bufs.exemplar),
                    value,
                    timestamp: ts.map(|t| t.ms),
                }),
                created_timestamp: None,
            }),
        }
    }
}

impl Parser for OpenMetricsParser<'_> {
    fn next(&mut self) -> Option<std::result::Result<Entry<'_>, ParseError>> {
        if self.done {
            return None;
        }
        match self.advance() {
            None => {
                self.done = true;
                None
            }
            Some(Err(e)) => {
                self.done = true;
                Some(Err(e))
            }
            Some(Ok(parsed)) => Some(Ok(self.entry(parsed))),
        }
    }
}

/// The name and labels of the (valid) sample line at `at`, owned.
fn reread_line(input: &str, at: usize) -> Option<(String, Vec<(String, String)>)> {
    let mut bufs = Bufs::default();
    let end = lex::line_end(input.as_bytes(), at);
    let line = parse_sample_line(input, at, end, &mut bufs).ok()?;
    let s = bufs.scratch.as_str();
    let labels = bufs
        .labels
        .iter()
        .map(|(n, v)| {
            (
                n.resolve(input, s).to_string(),
                v.resolve(input, s).to_string(),
            )
        })
        .collect();
    Some((line.name.resolve(input, s).to_string(), labels))
}

/// The end of a value or timestamp token: the next space or line end.
fn token_end(b: &[u8], pos: usize) -> usize {
    lex::scan_while(b, pos, |c| c != b' ' && c != b'\n')
}

fn value(input: &str, pos: usize, end: usize, what: &str) -> Result<f64> {
    num::parse_value(&input[pos..end]).map_err(|e| {
        let why = if e == NumError::Range {
            "out of range"
        } else {
            "invalid"
        };
        err(input, pos, format!("{why} {what}"))
    })
}

fn seconds(input: &str, pos: usize, end: usize, what: &str) -> Result<Seconds> {
    num::parse_seconds(&input[pos..end]).map_err(|e| {
        let why = if e == NumError::Range {
            "out of range"
        } else {
            "invalid"
        };
        err(input, pos, format!("{why} {what}"))
    })
}

/// Parses the sample line `input[start..end]` into `bufs` (syntax only).
fn parse_sample_line(input: &str, start: usize, end: usize, bufs: &mut Bufs) -> Result<SampleLine> {
    let b = input.as_bytes();
    let mut i = start;
    let mut name = None;
    if lex::is_metric_start(b[i]) {
        let e = lex::scan_while(b, i, lex::is_metric_char);
        name = Some(Str::input(i, e));
        i = e;
    } else if b[i] != b'{' {
        return Err(err(input, i, "expected metric name"));
    }
    if b.get(i) == Some(&b'{') {
        i = parse_labels(input, i, false, &mut name, bufs)?;
    }
    let series_end = i;
    let Some(name) = name else {
        return Err(err(input, start, "metric name not set"));
    };
    check_duplicates(
        input,
        &bufs.labels,
        &bufs.label_pos,
        &bufs.scratch,
        &mut bufs.order,
    )?;
    if i >= end || b[i] != b' ' {
        return Err(err(
            input,
            i,
            "expected a space and the value after the metric",
        ));
    }
    i += 1;
    let ve = token_end(b, i);
    if ve == i {
        return Err(err(input, i, "expected value after metric"));
    }
    let v = value(input, i, ve, "value")?;
    i = ve;
    let mut ts = None;
    let mut exemplar = None;
    if i < end {
        i += 1;
        if b.get(i) != Some(&b'#') {
            let te = token_end(b, i);
            if te == i {
                return Err(err(input, i, "expected timestamp"));
            }
            ts = Some(seconds(input, i, te, "timestamp")?);
            i = te;
            if i < end {
                i += 1;
                if b.get(i) != Some(&b'#') {
                    return Err(err(
                        input,
                        i,
                        "expected an exemplar or the end of the line after the timestamp",
                    ));
                }
            }
        }
        if i < end {
            exemplar = Some(parse_exemplar(input, i, end, bufs)?);
        }
    }
    Ok(SampleLine {
        start,
        series_end,
        name,
        value: v,
        ts,
        exemplar,
    })
}

/// `# {labels} value[ timestamp]` from the `#` at `i` to the line end.
fn parse_exemplar(
    input: &str,
    mut i: usize,
    end: usize,
    bufs: &mut Bufs,
) -> Result<(f64, Option<Seconds>)> {
    let b = input.as_bytes();
    if b.get(i + 1) != Some(&b' ') || b.get(i + 2) != Some(&b'{') {
        return Err(err(input, i, "expected an exemplar \"# {labels} value\""));
    }
    i = parse_labels(input, i + 2, true, &mut None, bufs)?;
    check_duplicates(
        input,
        &bufs.exemplar,
        &bufs.exemplar_pos,
        &bufs.scratch,
        &mut bufs.order,
    )?;
    if i >= end || b[i] != b' ' {
        return Err(err(
            input,
            i,
            "expected a space and the value after the exemplar labels",
        ));
    }
    i += 1;
    let ve = token_end(b, i);
    if ve == i {
        return Err(err(input, i, "expected exemplar value"));
    }
    let v = value(input, i, ve, "exemplar value")?;
    i = ve;
    let mut ts = None;
    if i < end {
        i += 1;
        let te = token_end(b, i);
        if te == i {
            return Err(err(input, i, "expected exemplar timestamp"));
        }
        ts = Some(seconds(input, i, te, "exemplar timestamp")?);
        if te < end {
            return Err(err(input, te, "unexpected text after the exemplar"));
        }
    }
    Ok((v, ts))
}

fn check_duplicates(
    input: &str,
    labels: &[(Str, Str)],
    pos: &[u32],
    scratch: &str,
    order: &mut Vec<u32>,
) -> Result<()> {
    match lex::duplicate_label(input, scratch, labels, order) {
        Some(i) => {
            let n = labels[i].0.resolve(input, scratch);
            Err(err(
                input,
                pos[i] as usize,
                format!("duplicate label name {n:?}"),
            ))
        }
        None => Ok(()),
    }
}

/// The label list from the `{` at `i`; returns the offset after `}`. For a
/// sample (not `exemplar`), a quoted string followed by `,` or `}` is the
/// metric name.
fn parse_labels(
    input: &str,
    mut i: usize,
    exemplar: bool,
    name: &mut Option<Str>,
    bufs: &mut Bufs,
) -> Result<usize> {
    let b = input.as_bytes();
    let Bufs {
        labels,
        label_pos,
        exemplar: ex_labels,
        exemplar_pos,
        scratch,
        ..
    } = bufs;
    let (labels, positions) = if exemplar {
        (ex_labels, exemplar_pos)
    } else {
        (labels, label_pos)
    };
    i += 1;
    if b.get(i) == Some(&b'}') {
        return Ok(i + 1);
    }
    loop {
        let ns = i;
        let label = match b.get(i) {
            Some(&c) if lex::is_label_start(c) => {
                i = lex::scan_while(b, i, lex::is_label_char);
                Str::input(ns, i)
            }
            Some(b'"') => {
                let Some(qe) = lex::scan_quoted(b, i, false) else {
                    return Err(err(input, i, "unterminated quoted name"));
                };
                let s = lex::unescape(input, i + 1, qe - 1, Escapes::Quoted, scratch);
                i = qe;
                if !exemplar && matches!(b.get(i), Some(b',' | b'}')) {
                    if name.is_some() {
                        return Err(err(input, ns, "metric name already set"));
                    }
                    if s.len == 0 {
                        return Err(err(input, ns, "invalid metric name: empty"));
                    }
                    *name = Some(s);
                    i += 1;
                    if b[i - 1] == b'}' {
                        return Ok(i);
                    }
                    continue;
                }
                if s.len == 0 {
                    return Err(err(input, ns, "invalid label name: empty"));
                }
                s
            }
            _ => return Err(err(input, i, "expected label name")),
        };
        if b.get(i) != Some(&b'=') {
            return Err(err(input, i, "expected equal"));
        }
        i += 1;
        if b.get(i) != Some(&b'"') {
            return Err(err(input, i, "expected label value"));
        }
        let Some(ve) = lex::scan_quoted(b, i, false) else {
            return Err(err(input, i, "unterminated label value"));
        };
        let value = lex::unescape(input, i + 1, ve - 1, Escapes::Quoted, scratch);
        labels.push((label, value));
        positions.push(ns as u32);
        i = ve;
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return Ok(i + 1),
            _ => return Err(err(input, i, "expected comma or closing brace")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses with every metric key hashing alike, so each new metric goes
    /// through the collision path (re-reading earlier lines).
    fn parse_colliding(input: &str) -> std::result::Result<usize, ParseError> {
        let mut p = OpenMetricsParser::new(input.as_bytes())?;
        p.checker.hash = |_| 7;
        let mut n = 0;
        while let Some(e) = p.next() {
            e?;
            n += 1;
        }
        Ok(n)
    }

    #[test]
    fn hash_collisions_are_resolved_exactly() {
        let mut input = String::from("# TYPE a counter\n");
        for i in 0..50 {
            input.push_str(&format!(
                "a_total{{x=\"{i}\",y=\"\\\"q\"}} 1\na_created{{y=\"\\\"q\",x=\"{i}\"}} 1\n"
            ));
        }
        let valid = format!("{input}# EOF\n");
        assert_eq!(parse_colliding(&valid), Ok(101));
        let interleaved = format!("{input}a_total{{x=\"7\",y=\"\\\"q\"}} 1\n# EOF\n");
        let e = parse_colliding(&interleaved).unwrap_err();
        assert_eq!(
            (e.position.line, e.message.starts_with("metric interleaved")),
            (102, true),
            "{e}"
        );
    }
}
