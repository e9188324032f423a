//! Label matchers (`=`, `!=`, `=~`, `!~`), as in PromQL selectors and the
//! `match[]` parameters of the HTTP API.
//!
//! A label that is absent matches as the empty string: `{foo=""}` selects
//! series without `foo`, `{foo!=""}` series that have it. Regex matchers use
//! [`Regex`] (fully anchored, Go RE2 syntax).

use std::fmt;

use crate::labels::Labels;
use crate::regex::{self, Regex};

/// The comparison a [`Matcher`] makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    RegexMatch,
    /// `!~`
    RegexNoMatch,
}

impl MatchOp {
    /// The operator as written in PromQL.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::RegexMatch => "=~",
            MatchOp::RegexNoMatch => "!~",
        }
    }

    /// The operator matching exactly the values this one does not.
    pub fn inverse(self) -> MatchOp {
        match self {
            MatchOp::Equal => MatchOp::NotEqual,
            MatchOp::NotEqual => MatchOp::Equal,
            MatchOp::RegexMatch => MatchOp::RegexNoMatch,
            MatchOp::RegexNoMatch => MatchOp::RegexMatch,
        }
    }

    /// Whether the operator takes a regex.
    pub fn is_regex(self) -> bool {
        matches!(self, MatchOp::RegexMatch | MatchOp::RegexNoMatch)
    }
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One condition on one label's value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Matcher {
    name: String,
    op: MatchOp,
    value: String,
    /// Present exactly when `op` is a regex operator.
    re: Option<Regex>,
}

impl Matcher {
    /// A matcher; regex operators compile `value` with Prometheus's
    /// semantics and fail on patterns Prometheus rejects.
    pub fn new(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Matcher, regex::Error> {
        let value = value.into();
        let re = if op.is_regex() {
            Some(Regex::new(&value)?)
        } else {
            None
        };
        Ok(Matcher {
            name: name.into(),
            op,
            value,
            re,
        })
    }

    /// `name="value"`; cannot fail.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Matcher {
        Matcher {
            name: name.into(),
            op: MatchOp::Equal,
            value: value.into(),
            re: None,
        }
    }

    /// `name!="value"`; cannot fail.
    pub fn not_equal(name: impl Into<String>, value: impl Into<String>) -> Matcher {
        Matcher {
            name: name.into(),
            op: MatchOp::NotEqual,
            value: value.into(),
            re: None,
        }
    }

    /// A regex matcher (`=~`, or `!~` if `op` says so) from an already
    /// compiled regex. Panics in debug builds if `op` is not a regex
    /// operator; release builds treat `=` as `=~` and `!=` as `!~`.
    pub fn from_regex(op: MatchOp, name: impl Into<String>, re: Regex) -> Matcher {
        debug_assert!(op.is_regex(), "from_regex with {op}");
        let op = match op {
            MatchOp::Equal | MatchOp::RegexMatch => MatchOp::RegexMatch,
            MatchOp::NotEqual | MatchOp::RegexNoMatch => MatchOp::RegexNoMatch,
        };
        Matcher {
            name: name.into(),
            op,
            value: re.as_str().to_owned(),
            re: Some(re),
        }
    }

    /// The label name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The operator.
    pub fn op(&self) -> MatchOp {
        self.op
    }

    /// The value or pattern as written.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The compiled regex, for regex operators.
    pub fn regex(&self) -> Option<&Regex> {
        self.re.as_ref()
    }

    /// Whether a label value matches. Pass `""` for an absent label.
    #[inline]
    pub fn matches(&self, value: &str) -> bool {
        match (&self.re, self.op) {
            (_, MatchOp::Equal) => value == self.value,
            (_, MatchOp::NotEqual) => value != self.value,
            (Some(re), MatchOp::RegexMatch) => re.is_match(value),
            (Some(re), MatchOp::RegexNoMatch) => !re.is_match(value),
            // Unreachable: the constructors set `re` for regex operators.
            (None, _) => false,
        }
    }

    /// Whether the matcher accepts this label set (an absent label counts as
    /// the empty value).
    pub fn matches_labels(&self, labels: &Labels) -> bool {
        self.matches(labels.get(&self.name).unwrap_or(""))
    }

    /// Whether the matcher accepts an absent label (the empty value). A
    /// selector whose matchers all match empty would select every series.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// The matcher selecting exactly the values this one rejects.
    pub fn inverse(&self) -> Matcher {
        Matcher {
            name: self.name.clone(),
            op: self.op.inverse(),
            value: self.value.clone(),
            re: self.re.clone(),
        }
    }

    /// The values this matcher accepts, if it accepts a small finite set
    /// (an `=` matcher, or a regex like `a|b|c`); for index lookups.
    pub fn set_matches(&self) -> Option<Vec<&str>> {
        match self.op {
            MatchOp::Equal => Some(vec![self.value.as_str()]),
            MatchOp::RegexMatch => self.re.as_ref().and_then(Regex::set_matches),
            _ => None,
        }
    }

    /// A literal every accepted value starts with, for `=~` matchers with
    /// a known prefix (`foo.*`).
    pub fn prefix(&self) -> Option<&str> {
        match self.op {
            MatchOp::RegexMatch => self.re.as_ref().and_then(Regex::literal_prefix),
            _ => None,
        }
    }
}

impl fmt::Display for Matcher {
    /// `name="value"`, `name=~"re"`: values are quoted like Go's
    /// `strconv.Quote`; names are quoted only if they are not
    /// `[a-zA-Z_][a-zA-Z0-9_]*`, as Prometheus 3.x does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = !self.name.is_empty()
            && self
                .name
                .char_indices()
                .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
        if plain {
            f.write_str(&self.name)?;
        } else {
            write_go_quoted(f, &self.name)?;
        }
        f.write_str(self.op.as_str())?;
        write_go_quoted(f, &self.value)
    }
}

/// Writes `s` as Go's `strconv.Quote` does: double quotes; `\"` and `\\`;
/// `\a \b \f \n \r \t \v`; other non-printable characters as `\xHH` (below
/// U+0080), `\uHHHH` or `\UHHHHHHHH`; printable Unicode kept as is.
pub fn write_go_quoted(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\x07' => f.write_str("\\a")?,
            '\x08' => f.write_str("\\b")?,
            '\x0C' => f.write_str("\\f")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\x0B' => f.write_str("\\v")?,
            c if regex::is_go_print(c) => f.write_char(c)?,
            c if (c as u32) < 0x80 => write!(f, "\\x{:02x}", c as u32)?,
            c if (c as u32) < 0x10000 => write!(f, "\\u{:04x}", c as u32)?,
            c => write!(f, "\\U{:08x}", c as u32)?,
        }
    }
    f.write_char('"')
}

/// `s` quoted like Go's `strconv.Quote`; see [`write_go_quoted`].
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    // Writing to a String cannot fail.
    let _ = write_go_quoted(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(op: MatchOp, name: &str, value: &str, input: Option<&str>, want: bool) {
        let m = Matcher::new(op, name, value).unwrap_or_else(|e| panic!("{e}"));
        let labels = match input {
            Some(v) => Labels::from_pairs([(name, v)]),
            None => Labels::from_pairs([("other", "x")]),
        };
        assert_eq!(m.matches_labels(&labels), want, "{m} on {labels}");
        assert_eq!(
            m.inverse().matches_labels(&labels),
            !want,
            "inverse of {m} on {labels}"
        );
    }

    #[test]
    fn matches_with_missing_as_empty() {
        use MatchOp::*;
        check(Equal, "a", "x", Some("x"), true);
        check(Equal, "a", "x", Some("y"), false);
        check(Equal, "a", "", None, true);
        check(Equal, "a", "", Some("x"), false);
        check(NotEqual, "a", "", None, false);
        check(NotEqual, "a", "", Some("x"), true);
        check(NotEqual, "a", "x", None, true);
        check(RegexMatch, "a", "x.*", Some("xyz"), true);
        check(RegexMatch, "a", "x.*", Some("axyz"), false);
        check(RegexMatch, "a", ".*", None, true);
        check(RegexMatch, "a", ".+", None, false);
        check(RegexMatch, "a", "x|", None, true);
        check(RegexMatch, "a", "a.b", Some("a\nb"), true);
        check(RegexNoMatch, "a", "x.*", Some("xyz"), false);
        check(RegexNoMatch, "a", "x.*", None, true);
        check(RegexNoMatch, "a", "", None, false);
        check(RegexMatch, "a", "(?i)FOO", Some("foo"), true);
        check(RegexMatch, "a", "\\d+", Some("١"), false);
    }

    #[test]
    fn bad_regex_is_an_error() {
        let e = Matcher::new(MatchOp::RegexMatch, "a", "a**")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("parse regexp \"a**\": invalid nested repetition operator: `**`")
        );
        assert!(Matcher::new(MatchOp::Equal, "a", "a**").is_ok());
    }

    #[track_caller]
    fn check_display(op: MatchOp, name: &str, value: &str, want: &str) {
        let m = Matcher::new(op, name, value).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.to_string(), want);
    }

    #[test]
    fn displays_like_prometheus() {
        use MatchOp::*;
        check_display(Equal, "job", "api", r#"job="api""#);
        check_display(NotEqual, "_a1", "", r#"_a1!="""#);
        check_display(RegexMatch, "path", "/a\\.b", r#"path=~"/a\\.b""#);
        check_display(RegexNoMatch, "x", "a|b", r#"x!~"a|b""#);
        check_display(Equal, "1a", "v", r#""1a"="v""#);
        check_display(Equal, "service.name", "v", r#""service.name"="v""#);
        check_display(Equal, "", "v", r#"""="v""#);
        check_display(
            Equal,
            "a",
            "q\"\\\n\t\x07\x7f\u{a0}é😀\u{200b}",
            r#"a="q\"\\\n\t\a\x7f\u00a0é😀\u200b""#,
        );
        check_display(Equal, "a", "\u{e0001}", r#"a="\U000e0001""#);
    }

    #[test]
    fn sets_and_prefixes() {
        let m = Matcher::new(MatchOp::RegexMatch, "a", "x|y").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.set_matches(), Some(vec!["x", "y"]));
        assert_eq!(Matcher::equal("a", "v").set_matches(), Some(vec!["v"]));
        assert_eq!(Matcher::not_equal("a", "v").set_matches(), None);
        let m = Matcher::new(MatchOp::RegexMatch, "a", "foo.+").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.prefix(), Some("foo"));
        let re = Regex::new("b.*").unwrap_or_else(|e| panic!("{e}"));
        let m = Matcher::from_regex(MatchOp::RegexNoMatch, "a", re);
        assert_eq!(m.to_string(), r#"a!~"b.*""#);
        assert!(m.matches("c") && !m.matches("bb"));
        assert!(m.matches_empty());
    }
}
