//! Linting of text expositions, as `promtool check metrics` does it.
//!
//! promtool does not use Prometheus's scrape parser here: it reads the input
//! with client_golang's stricter family parser (every line must end in a
//! newline, one TYPE and one HELP per family and TYPE before samples, no
//! `__name__` label, integer timestamps, ...) and then applies the promlint
//! rules to each family. [`parse_families`] reproduces that parser's
//! acceptance and error messages, [`lint`] the rules and their order, so
//! `ember tool check metrics` and promtool report the same findings.

use std::collections::HashMap;
use std::fmt;

/// A metric family as the linter sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Family {
    /// The family name (without `_bucket`/`_sum`/`_count` for histograms
    /// and summaries).
    pub name: String,
    /// The HELP text, if a HELP line with text was given.
    pub help: Option<String>,
    /// The declared type; `None` for untyped.
    pub kind: Option<LintType>,
    /// The metrics (one per sample line, or per label set for histograms
    /// and summaries).
    pub metrics: Vec<FamilyMetric>,
}

/// The types client_golang knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LintType {
    /// `counter`
    Counter,
    /// `gauge`
    Gauge,
    /// `summary`
    Summary,
    /// `untyped`
    Untyped,
    /// `histogram`
    Histogram,
    /// `gauge_histogram`
    GaugeHistogram,
}

impl LintType {
    fn parse(token: &str) -> Option<LintType> {
        Some(match token.to_ascii_uppercase().as_str() {
            "COUNTER" => LintType::Counter,
            "GAUGE" => LintType::Gauge,
            "SUMMARY" => LintType::Summary,
            "UNTYPED" => LintType::Untyped,
            "HISTOGRAM" => LintType::Histogram,
            "GAUGE_HISTOGRAM" => LintType::GaugeHistogram,
            _ => return None,
        })
    }
}

/// One metric of a [`Family`].
#[derive(Clone, Debug, PartialEq, Default)]
pub struct FamilyMetric {
    /// Label pairs, excluding `le` of histograms and `quantile` of summaries.
    pub labels: Vec<(String, String)>,
    /// Number of quantile samples (summaries).
    pub quantiles: usize,
    /// Number of bucket samples (histograms).
    pub buckets: usize,
}

/// A failure of the family parser, worded as client_golang words it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("text format parsing error in line {line}: {message}")]
pub struct TextError {
    /// 1-based line number.
    pub line: usize,
    /// What went wrong.
    pub message: String,
}

/// One lint finding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// The family the finding is about.
    pub metric: String,
    /// The finding.
    pub text: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.metric, self.text)
    }
}

/// Lints a text exposition: parses it into families, then applies every
/// rule. Problems are sorted by metric name, then text, like promlint.
pub fn lint_text(input: &[u8]) -> Result<Vec<Problem>, TextError> {
    Ok(lint(&parse_families(input)?))
}

/// Applies the promlint rules to `families`, sorted by metric then text.
pub fn lint(families: &[Family]) -> Vec<Problem> {
    let mut out = Vec::new();
    for f in families {
        lint_family(f, &mut out);
    }
    out.sort();
    out
}

/// Cardinality per family as `promtool check metrics --extended` counts it:
/// metrics × (2 + buckets or quantiles of the first metric) for histograms
/// and summaries, the number of metrics otherwise. Sorted by cardinality,
/// descending, then by name (promtool leaves ties in map order).
pub fn cardinality(families: &[Family]) -> Vec<(String, usize)> {
    let mut stats: Vec<(String, usize)> = families
        .iter()
        .map(|f| {
            let n = f.metrics.len();
            let c = match f.kind {
                Some(LintType::Histogram) => n * (2 + f.metrics.first().map_or(0, |m| m.buckets)),
                Some(LintType::Summary) => n * (2 + f.metrics.first().map_or(0, |m| m.quantiles)),
                _ => n,
            };
            (f.name.clone(), c)
        })
        .collect();
    stats.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    stats
}

// ---------------------------------------------------------------------------
// Rules.

const UNITS: &[(&str, &str)] = &[
    ("amperes", "amperes"),
    ("bytes", "bytes"),
    ("celsius", "celsius"),
    ("grams", "grams"),
    ("joules", "joules"),
    ("kelvin", "kelvin"),
    ("meters", "meters"),
    ("metres", "metres"),
    ("seconds", "seconds"),
    ("volts", "volts"),
    ("minutes", "seconds"),
    ("hours", "seconds"),
    ("days", "seconds"),
    ("weeks", "seconds"),
    ("kelvins", "kelvin"),
    ("fahrenheit", "celsius"),
    ("rankine", "celsius"),
    ("inches", "meters"),
    ("yards", "meters"),
    ("miles", "meters"),
    ("bits", "bytes"),
    ("calories", "joules"),
    ("pounds", "grams"),
    ("ounces", "grams"),
];

const UNIT_PREFIXES: &[&str] = &[
    "pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto", "kilo", "kibi", "mega",
    "mibi", "giga", "gibi", "tera", "tebi", "peta", "pebi",
];

const UNIT_ABBREVIATIONS: &[&str] = &[
    "s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d",
];

const TYPE_NAMES: &[&str] = &[
    "counter",
    "gauge",
    "summary",
    "histogram",
    "gauge_histogram",
];

fn base_unit(unit: &str) -> Option<&'static str> {
    UNITS.iter().find(|(u, _)| *u == unit).map(|(_, b)| *b)
}

/// The first `_`-separated word of `name` that is a known unit, with or
/// without a prefix, and its base unit. (promlint in client_golang 1.14
/// searched in map order, so names with two units were nondeterministic;
/// we take the first in name order, as later versions do.)
fn metric_unit(name: &str) -> Option<(&str, &'static str)> {
    for word in name.split('_') {
        if let Some(base) = base_unit(word) {
            return Some((word, base));
        }
        for p in UNIT_PREFIXES {
            if let Some(rest) = word.strip_prefix(p)
                && let Some(base) = base_unit(rest)
            {
                return Some((word, base));
            }
        }
    }
    None
}

fn has_word(lower_name: &str, word: &str) -> bool {
    lower_name.contains(&format!("_{word}_")) || lower_name.ends_with(&format!("_{word}"))
}

fn is_camel_case(s: &str) -> bool {
    s.as_bytes()
        .windows(2)
        .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
}

fn lint_family(f: &Family, out: &mut Vec<Problem>) {
    let mut add = |text: String| {
        out.push(Problem {
            metric: f.name.clone(),
            text,
        })
    };
    let name = f.name.as_str();
    let kind = f.kind.unwrap_or(LintType::Untyped);

    if f.help.is_none() {
        add("no help text".to_string());
    }
    if let Some((unit, base)) = metric_unit(name)
        && unit != base
    {
        add(format!("use base unit {base:?} instead of {unit:?}"));
    }
    let is_counter = kind == LintType::Counter;
    let is_untyped = kind == LintType::Untyped;
    let total = name.ends_with("_total");
    if is_counter && !total {
        add(r#"counter metrics should have "_total" suffix"#.to_string());
    } else if !is_untyped && !is_counter && total {
        add(r#"non-counter metrics should not have "_total" suffix"#.to_string());
    }
    if !is_untyped {
        let hist = kind == LintType::Histogram;
        let summ = kind == LintType::Summary;
        if !hist && name.ends_with("_bucket") {
            add(r#"non-histogram metrics should not have "_bucket" suffix"#.to_string());
        }
        if !hist && !summ && name.ends_with("_count") {
            add(
                r#"non-histogram and non-summary metrics should not have "_count" suffix"#
                    .to_string(),
            );
        }
        if !hist && !summ && name.ends_with("_sum") {
            add(
                r#"non-histogram and non-summary metrics should not have "_sum" suffix"#
                    .to_string(),
            );
        }
        for m in &f.metrics {
            for (ln, _) in &m.labels {
                if !hist && ln == "le" {
                    add(r#"non-histogram metrics should not have "le" label"#.to_string());
                }
                if !summ && ln == "quantile" {
                    add(r#"non-summary metrics should not have "quantile" label"#.to_string());
                }
            }
        }
    }
    let lower = name.to_lowercase();
    for t in TYPE_NAMES {
        if has_word(&lower, t) {
            add(format!("metric name should not include type '{t}'"));
        }
    }
    if name.contains(':') {
        add("metric names should not contain ':'".to_string());
    }
    if is_camel_case(name) {
        add("metric names should be written in 'snake_case' not 'camelCase'".to_string());
    }
    for m in &f.metrics {
        for (ln, _) in &m.labels {
            if is_camel_case(ln) {
                add("label names should be written in 'snake_case' not 'camelCase'".to_string());
            }
        }
    }
    for a in UNIT_ABBREVIATIONS {
        if has_word(&lower, a) {
            add("metric names should not contain abbreviated units".to_string());
        }
    }
}

// ---------------------------------------------------------------------------
// The family parser (client_golang's text parser semantics).

/// Parses a text exposition into families with client_golang's rules and
/// error messages. Families without samples are dropped, as there.
pub fn parse_families(input: &[u8]) -> Result<Vec<Family>, TextError> {
    let mut p = FamilyParser {
        input,
        pos: 0,
        line: 0,
        families: Vec::new(),
        by_name: HashMap::new(),
    };
    p.run()?;
    Ok(p.families
        .into_iter()
        .map(|f| f.family)
        .filter(|f| !f.metrics.is_empty())
        .collect())
}

struct ParsingFamily {
    family: Family,
    /// Label signature (sorted pairs) -> metric index, for histograms and summaries.
    grouped: HashMap<Vec<(String, String)>, usize>,
}

struct FamilyParser<'a> {
    input: &'a [u8],
    pos: usize,
    line: usize,
    families: Vec<ParsingFamily>,
    by_name: HashMap<String, usize>,
}

/// What a sample line's name refers to within its family.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Plain,
    Sum,
    Count,
}

enum Stop {
    Eof,
    Err(String),
}

impl From<String> for Stop {
    fn from(s: String) -> Stop {
        Stop::Err(s)
    }
}

type Step<T> = Result<T, Stop>;

fn is_metric_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}
fn is_metric_cont(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}
fn is_label_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}
fn is_label_cont(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Go's `%q` of a single byte (a rune literal).
fn quote_byte(b: u8) -> String {
    match b {
        b'\n' => "'\\n'".to_string(),
        b'\t' => "'\\t'".to_string(),
        b'\r' => "'\\r'".to_string(),
        b'\'' => "'\\''".to_string(),
        b'\\' => "'\\\\'".to_string(),
        0x20..=0x7e => format!("'{}'", b as char),
        0x00..=0x1f | 0x7f => format!("'\\x{b:02x}'"),
        _ => {
            let c = char::from(b);
            if (0x80..0xa0).contains(&b) {
                format!("'\\u{:04x}'", b)
            } else {
                format!("'{c}'")
            }
        }
    }
}

/// Go's `%q` of a string (close enough for error messages: escapes quotes,
/// backslashes and control characters).
fn quote_str(s: &str) -> String {
    format!("{s:?}")
}

/// client_golang's float parsing: Go's `ParseFloat` without hex floats and
/// underscores, and out-of-range values rejected.
fn go_parse_float(s: &str) -> Option<f64> {
    if s.contains(['p', 'P', '_']) {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let body = lower.strip_prefix(['+', '-']).unwrap_or(&lower);
    let literal_special = matches!(body, "inf" | "infinity" | "nan");
    if body.starts_with("0x")
        || (!literal_special && body.chars().any(|c| c.is_ascii_alphabetic() && c != 'e'))
    {
        return None;
    }
    if body == "nan" && lower.len() != body.len() {
        return None;
    }
    let v: f64 = lower.parse().ok()?;
    if v.is_infinite() && !literal_special {
        return None;
    }
    Some(v)
}

impl FamilyParser<'_> {
    fn run(&mut self) -> Result<(), TextError> {
        loop {
            match self.line() {
                Ok(true) => continue,
                Ok(false) => return Ok(()),
                Err(Stop::Eof) => {
                    return Err(TextError {
                        line: self.line,
                        message: "unexpected end of input stream".into(),
                    });
                }
                Err(Stop::Err(message)) => {
                    return Err(TextError {
                        line: self.line,
                        message,
                    });
                }
            }
        }
    }

    fn peek(&self) -> Step<u8> {
        self.input.get(self.pos).copied().ok_or(Stop::Eof)
    }

    fn skip_blank_tab(&mut self) -> Step<u8> {
        loop {
            let b = self.peek()?;
            if b == b' ' || b == b'\t' {
                self.pos += 1;
            } else {
                return Ok(b);
            }
        }
    }

    /// Parses one line. `Ok(false)` at a clean end of input.
    fn line(&mut self) -> Step<bool> {
        self.line += 1;
        let b = match self.skip_blank_tab() {
            Ok(b) => b,
            Err(Stop::Eof) => return Ok(false),
            Err(e) => return Err(e),
        };
        match b {
            b'#' => {
                self.pos += 1;
                self.comment()?;
            }
            b'\n' => self.pos += 1,
            _ => self.sample()?,
        }
        Ok(true)
    }

    fn token_until_whitespace(&mut self) -> Step<String> {
        let start = self.pos;
        loop {
            let b = self.peek()?;
            if b == b' ' || b == b'\t' || b == b'\n' {
                return Ok(String::from_utf8_lossy(&self.input[start..self.pos]).into_owned());
            }
            self.pos += 1;
        }
    }

    /// Reads to the end of the line (consuming the newline).
    fn token_until_newline(&mut self, escapes: bool) -> Step<String> {
        let mut out = Vec::new();
        loop {
            let b = self.peek()?;
            self.pos += 1;
            match b {
                b'\n' => return Ok(String::from_utf8_lossy(&out).into_owned()),
                b'\\' if escapes => {
                    let e = self.peek()?;
                    self.pos += 1;
                    match e {
                        b'\\' => out.push(b'\\'),
                        b'n' => out.push(b'\n'),
                        _ => {
                            return Err(Stop::Err(format!(
                                "invalid escape sequence '\\{}'",
                                e as char
                            )));
                        }
                    }
                }
                _ => out.push(b),
            }
        }
    }

    fn metric_name(&mut self) -> Step<String> {
        let start = self.pos;
        if !is_metric_start(self.peek()?) {
            return Ok(String::new());
        }
        self.pos += 1;
        while self.pos < self.input.len() && is_metric_cont(self.input[self.pos]) {
            self.pos += 1;
        }
        Ok(String::from_utf8_lossy(&self.input[start..self.pos]).into_owned())
    }

    fn comment(&mut self) -> Step<()> {
        if self.skip_blank_tab()? == b'\n' {
            self.pos += 1;
            return Ok(());
        }
        let keyword = self.token_until_whitespace()?;
        if self.peek()? == b'\n' {
            self.pos += 1;
            return Ok(());
        }
        if keyword != "HELP" && keyword != "TYPE" {
            self.token_until_newline(false)?;
            return Ok(());
        }
        self.skip_blank_tab()?;
        let name = self.metric_name()?;
        let b = self.peek()?;
        if b == b'\n' {
            self.pos += 1;
            return Ok(());
        }
        if b != b' ' && b != b'\t' {
            return Err("invalid metric name in comment".to_string().into());
        }
        let (fi, _) = self.family_for(&name);
        if self.skip_blank_tab()? == b'\n' {
            self.pos += 1;
            return Ok(());
        }
        let fam = &self.families[fi].family;
        if keyword == "HELP" {
            if fam.help.is_some() {
                return Err(
                    format!("second HELP line for metric name {}", quote_str(&fam.name)).into(),
                );
            }
            let text = self.token_until_newline(true)?;
            self.families[fi].family.help = Some(text);
        } else {
            if fam.kind.is_some() {
                return Err(format!(
                    "second TYPE line for metric name {}, or TYPE reported after samples",
                    quote_str(&fam.name)
                )
                .into());
            }
            let token = self.token_until_newline(false)?;
            let Some(kind) = LintType::parse(&token) else {
                return Err(format!("unknown metric type {}", quote_str(&token)).into());
            };
            self.families[fi].family.kind = Some(kind);
        }
        Ok(())
    }

    /// Finds the family a name belongs to (its own, or the summary or
    /// histogram it is a `_sum`/`_count`/`_bucket` of), creating it if
    /// needed.
    fn family_for(&mut self, name: &str) -> (usize, Role) {
        if let Some(&i) = self.by_name.get(name) {
            return (i, Role::Plain);
        }
        let role = if name.ends_with("_sum") {
            Role::Sum
        } else if name.ends_with("_count") {
            Role::Count
        } else {
            Role::Plain
        };
        let summary_base = name
            .strip_suffix("_sum")
            .or_else(|| name.strip_suffix("_count"));
        if let Some(base) = summary_base
            && let Some(&i) = self.by_name.get(base)
            && self.families[i].family.kind == Some(LintType::Summary)
        {
            return (i, role);
        }
        let hist_base = summary_base.or_else(|| name.strip_suffix("_bucket"));
        if let Some(base) = hist_base
            && let Some(&i) = self.by_name.get(base)
            && self.families[i].family.kind == Some(LintType::Histogram)
        {
            return (i, role);
        }
        let i = self.families.len();
        self.families.push(ParsingFamily {
            family: Family {
                name: name.to_string(),
                help: None,
                kind: None,
                metrics: Vec::new(),
            },
            grouped: HashMap::new(),
        });
        self.by_name.insert(name.to_string(), i);
        (i, Role::Plain)
    }

    fn label_value(&mut self) -> Step<String> {
        let mut out = Vec::new();
        loop {
            let b = self.peek()?;
            self.pos += 1;
            match b {
                b'"' => return Ok(String::from_utf8_lossy(&out).into_owned()),
                b'\n' => {
                    let so_far = String::from_utf8_lossy(&out).into_owned();
                    return Err(format!(
                        "label value {} contains unescaped new-line",
                        quote_str(&so_far)
                    )
                    .into());
                }
                b'\\' => {
                    let e = self.peek()?;
                    self.pos += 1;
                    match e {
                        b'"' | b'\\' => out.push(e),
                        b'n' => out.push(b'\n'),
                        _ => {
                            return Err(format!("invalid escape sequence '\\{}'", e as char).into());
                        }
                    }
                }
                _ => out.push(b),
            }
        }
    }

    fn sample(&mut self) -> Step<()> {
        let name = self.metric_name()?;
        if name.is_empty() {
            return Err("invalid metric name".to_string().into());
        }
        let (fi, role) = self.family_for(&name);
        let kind = *self.families[fi]
            .family
            .kind
            .get_or_insert(LintType::Untyped);
        let fam_name = self.families[fi].family.name.clone();
        let grouped_kind = matches!(kind, LintType::Summary | LintType::Histogram);
        let special = match kind {
            LintType::Summary => Some("quantile"),
            LintType::Histogram => Some("le"),
            _ => None,
        };
        let mut labels: Vec<(String, String)> = Vec::new();
        let mut special_value: Option<f64> = None;
        let mut b = self.skip_blank_tab()?;
        if b == b'{' {
            self.pos += 1;
            loop {
                b = self.skip_blank_tab()?;
                if b == b'}' {
                    self.pos += 1;
                    self.skip_blank_tab()?;
                    break;
                }
                let start = self.pos;
                if is_label_start(b) {
                    self.pos += 1;
                    while self.pos < self.input.len() && is_label_cont(self.input[self.pos]) {
                        self.pos += 1;
                    }
                }
                let lname = String::from_utf8_lossy(&self.input[start..self.pos]).into_owned();
                if lname.is_empty() {
                    return Err(
                        format!("invalid label name for metric {}", quote_str(&fam_name)).into(),
                    );
                }
                if lname == "__name__" {
                    return Err("label name \"__name__\" is reserved".to_string().into());
                }
                let is_special = special == Some(lname.as_str());
                b = self.skip_blank_tab()?;
                if b != b'=' {
                    return Err(
                        format!("expected '=' after label name, found {}", quote_byte(b)).into(),
                    );
                }
                if !is_special && labels.iter().any(|(n, _)| *n == lname) {
                    return Err(format!(
                        "duplicate label names for metric {}",
                        quote_str(&fam_name)
                    )
                    .into());
                }
                self.pos += 1;
                b = self.skip_blank_tab()?;
                if b != b'"' {
                    return Err(format!(
                        "expected '\"' at start of label value, found {}",
                        quote_byte(b)
                    )
                    .into());
                }
                self.pos += 1;
                let value = self.label_value()?;
                if is_special {
                    match go_parse_float(&value) {
                        Some(v) => special_value = Some(v),
                        None => {
                            return Err(format!(
                                "expected float as value for '{lname}' label, got {}",
                                quote_str(&value)
                            )
                            .into());
                        }
                    }
                } else {
                    labels.push((lname, value.clone()));
                }
                b = self.skip_blank_tab()?;
                match b {
                    b',' => self.pos += 1,
                    b'}' => {
                        self.pos += 1;
                        self.skip_blank_tab()?;
                        break;
                    }
                    _ => {
                        return Err(
                            format!("unexpected end of label value {}", quote_str(&value)).into(),
                        );
                    }
                }
            }
        }
        // Attach the metric to its family.
        let pf = &mut self.families[fi];
        let idx = if grouped_kind {
            let mut sig = labels.clone();
            sig.sort();
            match pf.grouped.get(&sig) {
                Some(&i) => i,
                None => {
                    pf.family.metrics.push(FamilyMetric {
                        labels,
                        ..Default::default()
                    });
                    let i = pf.family.metrics.len() - 1;
                    pf.grouped.insert(sig, i);
                    i
                }
            }
        } else {
            pf.family.metrics.push(FamilyMetric {
                labels,
                ..Default::default()
            });
            pf.family.metrics.len() - 1
        };
        let token = self.token_until_whitespace()?;
        if go_parse_float(&token).is_none() {
            return Err(format!("expected float as value, got {}", quote_str(&token)).into());
        }
        if role == Role::Plain && special_value.is_some_and(|v| !v.is_nan()) {
            let m = &mut self.families[fi].family.metrics[idx];
            match kind {
                LintType::Summary => m.quantiles += 1,
                LintType::Histogram => m.buckets += 1,
                _ => {}
            }
        }
        if self.peek()? == b'\n' {
            self.pos += 1;
            return Ok(());
        }
        self.skip_blank_tab()?;
        let ts = self.token_until_whitespace()?;
        if ts.parse::<i64>().is_err() {
            return Err(format!("expected integer as timestamp, got {}", quote_str(&ts)).into());
        }
        let rest = self.token_until_newline(false)?;
        if !rest.is_empty() {
            return Err(format!("spurious string after timestamp: {}", quote_str(&rest)).into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, want: &[&str]) {
        let got: Vec<String> = lint_text(input.as_bytes())
            .expect("input should parse")
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(got, want, "input {input:?}");
    }

    #[track_caller]
    fn check_err(input: &str, want: &str) {
        let got = lint_text(input.as_bytes())
            .expect_err("input should fail")
            .to_string();
        assert_eq!(got, want, "input {input:?}");
    }

    #[test]
    fn rules() {
        check(
            "# HELP foo_total x\n# TYPE foo_total counter\nfoo_total 1\n",
            &[],
        );
        check(
            "bar 2\nhttp_requestsTotal 3\n",
            &[
                "bar no help text",
                "http_requestsTotal metric names should be written in 'snake_case' not 'camelCase'",
                "http_requestsTotal no help text",
            ],
        );
        check(
            "# HELP a x\n# TYPE a counter\na 1\n",
            &["a counter metrics should have \"_total\" suffix"],
        );
        check(
            "# HELP a_kelvins h\na_kelvins 1\n",
            &["a_kelvins use base unit \"kelvin\" instead of \"kelvins\""],
        );
        check(
            "x_s_ms 1\n",
            &[
                "x_s_ms metric names should not contain abbreviated units",
                "x_s_ms metric names should not contain abbreviated units",
                "x_s_ms no help text",
            ],
        );
        check(
            "# HELP x_gauge_histogram h\nx_gauge_histogram 1\n",
            &[
                "x_gauge_histogram metric name should not include type 'gauge'",
                "x_gauge_histogram metric name should not include type 'gauge_histogram'",
                "x_gauge_histogram metric name should not include type 'histogram'",
            ],
        );
        check(
            "# HELP x h\n# TYPE x gauge\nx{le=\"1\",quantile=\"2\"} 1\n",
            &[
                "x non-histogram metrics should not have \"le\" label",
                "x non-summary metrics should not have \"quantile\" label",
            ],
        );
        check(
            "# HELP a:b h\na:b 1\n",
            &["a:b metric names should not contain ':'"],
        );
        check("# HELP x\nx 1\n", &["x no help text"]);
        check("x 1\ny 2\nx 3\n", &["x no help text", "y no help text"]);
    }

    #[test]
    fn parse_errors() {
        check_err(
            "x 1",
            "text format parsing error in line 1: unexpected end of input stream",
        );
        check_err(
            "x 1\n# TYPE x gauge\n",
            "text format parsing error in line 2: second TYPE line for metric name \"x\", or TYPE reported after samples",
        );
        check_err(
            "# HELP x a\n# HELP x b\n",
            "text format parsing error in line 2: second HELP line for metric name \"x\"",
        );
        check_err(
            "x 1 1.5\n",
            "text format parsing error in line 1: expected integer as timestamp, got \"1.5\"",
        );
        check_err(
            "x{__name__=\"y\"} 1\n",
            "text format parsing error in line 1: label name \"__name__\" is reserved",
        );
        check_err(
            "x{a=\"1\",a=\"2\"} 1\n",
            "text format parsing error in line 1: duplicate label names for metric \"x\"",
        );
        check_err(
            "# TYPE x gauge extra\n",
            "text format parsing error in line 1: unknown metric type \"gauge extra\"",
        );
        check_err(
            "x{a=\"b\\q\"} 1\n",
            "text format parsing error in line 1: invalid escape sequence '\\q'",
        );
        check_err(
            "x 0x1p3\n",
            "text format parsing error in line 1: expected float as value, got \"0x1p3\"",
        );
        check_err(
            "# TYPE x histogram\nx_bucket{le=\"a\"} 1\n",
            "text format parsing error in line 2: expected float as value for 'le' label, got \"a\"",
        );
        check_err(
            "x{a=\"b\"} 1 2 3\n",
            "text format parsing error in line 1: spurious string after timestamp: \" 3\"",
        );
        check_err(
            "x{1a=\"b\"} 1\n",
            "text format parsing error in line 1: invalid label name for metric \"x\"",
        );
        check_err(
            "1x 1\n",
            "text format parsing error in line 1: invalid metric name",
        );
        check_err(
            "x{a=b} 1\n",
            "text format parsing error in line 1: expected '\"' at start of label value, found 'b'",
        );
        check_err(
            "x{a=\"b\"c=\"d\"} 1\n",
            "text format parsing error in line 1: unexpected end of label value \"b\"",
        );
        check_err(
            "x{a=\"line\nbreak\"} 1\n",
            "text format parsing error in line 1: label value \"line\" contains unescaped new-line",
        );
    }

    #[test]
    fn cardinality_counts_histograms_and_summaries() {
        let fams = parse_families(
            b"# TYPE x histogram\nx_bucket{le=\"1\"} 1\nx_bucket{le=\"+Inf\"} 1\nx_count 1\nx_sum 1\nx_bucket{le=\"1\",a=\"b\"} 1\n# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 1\ns_count 3\ny 1\n",
        )
        .expect("parses");
        assert_eq!(
            cardinality(&fams),
            vec![
                ("x".to_string(), 8),
                ("s".to_string(), 3),
                ("y".to_string(), 1)
            ]
        );
    }

    #[test]
    fn go_floats() {
        for (s, ok) in [
            ("1", true),
            ("Inf", true),
            ("+Inf", true),
            ("-inf", true),
            ("NaN", true),
            ("1e400", false),
            ("1_0", false),
            ("0x10", false),
            ("1.5e3", true),
            (".5", true),
            ("", false),
        ] {
            assert_eq!(go_parse_float(s).is_some(), ok, "{s:?}");
        }
    }
}
