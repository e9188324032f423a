//! The script language: commands, expectations and their parser.

use model::{FloatHistogram, Labels};
use promql_syntax::duration::parse_duration;

use crate::values::{parse_metric, parse_number, parse_series, parse_st_values, unquote};

/// One value of a series line.
#[derive(Clone, Debug, PartialEq)]
pub enum SeqValue {
    /// A float (may be the stale marker).
    Float(f64),
    /// A histogram, and whether its counter reset hint was written.
    Histogram(FloatHistogram, bool),
}

/// `load <interval>` or `load_with_nhcb <interval>`.
#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    /// Milliseconds between samples.
    pub interval: i64,
    /// Also store classic histograms as native histograms with custom buckets.
    pub nhcb: bool,
    /// Series and their values (`None`: no sample).
    pub series: Vec<(Labels, Vec<Option<SeqValue>>)>,
    /// Start timestamps from `@st` lines, as offsets from the sample times
    /// of the series they precede (`None`: unknown).
    pub start_timestamps: Vec<(Labels, Vec<Option<i64>>)>,
}

/// What kind of evaluation.
#[derive(Clone, Debug, PartialEq)]
pub enum EvalKind {
    /// `eval instant at <t>`.
    Instant {
        /// Milliseconds.
        at: i64,
    },
    /// `eval range from <t0> to <t1> step <s>`.
    Range {
        /// Milliseconds.
        start: i64,
        /// Milliseconds.
        end: i64,
        /// Milliseconds.
        step: i64,
    },
}

/// The kind of an `expect` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectKind {
    /// `expect ordered`.
    Ordered,
    /// `expect fail`.
    Fail,
    /// `expect warn`.
    Warn,
    /// `expect no_warn`.
    NoWarn,
    /// `expect info`.
    Info,
    /// `expect no_info`.
    NoInfo,
}

/// An `expect` line.
#[derive(Clone, Debug)]
pub struct Expect {
    /// The kind.
    pub kind: ExpectKind,
    /// `msg:` text.
    pub msg: Option<String>,
    /// `regex:` pattern (anything when neither is given).
    pub regex: Option<regex::Regex>,
}

impl Expect {
    /// Whether `s` satisfies the expectation.
    pub fn matches(&self, s: &str) -> bool {
        match (&self.msg, &self.regex) {
            (Some(m), _) => m == s,
            (None, Some(r)) => r.is_match(s),
            (None, None) => true,
        }
    }
}

/// An `eval` command with its expectations.
#[derive(Clone, Debug)]
pub struct Eval {
    /// 1-based line of the command.
    pub line: usize,
    /// The query.
    pub expr: String,
    /// Instant or range.
    pub kind: EvalKind,
    /// Legacy `eval_fail`.
    pub fail: bool,
    /// Legacy `eval_warn`.
    pub warn: bool,
    /// Legacy `eval_info`.
    pub info: bool,
    /// Legacy `eval_ordered`.
    pub ordered: bool,
    /// `expected_fail_message`.
    pub fail_message: Option<String>,
    /// `expected_fail_regexp`.
    pub fail_regexp: Option<regex::Regex>,
    /// `expect` lines.
    pub expects: Vec<Expect>,
    /// Expected series: position (1-based), labels, values.
    pub expected: Vec<(usize, Labels, Vec<Option<SeqValue>>)>,
    /// Expected scalar.
    pub scalar: Option<f64>,
    /// Expected string.
    pub string: Option<String>,
    /// `expect range vector from .. to .. step ..`: start, end, step (ms).
    pub range_vector: Option<(i64, i64, i64)>,
}

impl Eval {
    /// Whether the query must fail.
    pub fn is_fail(&self) -> bool {
        self.fail || self.expects.iter().any(|e| e.kind == ExpectKind::Fail)
    }
    /// Whether result order matters.
    pub fn is_ordered(&self) -> bool {
        self.ordered || self.expects.iter().any(|e| e.kind == ExpectKind::Ordered)
    }
    /// The `expect` lines of `kind`.
    pub fn expects_of(&self, kind: ExpectKind) -> Vec<&Expect> {
        self.expects.iter().filter(|e| e.kind == kind).collect()
    }
}

/// One command.
#[derive(Clone, Debug)]
pub enum Cmd {
    /// `clear`.
    Clear,
    /// `load`.
    Load(Load),
    /// `eval`.
    Eval(Box<Eval>),
}

/// A parsed script.
#[derive(Clone, Debug, Default)]
pub struct Script {
    /// The commands in order.
    pub cmds: Vec<Cmd>,
}

fn dur_ms(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Some(r) = s.strip_prefix('-') {
        return dur_ms(r).map(|v| -v);
    }
    parse_duration(s).map(|d| d.millis())
}

/// Where `@st` ends the metric of a start timestamp line, if it is one.
fn st_marker(line: &str) -> Option<usize> {
    let mut depth_quote = false;
    let mut brace = 0;
    let b = line.as_bytes();
    for (k, &c) in b.iter().enumerate() {
        match c {
            b'"' if k == 0 || b[k - 1] != b'\\' => depth_quote = !depth_quote,
            b'{' if !depth_quote => brace += 1,
            b'}' if !depth_quote => brace -= 1,
            b'@' if !depth_quote && brace == 0 => {
                return line[k..].starts_with("@st").then_some(k);
            }
            c if c.is_ascii_whitespace() && !depth_quote && brace == 0 => return None,
            _ => {}
        }
    }
    None
}

fn err(line: usize, msg: impl std::fmt::Display) -> String {
    format!("line {}: {msg}", line + 1)
}

/// Parses a script.
pub fn parse_script(input: &str) -> Result<Script, String> {
    let lines: Vec<String> = input
        .split('\n')
        .map(|l| {
            let t = l.trim();
            if t.starts_with('#') {
                String::new()
            } else {
                t.to_owned()
            }
        })
        .collect();
    let re_load =
        regex::Regex::new(r"^load(?:_(with_nhcb))?\s+(.+?)$").map_err(|e| e.to_string())?;
    let re_inst = regex::Regex::new(
        r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$",
    )
    .map_err(|e| e.to_string())?;
    let re_range = regex::Regex::new(
        r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$",
    )
    .map_err(|e| e.to_string())?;
    let re_expect = regex::Regex::new(
        r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$",
    )
    .map_err(|e| e.to_string())?;
    let re_rv = regex::Regex::new(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$")
        .map_err(|e| e.to_string())?;
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let first = l
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        if first == "clear" {
            cmds.push(Cmd::Clear);
            i += 1;
        } else if first.starts_with("load") {
            let caps = re_load
                .captures(l)
                .ok_or_else(|| err(i, "invalid load command"))?;
            let nhcb = caps.get(1).is_some();
            let interval = dur_ms(caps.get(2).map_or("", |m| m.as_str())).map_err(|e| err(i, e))?;
            let mut series: Vec<(Labels, Vec<Option<SeqValue>>)> = Vec::new();
            let mut start_timestamps: Vec<(Labels, Vec<Option<i64>>)> = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].is_empty() {
                let line = &lines[i];
                if let Some(at) = st_marker(line) {
                    let (m, _) = parse_metric(&line[..at]).map_err(|e| err(i, e))?;
                    let v = parse_st_values(&line[at + 3..]).map_err(|e| err(i, e))?;
                    start_timestamps.retain(|(l, _)| *l != m);
                    start_timestamps.push((m, v));
                    i += 1;
                    continue;
                }
                let (m, v) = parse_series(line).map_err(|e| err(i, e))?;
                if let Some(p) = series.iter().position(|(l, _)| *l == m) {
                    series[p].1 = v;
                } else {
                    series.push((m, v));
                }
                i += 1;
            }
            cmds.push(Cmd::Load(Load {
                interval,
                nhcb,
                series,
                start_timestamps,
            }));
        } else if first.starts_with("eval") {
            let line_no = i + 1;
            let (modifier, kind, expr) = if let Some(c) = re_inst.captures(l) {
                let at = c
                    .get(2)
                    .map_or(Ok(0), |m| dur_ms(m.as_str()))
                    .map_err(|e| err(i, e))?;
                (
                    c.get(1).map(|m| m.as_str()),
                    EvalKind::Instant { at },
                    c.get(3).map_or("", |m| m.as_str()),
                )
            } else if let Some(c) = re_range.captures(l) {
                let g = |k: usize| c.get(k).map_or("", |m| m.as_str());
                let start = dur_ms(g(2)).map_err(|e| err(i, e))?;
                let end = dur_ms(g(3)).map_err(|e| err(i, e))?;
                let step = dur_ms(g(4)).map_err(|e| err(i, e))?;
                (
                    c.get(1).map(|m| m.as_str()),
                    EvalKind::Range { start, end, step },
                    g(5),
                )
            } else {
                return Err(err(i, "invalid evaluation command"));
            };
            let mut ev = Eval {
                line: line_no,
                expr: expr.to_owned(),
                kind,
                fail: modifier == Some("fail"),
                warn: modifier == Some("warn"),
                info: modifier == Some("info"),
                ordered: modifier == Some("ordered"),
                fail_message: None,
                fail_regexp: None,
                expects: Vec::new(),
                expected: Vec::new(),
                scalar: None,
                string: None,
                range_vector: None,
            };
            let mut pos = 0;
            i += 1;
            while i < lines.len() && !lines[i].is_empty() {
                let d = &lines[i];
                i += 1;
                if ev.fail && d.starts_with("expected_fail_message") {
                    ev.fail_message = Some(d["expected_fail_message".len()..].trim().to_owned());
                    break;
                }
                if ev.fail && d.starts_with("expected_fail_regexp") {
                    let p = d["expected_fail_regexp".len()..].trim();
                    ev.fail_regexp = Some(regex::Regex::new(p).map_err(|e| err(i - 1, e))?);
                    break;
                }
                if d.starts_with("expect range vector") {
                    let c = re_rv
                        .captures(d)
                        .ok_or_else(|| err(i - 1, "invalid range vector"))?;
                    let g = |k: usize| c.get(k).map_or("", |m| m.as_str());
                    let (s, e, st) = (
                        dur_ms(g(1)).map_err(|x| err(i - 1, x))?,
                        dur_ms(g(2)).map_err(|x| err(i - 1, x))?,
                        dur_ms(g(3)).map_err(|x| err(i - 1, x))?,
                    );
                    ev.range_vector = Some((s, e, st));
                    ev.kind = EvalKind::Instant { at: e };
                    continue;
                }
                if let Some(r) = d.strip_prefix("expect string") {
                    let r = r.trim_start();
                    ev.string = Some(unquote(r).map_err(|e| err(i - 1, e))?);
                    continue;
                }
                if d.split(' ').next() == Some("expect") {
                    let c = re_expect
                        .captures(d)
                        .ok_or_else(|| err(i - 1, "invalid expect statement"))?;
                    let kind = match c.get(1).map_or("", |m| m.as_str()) {
                        "ordered" => ExpectKind::Ordered,
                        "fail" => ExpectKind::Fail,
                        "warn" => ExpectKind::Warn,
                        "no_warn" => ExpectKind::NoWarn,
                        "info" => ExpectKind::Info,
                        _ => ExpectKind::NoInfo,
                    };
                    let text = c.get(3).map(|m| m.as_str().trim().to_owned());
                    let (msg, regex) = match c.get(2).map(|m| m.as_str()) {
                        Some("msg") => (text, None),
                        Some(_) => (
                            None,
                            Some(
                                regex::Regex::new(text.as_deref().unwrap_or(""))
                                    .map_err(|e| err(i - 1, e))?,
                            ),
                        ),
                        None => (None, None),
                    };
                    ev.expects.push(Expect { kind, msg, regex });
                    continue;
                }
                if let Some(f) = parse_number(d) {
                    ev.scalar = Some(f);
                    break;
                }
                let (m, vals) = parse_series(d).map_err(|e| err(i - 1, e))?;
                pos += 1;
                ev.expected.push((pos, m, vals));
            }
            cmds.push(Cmd::Eval(Box::new(ev)));
        } else {
            return Err(err(i, format!("invalid command {l:?}")));
        }
    }
    Ok(Script { cmds })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_err(input: &str, want: &str) {
        let e = parse_script(input).expect_err("must fail");
        assert!(e.contains(want), "{e}");
    }

    #[test]
    fn commands() {
        let s = parse_script(
            "# comment\nload 5m\n  a{x=\"1\"} 1 2\n  a{x=\"1\"} 3\n\neval instant at 10m a\n  expect warn msg: PromQL warning: x\n  expect no_info\n  a{x=\"1\"} 3\n\neval range from 0 to 10m step 5m a\n  a{x=\"1\"} 3 _ 3\n\neval_fail instant at 0 foo(\n  expected_fail_message boom\n\neval instant at 1m 1+1\n  2\n\nclear\n",
        );
        let s = s.expect("parses");
        assert_eq!(s.cmds.len(), 6);
        let Cmd::Load(l) = &s.cmds[0] else {
            panic!("load")
        };
        assert_eq!(
            (l.interval, l.series.len(), l.series[0].1.len()),
            (300_000, 1, 1)
        );
        let Cmd::Eval(e) = &s.cmds[1] else {
            panic!("eval")
        };
        assert_eq!(e.kind, EvalKind::Instant { at: 600_000 });
        assert_eq!(e.expects.len(), 2);
        assert_eq!(e.expects[0].msg.as_deref(), Some("PromQL warning: x"));
        let Cmd::Eval(e) = &s.cmds[2] else {
            panic!("eval")
        };
        assert_eq!(
            e.kind,
            EvalKind::Range {
                start: 0,
                end: 600_000,
                step: 300_000
            }
        );
        let Cmd::Eval(e) = &s.cmds[3] else {
            panic!("eval")
        };
        assert!(e.is_fail());
        assert_eq!(e.fail_message.as_deref(), Some("boom"));
        let Cmd::Eval(e) = &s.cmds[4] else {
            panic!("eval")
        };
        assert_eq!(e.scalar, Some(2.0));
        assert!(matches!(s.cmds[5], Cmd::Clear));
    }

    #[test]
    fn errors() {
        check_err("bogus", "invalid command");
        check_err("load 5x\n a 1", "unknown unit");
        check_err("eval instant at 1m a\n expect sometimes", "invalid expect");
        check_err("load 1m\n a 1 zz", "invalid value");
    }

    #[test]
    fn range_vector_and_string() {
        let s = parse_script("eval instant at 1m a[1m]\n  expect range vector from 0 to 1m step 30s\n  a 1 2 3\n\neval instant at 0 \"x\"\n  expect string \"x\"\n")
            .expect("parses");
        let Cmd::Eval(e) = &s.cmds[0] else {
            panic!("eval")
        };
        assert_eq!(e.range_vector, Some((0, 60_000, 30_000)));
        let Cmd::Eval(e) = &s.cmds[1] else {
            panic!("eval")
        };
        assert_eq!(e.string.as_deref(), Some("x"));
    }
}
