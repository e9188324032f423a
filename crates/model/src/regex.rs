//! Regular expressions with Prometheus semantics.
//!
//! Prometheus compiles every matcher and relabel regex with Go's `regexp`
//! package as `^(?s:pattern)$`: fully anchored, `.` matching newlines, RE2
//! syntax with Go's ASCII-only `\d \w \s \b`. [`Regex`] reproduces that:
//!
//! - the pattern is parsed with Go's grammar and Go's error messages
//!   (`parse` submodule), so exactly the patterns Prometheus accepts are
//!   accepted, with the same meaning — including where Go and the Rust
//!   `regex` crate disagree (`[a[b]]`, `[a&&b]`, `\<`, `\Q..\E`, octal
//!   escapes, `(?P<1x>..)`, the 1000 repetition limit, `a**`);
//! - the parsed tree is lowered to `regex_syntax`'s HIR and run by the Rust
//!   `regex` engine (leftmost-first, like Go), anchored at both ends;
//! - common shapes (a literal, a small set of literals, `prefix.*`,
//!   `.*suffix`, `.*contains.*`, `.+`) are decided without the engine
//!   (`fast` submodule), like Prometheus's `FastRegexMatcher`;
//! - [`Regex::expand`] follows Go's `Regexp.ExpandString` for `$1`,
//!   `${1}`, `$name` and `$$` (note: `$1x` names the group `1x`).
//!
//! [`Regex::as_str`] keeps the pattern as written, for display and
//! serialization.

mod fast;
mod parse;
mod unicode;

use std::fmt;
use std::sync::Arc;

use regex_syntax::hir::{Hir, Look};

pub(crate) use unicode::is_print as is_go_print;

/// What is wrong with a pattern: Go's `regexp/syntax` error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `invalid character class range`
    InvalidCharRange,
    /// `invalid escape sequence`
    InvalidEscape,
    /// `invalid named capture`
    InvalidNamedCapture,
    /// `invalid or unsupported Perl syntax`
    InvalidPerlOp,
    /// `invalid nested repetition operator`
    InvalidRepeatOp,
    /// `invalid repeat count`
    InvalidRepeatSize,
    /// `missing closing ]`
    MissingBracket,
    /// `missing closing )`
    MissingParen,
    /// `missing argument to repetition operator`
    MissingRepeatArgument,
    /// `trailing backslash at end of expression`
    TrailingBackslash,
    /// `unexpected )`
    UnexpectedParen,
    /// `expression nests too deeply`
    NestingDepth,
    /// `expression too large`
    Large,
    /// The pattern is valid but the engine cannot compile it (Go's wording
    /// for unexpected failures: `regexp/syntax: internal error`).
    Internal,
}

impl ErrorCode {
    /// Go's wording.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidCharRange => "invalid character class range",
            ErrorCode::InvalidEscape => "invalid escape sequence",
            ErrorCode::InvalidNamedCapture => "invalid named capture",
            ErrorCode::InvalidPerlOp => "invalid or unsupported Perl syntax",
            ErrorCode::InvalidRepeatOp => "invalid nested repetition operator",
            ErrorCode::InvalidRepeatSize => "invalid repeat count",
            ErrorCode::MissingBracket => "missing closing ]",
            ErrorCode::MissingParen => "missing closing )",
            ErrorCode::MissingRepeatArgument => "missing argument to repetition operator",
            ErrorCode::TrailingBackslash => "trailing backslash at end of expression",
            ErrorCode::UnexpectedParen => "unexpected )",
            ErrorCode::NestingDepth => "expression nests too deeply",
            ErrorCode::Large => "expression too large",
            ErrorCode::Internal => "regexp/syntax: internal error",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parse failure before the pattern is known (internal).
#[derive(Debug)]
pub(crate) struct ParseError {
    code: ErrorCode,
    expr: String,
}

/// A pattern Prometheus would reject.
///
/// Displays as ``parse regexp "<pattern>": <Go's message>: `<offending part>` ``.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("parse regexp {pattern:?}: {code}: `{expr}`")]
pub struct Error {
    pattern: String,
    code: ErrorCode,
    expr: String,
}

impl Error {
    /// The pattern as given.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// What is wrong.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The offending part of the pattern, as Go reports it.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// Go's message, without the pattern: ``error parsing regexp: <code>: `<expr>` ``.
    pub fn go_message(&self) -> String {
        format!("error parsing regexp: {}: `{}`", self.code, self.expr)
    }
}

/// A compiled, fully anchored regular expression with Prometheus semantics.
///
/// Cheap to clone (reference counted). Equality, ordering and hashing use the
/// pattern text (and whether it was built by [`Regex::new`] or
/// [`Regex::new_relabel`]).
#[derive(Clone)]
pub struct Regex {
    inner: Arc<Inner>,
}

/// Which Prometheus constructor a [`Regex`] follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Mode {
    Matcher,
    Relabel,
}

struct Inner {
    pattern: String,
    mode: Mode,
    re: ::regex::Regex,
    /// Go's `SubexpNames`: index 0 is the whole match.
    names: Vec<Option<String>>,
    fast: fast::Fast,
}

/// The compiled size allowed, like Go's 128 MiB program limit. The engine's
/// nesting limit stays at its default (250), which keeps its recursive
/// compiler within the stack.
const SIZE_LIMIT: usize = 128 << 20;

impl Regex {
    /// Compiles `pattern` as Prometheus compiles a label matcher's regex
    /// (`labels.NewFastRegexMatcher`): the pattern is parsed on its own with
    /// Go's RE2 syntax and `.` matching newlines, then anchored at both ends.
    pub fn new(pattern: &str) -> Result<Regex, Error> {
        Regex::compile(pattern, Mode::Matcher)
    }

    /// Compiles `pattern` as Prometheus compiles a relabel regex
    /// (`relabel.NewRegexp`): the text `^(?s:` + pattern + `)$` is parsed as
    /// a whole. For balanced patterns this is the same as [`Regex::new`];
    /// it differs, as in Prometheus, for patterns such as `a)|(b` (accepted,
    /// and only half anchored) or `\Qa` without `\E` (rejected: the quote
    /// swallows the closing parenthesis). Errors quote the wrapped text, as
    /// Prometheus's do.
    pub fn new_relabel(pattern: &str) -> Result<Regex, Error> {
        Regex::compile(pattern, Mode::Relabel)
    }

    fn compile(pattern: &str, mode: Mode) -> Result<Regex, Error> {
        let to_error = |code, expr: String| Error {
            pattern: pattern.to_owned(),
            code,
            expr,
        };
        let (parsed, hir, fast) = match mode {
            Mode::Matcher => {
                let parsed = parse::parse(pattern, true).map_err(|e| to_error(e.code, e.expr))?;
                let hir = Hir::concat(vec![
                    Hir::look(Look::Start),
                    parsed.node.to_hir(),
                    Hir::look(Look::End),
                ]);
                let fast = fast::Fast::analyze(&parsed.node);
                (parsed, hir, fast)
            }
            Mode::Relabel => {
                let wrapped = format!("^(?s:{pattern})$");
                let parsed = parse::parse(&wrapped, false).map_err(|e| to_error(e.code, e.expr))?;
                let hir = parsed.node.to_hir();
                // In the usual case the tree is `^ <pattern> $`; the
                // shortcuts only look at the part between the anchors.
                let fast = match &parsed.node {
                    parse::Node::Concat(subs)
                        if subs.len() == 3
                            && matches!(subs[0], parse::Node::Look(Look::Start))
                            && matches!(subs[2], parse::Node::Look(Look::End)) =>
                    {
                        fast::Fast::analyze(&subs[1])
                    }
                    _ => fast::Fast::Regex,
                };
                (parsed, hir, fast)
            }
        };
        let re = ::regex::RegexBuilder::new(&hir.to_string())
            .size_limit(SIZE_LIMIT)
            .build()
            .map_err(|e| match e {
                ::regex::Error::CompiledTooBig(_) => to_error(ErrorCode::Large, pattern.to_owned()),
                ::regex::Error::Syntax(msg) if msg.contains("nest") => {
                    to_error(ErrorCode::NestingDepth, pattern.to_owned())
                }
                other => to_error(ErrorCode::Internal, other.to_string()),
            })?;
        debug_assert_eq!(re.captures_len(), parsed.names.len());
        Ok(Regex {
            inner: Arc::new(Inner {
                pattern: pattern.to_owned(),
                mode,
                re,
                fast,
                names: parsed.names,
            }),
        })
    }

    /// The pattern as written (without the implicit anchors).
    pub fn as_str(&self) -> &str {
        &self.inner.pattern
    }

    /// Whether the whole of `s` matches.
    #[inline]
    pub fn is_match(&self, s: &str) -> bool {
        // Fast path: literal, set and glob shapes skip the engine.
        match self.inner.fast.is_match(s) {
            Some(m) => m,
            None => self.inner.re.is_match(s),
        }
    }

    /// Whether the whole of `s` matches, always running the engine (for
    /// tests of the fast paths).
    #[doc(hidden)]
    pub fn is_match_slow(&self, s: &str) -> bool {
        self.inner.re.is_match(s)
    }

    /// Whether a shortcut avoids the engine for [`Regex::is_match`].
    pub fn is_optimized(&self) -> bool {
        !matches!(self.inner.fast, fast::Fast::Regex)
    }

    /// The exact strings this pattern matches, if it matches a small finite
    /// set (like Prometheus's `SetMatches`), sorted.
    pub fn set_matches(&self) -> Option<Vec<&str>> {
        match &self.inner.fast {
            fast::Fast::Literal(l) => Some(vec![l.as_str()]),
            fast::Fast::Set(s) => Some(s.iter().map(String::as_str).collect()),
            _ => None,
        }
    }

    /// A literal every match starts with, if known and non-empty.
    pub fn literal_prefix(&self) -> Option<&str> {
        match &self.inner.fast {
            fast::Fast::Literal(l) if !l.is_empty() => Some(l),
            fast::Fast::Glob(g) if !g.prefix.is_empty() => Some(&g.prefix),
            _ => None,
        }
    }

    /// The number of capture groups, counting the whole match as group 0.
    pub fn captures_len(&self) -> usize {
        self.inner.names.len()
    }

    /// Go's `SubexpNames`: the name of each group (`None` for group 0 and
    /// unnamed groups).
    pub fn capture_names(&self) -> impl Iterator<Item = Option<&str>> + '_ {
        self.inner.names.iter().map(Option::as_deref)
    }

    /// A reusable buffer for [`Regex::captures_read`].
    pub fn capture_locations(&self) -> CaptureLocations {
        CaptureLocations(self.inner.re.capture_locations())
    }

    /// Matches the whole of `s`, recording group positions in `locs`.
    /// Returns whether it matched.
    pub fn captures_read(&self, locs: &mut CaptureLocations, s: &str) -> bool {
        self.inner.re.captures_read(&mut locs.0, s).is_some()
    }

    /// Appends `template` to `dst`, replacing `$n`, `${n}`, `$name` and
    /// `${name}` with the groups of the match recorded in `locs` over `s`,
    /// as Go's `Regexp.ExpandString` does: a name is the longest run of
    /// letters, digits and `_` (so `$1x` is the group named `1x`), a number
    /// with a leading zero is a name, unknown or unmatched groups expand to
    /// nothing, `$$` is `$`, and a malformed reference is kept literally.
    pub fn expand(&self, locs: &CaptureLocations, s: &str, template: &str, dst: &mut String) {
        let mut rest = template;
        while let Some(i) = rest.find('$') {
            dst.push_str(&rest[..i]);
            rest = &rest[i..];
            if rest[1..].starts_with('$') {
                dst.push('$');
                rest = &rest[2..];
                continue;
            }
            let Some((name, after)) = extract(&rest[1..]) else {
                dst.push('$');
                rest = &rest[1..];
                continue;
            };
            rest = after;
            let group = match group_number(name) {
                Some(n) => locs.0.get(n),
                None => self
                    .inner
                    .names
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| n.as_deref() == Some(name))
                    .find_map(|(i, _)| locs.0.get(i)),
            };
            if let Some((a, b)) = group {
                dst.push_str(&s[a..b]);
            }
        }
        dst.push_str(rest);
    }

    /// If the whole of `s` matches, `template` expanded over the match
    /// (see [`Regex::expand`]).
    pub fn replace(&self, s: &str, template: &str) -> Option<String> {
        let mut locs = self.capture_locations();
        if !self.captures_read(&mut locs, s) {
            return None;
        }
        let mut out = String::new();
        self.expand(&locs, s, template, &mut out);
        Some(out)
    }
}

/// Go's `extract` without the leading `$`: a name or `{name}` at the start
/// of `s`, and the rest.
fn extract(s: &str) -> Option<(&str, &str)> {
    let (body, brace) = match s.strip_prefix('{') {
        Some(b) => (b, true),
        None => (s, false),
    };
    let len = body
        .char_indices()
        .find(|&(_, c)| !unicode::is_template_name_char(c))
        .map_or(body.len(), |(i, _)| i);
    if len == 0 {
        return None;
    }
    let name = &body[..len];
    let rest = &body[len..];
    if brace {
        return rest.strip_prefix('}').map(|r| (name, r));
    }
    Some((name, rest))
}

/// The group number a template name stands for, if it is one: ASCII digits
/// without a leading zero, below 10^8.
fn group_number(name: &str) -> Option<usize> {
    if !name.bytes().all(|b| b.is_ascii_digit()) || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    let mut n: usize = 0;
    for b in name.bytes() {
        if n >= 100_000_000 {
            return None;
        }
        n = n * 10 + usize::from(b - b'0');
    }
    Some(n)
}

/// Group positions of one match; see [`Regex::capture_locations`].
#[derive(Clone, Debug)]
pub struct CaptureLocations(::regex::CaptureLocations);

impl CaptureLocations {
    /// The byte range of group `i`, if it participated in the match.
    pub fn get(&self, i: usize) -> Option<(usize, usize)> {
        self.0.get(i)
    }
}

impl fmt::Debug for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Regex").field(&self.as_str()).finish()
    }
}

impl fmt::Display for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for Regex {
    fn eq(&self, other: &Self) -> bool {
        self.inner.mode == other.inner.mode && self.as_str() == other.as_str()
    }
}

impl Eq for Regex {}

impl std::hash::Hash for Regex {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.inner.mode.hash(state);
        self.as_str().hash(state)
    }
}

impl PartialOrd for Regex {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Regex {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.as_str(), self.inner.mode).cmp(&(other.as_str(), other.inner.mode))
    }
}

impl std::str::FromStr for Regex {
    type Err = Error;
    fn from_str(s: &str) -> Result<Regex, Error> {
        Regex::new(s)
    }
}

impl serde::Serialize for Regex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Deserializes with [`Regex::new`] (matcher semantics); relabel configs
/// use [`Regex::new_relabel`] through their own field deserializer.
impl<'de> serde::Deserialize<'de> for Regex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Regex, D::Error> {
        let s = String::deserialize(d)?;
        Regex::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
