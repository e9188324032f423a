//! The Prometheus text format parser (0.0.4, plus 1.0.0's quoted names).
//!
//! Mirrors Prometheus's scrape parser (`model/textparse/promparse.go` and
//! its lexer `promlex.l`), including its leniency:
//!
//! - spaces and tabs may appear between any two tokens, before a line and
//!   after the value or timestamp; blank lines are skipped;
//! - `#` lines are comments unless they read `# HELP name text` or
//!   `# TYPE name type` (any blanks after `#` and after the keyword); the
//!   text after the name loses its first character (the separator), and a
//!   rest of only blanks is empty text; help unescapes `\\` and `\n`;
//! - label values (and quoted names) unescape `\\`, `\"` and `\n`, keep
//!   other backslash pairs as written, and may contain raw line feeds;
//! - commas between labels are optional and a trailing comma is allowed;
//! - quoted UTF-8 names: `{"my.metric", "label.name"="v"} 1`, and
//!   `# HELP "my.metric" text`;
//! - the value is whatever runs up to a blank, `{` or line end, parsed as a
//!   Go float without hex or `_` (`NaN`, `+Inf`, `-Inf`, `1e3`, ...); the
//!   timestamp is unsigned decimal digits, in milliseconds;
//! - `le` (after a histogram `TYPE`) and `quantile` (after a summary
//!   `TYPE`) label values are rewritten in the canonical float form
//!   (`1` becomes `1.0`), as Prometheus does when it builds labels; the
//!   type is that of the latest `# TYPE` line, as in Prometheus.
//!
//! Deliberate differences, all stricter: a NUL byte where a line starts is
//! an error (Prometheus silently stops parsing there), repeated label names
//! are rejected here rather than by the scrape loop, and so are empty
//! quoted names.
//!
//! Comments are returned whole, `#` included, as Prometheus does.

use model::MetricType;

use crate::lex::num::{self, NumError};
use crate::lex::{self, Escapes};
use crate::{Entry, Format, LabelsView, ParseError, Parser, Sample, Str};

/// Parser for the Prometheus text format.
///
/// Fast path: every entry borrows from the input, the label list and the
/// scratch buffer are reused, so a sample costs no allocation.
pub struct TextParser<'a> {
    input: &'a str,
    pos: usize,
    done: bool,
    labels: Vec<(Str, Str)>,
    label_pos: Vec<u32>,
    scratch: String,
    order: Vec<u32>,
    /// The type of the latest `# TYPE` line (for `le`/`quantile` rewriting).
    last_type: Option<MetricType>,
}

/// What one call to `advance` found, as spans.
enum Parsed {
    Help { metric: Str, text: Str },
    Type { metric: Str, kind: MetricType },
    Comment(Str),
    Sample(SampleSpans),
}

struct SampleSpans {
    series: (usize, usize),
    name: Str,
    value: f64,
    timestamp: Option<i64>,
}

/// A token inside `{...}`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tok {
    Close,
    Equal,
    Comma,
    Name(usize, usize),
    Quoted(usize, usize),
    Invalid,
}

type Result<T> = std::result::Result<T, ParseError>;

impl<'a> TextParser<'a> {
    /// A parser over `input`; fails at once if it is not UTF-8.
    pub fn new(input: &'a [u8]) -> std::result::Result<TextParser<'a>, ParseError> {
        Ok(TextParser {
            input: lex::validate(Format::Text, input)?,
            pos: 0,
            done: false,
            labels: Vec::new(),
            label_pos: Vec::new(),
            scratch: String::new(),
            order: Vec::new(),
            last_type: None,
        })
    }

    fn err(&self, offset: usize, message: impl Into<String>) -> ParseError {
        lex::error(Format::Text, self.input, offset, message)
    }

    fn bytes(&self) -> &'a [u8] {
        self.input.as_bytes()
    }

    fn advance(&mut self) -> Option<Result<Parsed>> {
        self.labels.clear();
        self.label_pos.clear();
        self.scratch.clear();
        let b = self.bytes();
        loop {
            self.pos = lex::skip_blanks(b, self.pos);
            let start = self.pos;
            let c = *b.get(start)?;
            return Some(match c {
                b'\n' => {
                    self.pos += 1;
                    continue;
                }
                b'#' => self.comment_or_metadata(start),
                b'{' => self.sample(start).map(Parsed::Sample),
                c if lex::is_metric_start(c) => self.sample(start).map(Parsed::Sample),
                0 => Err(self.err(start, "unexpected NUL byte")),
                _ => Err(self.err(start, "expected a valid start token")),
            });
        }
    }

    /// Moves past the line feed ending the line at `end` (or to the end).
    fn finish_line(&mut self, end: usize) {
        self.pos = (end + 1).min(self.input.len());
    }

    fn comment_or_metadata(&mut self, start: usize) -> Result<Parsed> {
        let b = self.bytes();
        let after_hash = start + 1;
        let kw = lex::skip_blanks(b, after_hash);
        if kw > after_hash {
            let word = b.get(kw..kw + 4);
            let blank_after = matches!(b.get(kw + 4), Some(b' ' | b'\t'));
            if blank_after && word == Some(b"HELP") {
                return self.metadata(kw + 4, true);
            }
            if blank_after && word == Some(b"TYPE") {
                return self.metadata(kw + 4, false);
            }
        }
        let end = lex::line_end(b, start);
        self.finish_line(end);
        Ok(Parsed::Comment(Str::input(start, end)))
    }

    /// `# HELP` / `# TYPE` after the keyword (at the blanks following it).
    fn metadata(&mut self, at: usize, help: bool) -> Result<Parsed> {
        let b = self.bytes();
        let what = if help { "HELP" } else { "TYPE" };
        let start = lex::skip_blanks(b, at);
        let (metric, name_end) = match b.get(start) {
            Some(b'"') => {
                let Some(end) = lex::scan_quoted(b, start, true) else {
                    return Err(self.err(start, format!("expected metric name after {what}")));
                };
                let s = lex::unescape(
                    self.input,
                    start + 1,
                    end - 1,
                    Escapes::Quoted,
                    &mut self.scratch,
                );
                if s.len == 0 {
                    return Err(self.err(start, "invalid metric name: empty"));
                }
                (s, end)
            }
            Some(&c) if lex::is_metric_start(c) => {
                let end = lex::scan_while(b, start, lex::is_metric_char);
                (Str::input(start, end), end)
            }
            _ => return Err(self.err(start, format!("expected metric name after {what}"))),
        };
        let end = lex::line_end(b, name_end);
        let rest = &self.input[name_end..end];
        // The lexer's text token includes the separator, which is dropped;
        // a rest of only blanks lexes as whitespace, then empty text.
        let text_start = match rest.chars().next() {
            Some(_) if rest.bytes().all(|c| c == b' ' || c == b'\t') => end,
            Some(c) => name_end + c.len_utf8(),
            None => end,
        };
        self.finish_line(end);
        if help {
            let text = lex::unescape(
                self.input,
                text_start,
                end,
                Escapes::TextHelp,
                &mut self.scratch,
            );
            return Ok(Parsed::Help { metric, text });
        }
        let kind = match &self.input[text_start..end] {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "summary" => MetricType::Summary,
            "untyped" => MetricType::Unknown,
            other => return Err(self.err(text_start, format!("invalid metric type {other:?}"))),
        };
        self.last_type = Some(kind);
        Ok(Parsed::Type { metric, kind })
    }

    /// A sample line starting at a metric name or `{`.
    fn sample(&mut self, start: usize) -> Result<SampleSpans> {
        let b = self.bytes();
        let mut name = None;
        let mut pos = start;
        let mut series_end = start;
        if b[start] != b'{' {
            pos = lex::scan_while(b, start, lex::is_metric_char);
            name = Some(Str::input(start, pos));
            series_end = pos;
            pos = lex::skip_blanks(b, pos);
        }
        if b.get(pos) == Some(&b'{') {
            pos = self.labels(pos + 1, &mut name)?;
            series_end = pos;
            pos = lex::skip_blanks(b, pos);
        }
        let Some(name) = name else {
            return Err(self.err(start, "metric name not set"));
        };
        if let Some(i) =
            lex::duplicate_label(self.input, &self.scratch, &self.labels, &mut self.order)
        {
            let at = self.label_pos[i] as usize;
            let n = self.labels[i].0.resolve(self.input, &self.scratch);
            return Err(self.err(at, format!("duplicate label name {n:?}")));
        }
        lex::normalize_float_labels(
            self.last_type,
            self.input,
            &mut self.scratch,
            &mut self.labels,
        );

        let value_end = lex::scan_while(b, pos, |c| !matches!(c, b'{' | b' ' | b'\t' | b'\n' | 0));
        if value_end == pos {
            return Err(self.err(pos, "expected value after metric"));
        }
        let value = num::parse_value(&self.input[pos..value_end]).map_err(|e| {
            self.err(
                pos,
                match e {
                    NumError::Unsupported => "unsupported character in float",
                    NumError::Range => "value out of range",
                    NumError::Syntax => "invalid float value",
                },
            )
        })?;
        pos = lex::skip_blanks(b, value_end);
        let mut timestamp = None;
        match b.get(pos) {
            None | Some(b'\n') => {}
            Some(c) if c.is_ascii_digit() => {
                let ts_end = lex::scan_while(b, pos, |c| c.is_ascii_digit());
                let ts = self.input[pos..ts_end]
                    .parse::<i64>()
                    .map_err(|_| self.err(pos, "timestamp out of range"))?;
                timestamp = Some(ts);
                pos = lex::skip_blanks(b, ts_end);
                if !matches!(b.get(pos), None | Some(b'\n')) {
                    return Err(self.err(pos, "expected next entry after timestamp"));
                }
            }
            Some(_) => return Err(self.err(pos, "expected timestamp or new record")),
        }
        self.finish_line(pos);
        Ok(SampleSpans {
            series: (start, series_end),
            name,
            value,
            timestamp,
        })
    }

    /// The next token inside braces, from `pos`; returns it and its end.
    fn label_token(&self, pos: usize) -> (Tok, usize, usize) {
        let b = self.bytes();
        let s = lex::skip_blanks(b, pos);
        match b.get(s) {
            Some(b'}') => (Tok::Close, s, s + 1),
            Some(b'=') => (Tok::Equal, s, s + 1),
            Some(b',') => (Tok::Comma, s, s + 1),
            Some(b'"') => match lex::scan_quoted(b, s, true) {
                Some(e) => (Tok::Quoted(s, e), s, e),
                None => (Tok::Invalid, s, s),
            },
            Some(&c) if lex::is_label_start(c) => {
                let e = lex::scan_while(b, s, lex::is_label_char);
                (Tok::Name(s, e), s, e)
            }
            _ => (Tok::Invalid, s, s),
        }
    }

    /// The label list after `{` (at `pos`), as promparse's `parseLVals`;
    /// returns the offset after `}`. A quoted string followed by `,` or `}`
    /// is the metric name.
    fn labels(&mut self, pos: usize, name: &mut Option<Str>) -> Result<usize> {
        let b = self.bytes();
        let (mut t, mut t_start, mut pos) = self.label_token(pos);
        loop {
            let (quoted, ns, ne) = match t {
                Tok::Close => return Ok(pos),
                Tok::Name(s, e) => (false, s, e),
                Tok::Quoted(s, e) => (true, s, e),
                _ => return Err(self.err(t_start, "expected label name")),
            };
            let (next, next_start, next_end) = self.label_token(pos);
            if quoted && matches!(next, Tok::Comma | Tok::Close) {
                if name.is_some() {
                    return Err(self.err(ns, "metric name already set"));
                }
                let s = lex::unescape(
                    self.input,
                    ns + 1,
                    ne - 1,
                    Escapes::Quoted,
                    &mut self.scratch,
                );
                if s.len == 0 {
                    return Err(self.err(ns, "invalid metric name: empty"));
                }
                *name = Some(s);
                if next == Tok::Close {
                    return Ok(next_end);
                }
                (t, t_start, pos) = self.label_token(next_end);
                continue;
            }
            let label = if quoted {
                let s = lex::unescape(
                    self.input,
                    ns + 1,
                    ne - 1,
                    Escapes::Quoted,
                    &mut self.scratch,
                );
                if s.len == 0 {
                    return Err(self.err(ns, "invalid label name: empty"));
                }
                s
            } else {
                Str::input(ns, ne)
            };
            if next != Tok::Equal {
                return Err(self.err(next_start, "expected equal"));
            }
            let vs = lex::skip_blanks(b, next_end);
            let ve = match b.get(vs) {
                Some(b'"') => lex::scan_quoted(b, vs, true),
                _ => None,
            };
            let Some(ve) = ve else {
                return Err(self.err(vs, "expected label value"));
            };
            let value = lex::unescape(
                self.input,
                vs + 1,
                ve - 1,
                Escapes::Quoted,
                &mut self.scratch,
            );
            self.labels.push((label, value));
            self.label_pos.push(ns as u32);
            (t, t_start, pos) = self.label_token(ve);
            if t == Tok::Comma {
                (t, t_start, pos) = self.label_token(pos);
            }
        }
    }

    fn entry(&self, parsed: Parsed) -> Entry<'_> {
        let (input, scratch) = (self.input, self.scratch.as_str());
        match parsed {
            Parsed::Help { metric, text } => Entry::Help {
                metric: metric.resolve(input, scratch),
                text: text.resolve(input, scratch),
            },
            Parsed::Type { metric, kind } => Entry::Type {
                metric: metric.resolve(input, scratch),
                kind,
            },
            Parsed::Comment(s) => Entry::Comment(s.resolve(input, scratch)),
            Parsed::Sample(s) => Entry::Sample(Sample {
                series: &input.as_bytes()[s.series.0..s.series.1],
                name: s.name.resolve(input, scratch),
                labels: LabelsView {
                    input,
                    scratch,
                    spans: &self.labels,
                },
                value: s.value,
                timestamp: s.timestamp,
                exemplar: None,
                created_timestamp: None,
            }),
        }
    }
}

impl Parser for TextParser<'_> {
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
