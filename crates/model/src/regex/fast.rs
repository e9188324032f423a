//! Match shortcuts for common pattern shapes, in the spirit of Prometheus's
//! `FastRegexMatcher`: a literal, a small set of literals (alternations,
//! optional parts, short classes, case-insensitive words), and "globs" made of
//! literals and `.*`/`.+` (prefix, suffix, contains). Everything else runs
//! the compiled regex. Each shortcut decides exactly what the anchored regex
//! would; a property test in the parent module checks that.

use regex_syntax::hir::ClassUnicode;

use super::parse::{Node, fold_char};

/// At most this many strings in a set shortcut.
const MAX_SET: usize = 256;
/// Classes with at most this many characters become set members.
const MAX_CLASS_CHARS: usize = 16;

/// How a pattern is matched.
#[derive(Clone, Debug)]
pub(crate) enum Fast {
    /// Run the regex.
    Regex,
    /// Equal to this string.
    Literal(String),
    /// One of these strings (sorted, unique).
    Set(Vec<String>),
    /// Literals separated by dot-all wildcards.
    Glob(Glob),
}

/// `prefix .{n1,} m1 .{n2,} m2 ... .{nk,} suffix`, where `.` matches any
/// character including newline.
#[derive(Clone, Debug)]
pub(crate) struct Glob {
    pub(crate) prefix: String,
    /// Each middle literal (non-empty) with the minimum number of
    /// characters before it.
    middles: Vec<(usize, String)>,
    /// The minimum number of characters before the suffix.
    last_gap: usize,
    suffix: String,
}

impl Fast {
    /// Picks the shortcut for a parsed pattern.
    pub(crate) fn analyze(node: &Node) -> Fast {
        if let Some(s) = literal(node) {
            return Fast::Literal(s);
        }
        if let Some(mut set) = set(node) {
            set.sort();
            set.dedup();
            return match set.len() {
                1 => Fast::Literal(set.pop().unwrap_or_default()),
                _ => Fast::Set(set),
            };
        }
        if let Some(g) = glob(node) {
            return Fast::Glob(g);
        }
        Fast::Regex
    }

    /// The decision, or `None` if the regex must run.
    #[inline]
    pub(crate) fn is_match(&self, s: &str) -> Option<bool> {
        match self {
            Fast::Regex => None,
            Fast::Literal(l) => Some(s == l),
            Fast::Set(set) => Some(set.binary_search_by(|m| m.as_str().cmp(s)).is_ok()),
            Fast::Glob(g) => Some(g.is_match(s)),
        }
    }
}

/// Skips at least `n` characters of `s`.
fn skip_chars(s: &str, n: usize) -> Option<&str> {
    if n == 0 {
        return Some(s);
    }
    let (i, c) = s.char_indices().nth(n - 1)?;
    Some(&s[i + c.len_utf8()..])
}

impl Glob {
    fn is_match(&self, s: &str) -> bool {
        let Some(rest) = s.strip_prefix(self.prefix.as_str()) else {
            return false;
        };
        let Some(mut mid) = rest.strip_suffix(self.suffix.as_str()) else {
            return false;
        };
        // Placing each middle literal as early as possible leaves the most
        // room for the rest, since gaps only have lower bounds.
        for (gap, piece) in &self.middles {
            let Some(after_gap) = skip_chars(mid, *gap) else {
                return false;
            };
            let Some(i) = after_gap.find(piece.as_str()) else {
                return false;
            };
            mid = &after_gap[i + piece.len()..];
        }
        skip_chars(mid, self.last_gap).is_some()
    }
}

/// The single character of a class, if it has exactly one.
fn single_char(cls: &ClassUnicode) -> Option<char> {
    match cls.ranges() {
        [r] if r.start() == r.end() => Some(r.start()),
        _ => None,
    }
}

/// The characters of a small class.
fn class_chars(cls: &ClassUnicode) -> Option<Vec<char>> {
    let mut out = Vec::new();
    for r in cls.ranges() {
        for c in r.start()..=r.end() {
            if out.len() == MAX_CLASS_CHARS {
                return None;
            }
            out.push(c);
        }
    }
    Some(out)
}

/// The string a node matches, if it matches exactly one.
fn literal(node: &Node) -> Option<String> {
    let mut out = String::new();
    push_literal(node, &mut out).then_some(out)
}

fn push_literal(node: &Node, out: &mut String) -> bool {
    match node {
        Node::Empty => true,
        Node::Literal { c, fold: false } => {
            out.push(*c);
            true
        }
        Node::Class(cls) => single_char(cls).map(|c| out.push(c)).is_some(),
        Node::Capture { sub, .. } => push_literal(sub, out),
        Node::Concat(subs) => subs.iter().all(|s| push_literal(s, out)),
        _ => false,
    }
}

/// The finite set of strings a node matches, if small.
fn set(node: &Node) -> Option<Vec<String>> {
    if let Some(s) = literal(node) {
        return Some(vec![s]);
    }
    match node {
        Node::Literal { c, fold: true } => {
            class_chars(&fold_char(*c)).map(|cs| cs.into_iter().map(String::from).collect())
        }
        Node::Class(cls) => class_chars(cls).map(|cs| cs.into_iter().map(String::from).collect()),
        Node::Capture { sub, .. } => set(sub),
        Node::Alternate(subs) => {
            let mut out = Vec::new();
            for s in subs {
                out.extend(set(s)?);
                if out.len() > MAX_SET {
                    return None;
                }
            }
            Some(out)
        }
        Node::Repeat {
            min: 0,
            max: Some(1),
            sub,
            ..
        } => {
            let mut out = set(sub)?;
            out.push(String::new());
            Some(out)
        }
        Node::Concat(subs) => {
            let mut acc = vec![String::new()];
            for s in subs {
                let part = set(s)?;
                if acc.len() * part.len() > MAX_SET {
                    return None;
                }
                acc = acc
                    .iter()
                    .flat_map(|a| part.iter().map(move |p| format!("{a}{p}")))
                    .collect();
            }
            Some(acc)
        }
        _ => None,
    }
}

enum Tok {
    Char(char),
    /// A dot-all wildcard of at least this many characters.
    Star(usize),
}

fn glob_tokens(node: &Node, out: &mut Vec<Tok>) -> bool {
    match node {
        Node::Empty => true,
        Node::Literal { c, fold: false } => {
            out.push(Tok::Char(*c));
            true
        }
        Node::Class(cls) => single_char(cls).map(|c| out.push(Tok::Char(c))).is_some(),
        Node::Capture { sub, .. } => glob_tokens(sub, out),
        Node::Concat(subs) => subs.iter().all(|s| glob_tokens(s, out)),
        Node::Repeat {
            min,
            max: None,
            sub,
            ..
        } if matches!(**sub, Node::Dot { nl: true }) => {
            out.push(Tok::Star(*min as usize));
            true
        }
        _ => false,
    }
}

fn glob(node: &Node) -> Option<Glob> {
    let mut toks = Vec::new();
    if !glob_tokens(node, &mut toks) {
        return None;
    }
    // Split into literal pieces separated by (merged) wildcards.
    let mut pieces = vec![String::new()];
    let mut gaps: Vec<usize> = Vec::new();
    let mut in_star = false;
    for t in toks {
        match t {
            Tok::Char(c) => {
                if in_star {
                    pieces.push(String::new());
                    in_star = false;
                }
                if let Some(p) = pieces.last_mut() {
                    p.push(c);
                }
            }
            Tok::Star(n) => {
                if in_star {
                    if let Some(g) = gaps.last_mut() {
                        *g += n;
                    }
                } else {
                    gaps.push(n);
                    in_star = true;
                }
            }
        }
    }
    if in_star {
        pieces.push(String::new());
    }
    if gaps.is_empty() {
        return None;
    }
    let suffix = pieces.pop().unwrap_or_default();
    let last_gap = gaps.pop().unwrap_or_default();
    let mut pieces = pieces.into_iter();
    let prefix = pieces.next().unwrap_or_default();
    Some(Glob {
        prefix,
        middles: gaps.into_iter().zip(pieces).collect(),
        last_gap,
        suffix,
    })
}
