//! A parser for Go's RE2 syntax (`regexp/syntax` with the `Perl` flags), the
//! dialect Prometheus accepts in matchers and relabel configs.
//!
//! Go's syntax is close to, but not the same as, what the Rust `regex` crate
//! parses: `[a[b]]`, `[a&&b]`, `\<` and `\b{start}` mean different things,
//! `[^[]` is valid in Go only, `\Q..\E`, octal escapes, `\z` and names such as
//! `(?P<1x>..)` are Go-only, while `(?x)`, `\p{Emoji}` or `a{,3}` are
//! Rust-only. So the pattern is parsed here, following Go's grammar and error
//! messages, into a small tree ([`Node`]) that is then lowered to
//! `regex_syntax::hir::Hir` for the Rust engine. Character classes are built
//! with `regex_syntax`'s class types; only Unicode property tables are
//! borrowed from its parser.
//!
//! Go's ASCII-only `\d \w \s \b` (and `[[:name:]]`) are built from Go's
//! tables, not from Unicode.

use regex_syntax::hir::{self, ClassUnicode, ClassUnicodeRange, Hir, Look};

use super::unicode;
use super::{ErrorCode, ParseError};

/// Go's limit on a single repetition count, and on the product of nested
/// counted repetitions.
const MAX_REPEAT: u32 = 1000;
/// The deepest group nesting the parser accepts.
const MAX_NESTING: usize = 250;
/// The tallest tree accepted. Go allows 1000; the Rust engine compiles
/// recursively with large frames (nested repetitions overflow a 2 MiB
/// thread stack in debug builds at about 150 levels), so deeper patterns
/// are rejected with Go's "expression nests too deeply".
const MAX_HEIGHT: usize = 100;
/// Go's limit on the estimated compiled program size, in instructions.
const MAX_SIZE: u64 = (128 << 20) / 40;

/// The parsed form of a pattern.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    /// Matches the empty string.
    Empty,
    /// One character; `fold` is set only if the character has other cases.
    Literal { c: char, fold: bool },
    /// A character class (folding and negation already applied).
    Class(ClassUnicode),
    /// `.`; `nl` is whether it matches `\n` (flag `s`).
    Dot { nl: bool },
    /// An empty-width assertion.
    Look(Look),
    /// A capturing group; indexes start at 1.
    Capture { index: u32, sub: Box<Node> },
    /// `*`, `+`, `?` or `{n,m}` (`counted`).
    Repeat {
        min: u32,
        max: Option<u32>,
        greedy: bool,
        counted: bool,
        sub: Box<Node>,
    },
    /// A sequence.
    Concat(Vec<Node>),
    /// Leftmost-first alternatives.
    Alternate(Vec<Node>),
}

impl Node {
    /// Lowers the tree to the Rust engine's representation. Capture names
    /// are left out: the [`super::Regex`] keeps them, with Go's rules.
    pub(crate) fn to_hir(&self) -> Hir {
        match self {
            Node::Empty => Hir::empty(),
            Node::Literal { c, fold: false } => {
                let mut buf = [0u8; 4];
                Hir::literal(c.encode_utf8(&mut buf).as_bytes())
            }
            Node::Literal { c, fold: true } => Hir::class(hir::Class::Unicode(fold_char(*c))),
            Node::Class(cls) => Hir::class(hir::Class::Unicode(cls.clone())),
            Node::Dot { nl: true } => Hir::dot(hir::Dot::AnyChar),
            Node::Dot { nl: false } => Hir::dot(hir::Dot::AnyCharExceptLF),
            Node::Look(l) => Hir::look(*l),
            Node::Capture { index, sub } => Hir::capture(hir::Capture {
                index: *index,
                name: None,
                sub: Box::new(sub.to_hir()),
            }),
            // `x{0}` never matches x, but x's groups must still exist so
            // that later groups keep their numbers: `(?:[^\x00-\x{10FFFF}]x)?`.
            Node::Repeat {
                max: Some(0),
                greedy,
                sub,
                ..
            } => Hir::repetition(hir::Repetition {
                min: 0,
                max: Some(1),
                greedy: *greedy,
                sub: Box::new(Hir::concat(vec![Hir::fail(), sub.to_hir()])),
            }),
            Node::Repeat {
                min,
                max,
                greedy,
                sub,
                ..
            } => Hir::repetition(hir::Repetition {
                min: *min,
                max: *max,
                greedy: *greedy,
                sub: Box::new(sub.to_hir()),
            }),
            Node::Concat(subs) => Hir::concat(subs.iter().map(Node::to_hir).collect()),
            Node::Alternate(subs) => Hir::alternation(subs.iter().map(Node::to_hir).collect()),
        }
    }

    /// Go's `repeatIsValid`: the product of nested counted repetitions must
    /// not exceed `n` copies of the innermost expression.
    fn repeat_is_valid(&self, mut n: u32) -> bool {
        match self {
            Node::Repeat {
                min,
                max,
                counted,
                sub,
                ..
            } => {
                if *counted {
                    let m = match max {
                        Some(0) => return true,
                        Some(m) => *m,
                        None => *min,
                    };
                    if m > n {
                        return false;
                    }
                    if let Some(q) = n.checked_div(m) {
                        n = q;
                    }
                }
                sub.repeat_is_valid(n)
            }
            Node::Capture { sub, .. } => sub.repeat_is_valid(n),
            Node::Concat(subs) | Node::Alternate(subs) => subs.iter().all(|s| s.repeat_is_valid(n)),
            _ => true,
        }
    }

    /// The height of the tree (a leaf is 1).
    fn height(&self) -> usize {
        match self {
            Node::Capture { sub, .. } | Node::Repeat { sub, .. } => 1 + sub.height(),
            Node::Concat(subs) | Node::Alternate(subs) => {
                1 + subs.iter().map(Node::height).max().unwrap_or(0)
            }
            _ => 1,
        }
    }

    /// Go's estimate of the compiled size (`calcSize`), saturating.
    fn size(&self) -> u64 {
        let s = match self {
            Node::Literal { .. } => 1,
            Node::Capture { sub, .. } => 2 + sub.size(),
            Node::Repeat {
                min,
                max,
                sub,
                counted,
                ..
            } => {
                let sub = sub.size();
                match (counted, max) {
                    (false, None) if *min == 0 => 2 + sub,
                    (false, _) => 1 + sub,
                    (true, None) if *min == 0 => 2 + sub,
                    (true, None) => 1u64.saturating_add(u64::from(*min).saturating_mul(sub)),
                    (true, Some(max)) => u64::from(*max)
                        .saturating_mul(sub)
                        .saturating_add(u64::from(max - min)),
                }
            }
            Node::Concat(subs) => subs.iter().map(Node::size).fold(0, u64::saturating_add),
            Node::Alternate(subs) => subs
                .iter()
                .map(Node::size)
                .fold(subs.len() as u64 - 1, u64::saturating_add),
            _ => 1,
        };
        s.max(1)
    }
}

/// The class of all cases of `c`.
pub(crate) fn fold_char(c: char) -> ClassUnicode {
    let mut cls = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
    fold(&mut cls);
    cls
}

/// Adds every simple case folding of the class's characters.
fn fold(cls: &mut ClassUnicode) {
    // Only fails if regex-syntax is built without Unicode case tables, which
    // this crate's dependency declaration does not allow; the class is then
    // left as is.
    let _ = cls.try_case_fold_simple();
}

/// The result of a successful parse.
pub(crate) struct Parsed {
    /// The tree.
    pub(crate) node: Node,
    /// Capture group names by index; index 0 (the whole match) is `None`.
    pub(crate) names: Vec<Option<String>>,
}

#[derive(Clone, Copy)]
struct Flags {
    /// `i`
    fold: bool,
    /// `m` (Go: not `OneLine`)
    multi_line: bool,
    /// `s`
    dot_nl: bool,
    /// `U`
    non_greedy: bool,
}

enum GroupKind {
    Top,
    Capture(u32),
    Plain,
}

struct Group {
    kind: GroupKind,
    /// Flags to restore when the group closes.
    saved: Flags,
    branches: Vec<Node>,
    items: Vec<Node>,
}

impl Group {
    fn new(kind: GroupKind, saved: Flags) -> Group {
        Group {
            kind,
            saved,
            branches: Vec::new(),
            items: Vec::new(),
        }
    }

    fn finish(mut self) -> Node {
        let last = concat(std::mem::take(&mut self.items));
        if self.branches.is_empty() {
            last
        } else {
            self.branches.push(last);
            Node::Alternate(self.branches)
        }
    }
}

fn concat(mut items: Vec<Node>) -> Node {
    match items.len() {
        0 => Node::Empty,
        1 => items.pop().unwrap_or(Node::Empty),
        _ => Node::Concat(items),
    }
}

fn err<T>(code: ErrorCode, expr: &str) -> Result<T, ParseError> {
    Err(ParseError {
        code,
        expr: expr.to_owned(),
    })
}

/// The part of `whole` consumed between `from` and `rest` (both suffixes).
fn consumed<'a>(from: &'a str, rest: &str) -> &'a str {
    &from[..from.len() - rest.len()]
}

struct Parser<'a> {
    whole: &'a str,
    flags: Flags,
    stack: Vec<Group>,
    ncap: u32,
    names: Vec<Option<String>>,
}

/// Parses `pattern` as Go's `regexp/syntax.Parse(pattern, Perl)` would, plus
/// the `DotNL` flag if `dot_nl`.
pub(crate) fn parse(pattern: &str, dot_nl: bool) -> Result<Parsed, ParseError> {
    let flags = Flags {
        fold: false,
        multi_line: false,
        dot_nl,
        non_greedy: false,
    };
    let mut p = Parser {
        whole: pattern,
        flags,
        stack: vec![Group::new(GroupKind::Top, flags)],
        ncap: 0,
        names: vec![None],
    };
    let mut t = pattern;
    let mut last_repeat: Option<&str> = None;
    while let Some(&b) = t.as_bytes().first() {
        let mut repeat = None;
        match b {
            b'(' => {
                if t.as_bytes().get(1) == Some(&b'?') {
                    t = p.parse_perl_flags(t)?;
                } else {
                    p.ncap += 1;
                    p.names.push(None);
                    p.open(GroupKind::Capture(p.ncap))?;
                    t = &t[1..];
                }
            }
            b'|' => {
                let g = p.top();
                let items = std::mem::take(&mut g.items);
                g.branches.push(concat(items));
                t = &t[1..];
            }
            b')' => {
                p.close()?;
                t = &t[1..];
            }
            b'^' => {
                p.push(Node::Look(if p.flags.multi_line {
                    Look::StartLF
                } else {
                    Look::Start
                }));
                t = &t[1..];
            }
            b'$' => {
                p.push(Node::Look(if p.flags.multi_line {
                    Look::EndLF
                } else {
                    Look::End
                }));
                t = &t[1..];
            }
            b'.' => {
                p.push(Node::Dot { nl: p.flags.dot_nl });
                t = &t[1..];
            }
            b'[' => t = p.parse_class(t)?,
            b'*' | b'+' | b'?' => {
                let (min, max) = match b {
                    b'*' => (0, None),
                    b'+' => (1, None),
                    _ => (0, Some(1)),
                };
                let before = t;
                t = p.repeat(min, max, false, before, &t[1..], last_repeat)?;
                repeat = Some(before);
            }
            b'{' => match parse_repeat(t) {
                None => {
                    p.literal('{');
                    t = &t[1..];
                }
                Some((bounds, after)) => {
                    let before = t;
                    let Some((min, max)) = bounds else {
                        return err(ErrorCode::InvalidRepeatSize, consumed(before, after));
                    };
                    if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT || min > m) {
                        return err(ErrorCode::InvalidRepeatSize, consumed(before, after));
                    }
                    t = p.repeat(min, max, true, before, after, last_repeat)?;
                    repeat = Some(before);
                }
            },
            b'\\' => t = p.parse_backslash(t)?,
            _ => {
                let c = t.chars().next().unwrap_or_default();
                p.literal(c);
                t = &t[c.len_utf8()..];
            }
        }
        last_repeat = repeat;
    }
    if p.stack.len() != 1 {
        return err(ErrorCode::MissingParen, pattern);
    }
    let node = p.stack.pop().map_or(Node::Empty, Group::finish);
    if node.height() > MAX_HEIGHT {
        return err(ErrorCode::NestingDepth, pattern);
    }
    if node.size() > MAX_SIZE {
        return err(ErrorCode::Large, pattern);
    }
    Ok(Parsed {
        node,
        names: p.names,
    })
}

/// Go's `parseRepeat`: `{n}`, `{n,}` or `{n,m}`. `None` if `s` is not of
/// that form (then `{` is a literal). The bounds are `None` when a number is
/// 10^8 or more (Go reports that as an invalid repeat count).
#[allow(clippy::type_complexity)]
fn parse_repeat(s: &str) -> Option<(Option<(u32, Option<u32>)>, &str)> {
    let s = s.strip_prefix('{')?;
    let (min, mut s) = parse_int(s)?;
    let mut big = min.is_none();
    let min = min.unwrap_or(0);
    let max = if let Some(r) = s.strip_prefix(',') {
        if r.starts_with('}') {
            s = r;
            None
        } else {
            let (m, r) = parse_int(r)?;
            s = r;
            big |= m.is_none();
            m
        }
    } else {
        Some(min)
    };
    let rest = s.strip_prefix('}')?;
    Some(((!big).then_some((min, max)), rest))
}

/// Go's `parseInt`: decimal digits without leading zeros; `Some(None)` when
/// the value is 10^8 or more.
fn parse_int(s: &str) -> Option<(Option<u32>, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || (digits >= 2 && s.as_bytes()[0] == b'0') {
        return None;
    }
    let mut n: u32 = 0;
    let mut big = false;
    for &d in &s.as_bytes()[..digits] {
        if n >= 100_000_000 {
            big = true;
            break;
        }
        n = n * 10 + u32::from(d - b'0');
    }
    Some(((!big).then_some(n), &s[digits..]))
}

impl<'a> Parser<'a> {
    fn top(&mut self) -> &mut Group {
        // The stack always holds the top-level group.
        let last = self.stack.len() - 1;
        &mut self.stack[last]
    }

    fn push(&mut self, node: Node) {
        self.top().items.push(node);
    }

    fn literal(&mut self, c: char) {
        let fold = self.flags.fold && {
            let cls = fold_char(c);
            cls.ranges().len() > 1 || cls.ranges().iter().any(|r| r.start() != r.end())
        };
        self.push(Node::Literal { c, fold });
    }

    fn open(&mut self, kind: GroupKind) -> Result<(), ParseError> {
        if self.stack.len() > MAX_NESTING {
            return err(ErrorCode::NestingDepth, self.whole);
        }
        self.stack.push(Group::new(kind, self.flags));
        Ok(())
    }

    fn close(&mut self) -> Result<(), ParseError> {
        if self.stack.len() < 2 {
            return err(ErrorCode::UnexpectedParen, self.whole);
        }
        let Some(g) = self.stack.pop() else {
            return err(ErrorCode::UnexpectedParen, self.whole);
        };
        self.flags = g.saved;
        let node = match g.kind {
            GroupKind::Capture(index) => {
                let sub = Box::new(g.finish());
                Node::Capture { index, sub }
            }
            _ => g.finish(),
        };
        self.push(node);
        Ok(())
    }

    /// Applies a repetition operator to the last item. `before` starts at
    /// the operator, `after` follows it.
    fn repeat(
        &mut self,
        min: u32,
        max: Option<u32>,
        counted: bool,
        before: &'a str,
        mut after: &'a str,
        last_repeat: Option<&'a str>,
    ) -> Result<&'a str, ParseError> {
        let mut greedy = !self.flags.non_greedy;
        if let Some(rest) = after.strip_prefix('?') {
            after = rest;
            greedy = !greedy;
        }
        if let Some(last) = last_repeat {
            return err(ErrorCode::InvalidRepeatOp, consumed(last, after));
        }
        let Some(sub) = self.top().items.pop() else {
            return err(ErrorCode::MissingRepeatArgument, consumed(before, after));
        };
        let node = Node::Repeat {
            min,
            max,
            greedy,
            counted,
            sub: Box::new(sub),
        };
        if counted && (min >= 2 || max.is_some_and(|m| m >= 2)) && !node.repeat_is_valid(MAX_REPEAT)
        {
            return err(ErrorCode::InvalidRepeatSize, consumed(before, after));
        }
        self.push(node);
        Ok(after)
    }

    /// `(?` ...: named captures, flag changes and non-capturing groups.
    fn parse_perl_flags(&mut self, s: &'a str) -> Result<&'a str, ParseError> {
        let b = s.as_bytes();
        let starts_with_p = b.len() > 4 && b[2] == b'P' && b[3] == b'<';
        let starts_with_name = b.len() > 3 && b[2] == b'<';
        if starts_with_p || starts_with_name {
            let name_start = if starts_with_p { 4 } else { 3 };
            let Some(end) = s.find('>') else {
                return err(ErrorCode::InvalidNamedCapture, s);
            };
            let capture = &s[..=end];
            let name = &s[name_start..end];
            if name.is_empty() || !name.bytes().all(|c| c == b'_' || c.is_ascii_alphanumeric()) {
                return err(ErrorCode::InvalidNamedCapture, capture);
            }
            self.ncap += 1;
            self.names.push(Some(name.to_owned()));
            self.open(GroupKind::Capture(self.ncap))?;
            return Ok(&s[end + 1..]);
        }

        let mut t = &s[2..];
        let mut flags = self.flags;
        let mut negate = false;
        let mut saw_flag = false;
        while let Some(c) = t.chars().next() {
            t = &t[c.len_utf8()..];
            match c {
                'i' => {
                    flags.fold = !negate;
                    saw_flag = true;
                }
                'm' => {
                    flags.multi_line = !negate;
                    saw_flag = true;
                }
                's' => {
                    flags.dot_nl = !negate;
                    saw_flag = true;
                }
                'U' => {
                    flags.non_greedy = !negate;
                    saw_flag = true;
                }
                '-' => {
                    if negate {
                        break;
                    }
                    negate = true;
                    saw_flag = false;
                }
                ':' | ')' => {
                    if negate && !saw_flag {
                        break;
                    }
                    if c == ':' {
                        self.open(GroupKind::Plain)?;
                    }
                    self.flags = flags;
                    return Ok(t);
                }
                _ => break,
            }
        }
        err(ErrorCode::InvalidPerlOp, consumed(s, t))
    }

    /// A backslash outside a class.
    fn parse_backslash(&mut self, t: &'a str) -> Result<&'a str, ParseError> {
        if let Some(&c) = t.as_bytes().get(1) {
            let look = match c {
                b'A' => Some(Look::Start),
                b'b' => Some(Look::WordAscii),
                b'B' => Some(Look::WordAsciiNegate),
                b'z' => Some(Look::End),
                b'C' => return err(ErrorCode::InvalidEscape, &t[..2]),
                b'Q' => {
                    let body = &t[2..];
                    let (lit, rest) = match body.find("\\E") {
                        Some(i) => (&body[..i], &body[i + 2..]),
                        None => (body, ""),
                    };
                    for c in lit.chars() {
                        self.literal(c);
                    }
                    return Ok(rest);
                }
                _ => None,
            };
            if let Some(look) = look {
                self.push(Node::Look(look));
                return Ok(&t[2..]);
            }
            if c == b'p' || c == b'P' {
                let (cls, rest) = self.parse_unicode_class(t)?;
                self.push(Node::Class(cls));
                return Ok(rest);
            }
            if let Some((cls, rest)) = self.parse_perl_class(t) {
                self.push(Node::Class(cls));
                return Ok(rest);
            }
        }
        let (r, rest) = parse_escape(t)?;
        match char::from_u32(r) {
            Some(c) => self.literal(c),
            // A surrogate: valid in Go's syntax, never matches UTF-8 text.
            None => self.push(Node::Class(ClassUnicode::empty())),
        }
        Ok(rest)
    }

    /// Adds a group of characters to `acc`, folding first and then
    /// negating, as Go's `appendGroup` does.
    fn add_group(&self, acc: &mut ClassUnicode, mut cls: ClassUnicode, negate: bool) {
        if self.flags.fold {
            fold(&mut cls);
        }
        if negate {
            cls.negate();
        }
        acc.union(&cls);
    }

    /// `\d \D \s \S \w \W` at the start of `s`.
    fn parse_perl_class(&self, s: &'a str) -> Option<(ClassUnicode, &'a str)> {
        let b = s.as_bytes();
        if b.len() < 2 || b[0] != b'\\' {
            return None;
        }
        let table = match b[1].to_ascii_lowercase() {
            b'd' => unicode::PERL_DIGIT,
            b's' => unicode::PERL_SPACE,
            b'w' => unicode::PERL_WORD,
            _ => return None,
        };
        let mut acc = ClassUnicode::empty();
        self.add_group(
            &mut acc,
            unicode::ascii_class(table),
            b[1].is_ascii_uppercase(),
        );
        Some((acc, &s[2..]))
    }

    /// `\pN`, `\p{Name}`, `\PN`, `\P{Name}`, `\p{^Name}` at the start of `s`.
    fn parse_unicode_class(&self, s: &'a str) -> Result<(ClassUnicode, &'a str), ParseError> {
        let mut negate = s.as_bytes()[1] == b'P';
        let t = &s[2..];
        let (seq, mut name, rest) = match t.chars().next() {
            None => (s, "", ""),
            Some('{') => {
                let Some(end) = s.find('}') else {
                    return err(ErrorCode::InvalidCharRange, s);
                };
                (&s[..=end], &s[3..end], &s[end + 1..])
            }
            Some(c) => {
                let rest = &t[c.len_utf8()..];
                let seq = consumed(s, rest);
                (seq, &seq[2..], rest)
            }
        };
        if let Some(n) = name.strip_prefix('^') {
            negate = !negate;
            name = n;
        }
        let Some(cls) = unicode::table(name) else {
            return err(ErrorCode::InvalidCharRange, seq);
        };
        let mut acc = ClassUnicode::empty();
        self.add_group(&mut acc, cls, negate);
        Ok((acc, rest))
    }

    /// A bracketed class starting at `s` (which begins with `[`).
    fn parse_class(&mut self, s: &'a str) -> Result<&'a str, ParseError> {
        let mut t = &s[1..];
        let mut negate = false;
        if let Some(rest) = t.strip_prefix('^') {
            negate = true;
            t = rest;
        }
        let mut acc = ClassUnicode::empty();
        let mut first = true;
        while t.is_empty() || !t.starts_with(']') || first {
            first = false;
            // POSIX [:alnum:] etc.
            if t.len() > 2
                && t.starts_with("[:")
                && let Some(i) = t[2..].find(":]")
            {
                let name = &t[..i + 4];
                let Some((table, neg)) = unicode::posix_class(name) else {
                    return err(ErrorCode::InvalidCharRange, name);
                };
                self.add_group(&mut acc, unicode::ascii_class(table), neg);
                t = &t[i + 4..];
                continue;
            }
            // Unicode groups like \p{Han}.
            if t.starts_with("\\p") || t.starts_with("\\P") {
                let (cls, rest) = self.parse_unicode_class(t)?;
                acc.union(&cls);
                t = rest;
                continue;
            }
            // Perl classes.
            if let Some((cls, rest)) = self.parse_perl_class(t) {
                acc.union(&cls);
                t = rest;
                continue;
            }
            // A character or a range.
            let range_start = t;
            let (lo, rest) = parse_class_char(t, s)?;
            t = rest;
            let mut hi = lo;
            if t.len() >= 2 && t.starts_with('-') && !t[1..].starts_with(']') {
                let (h, rest) = parse_class_char(&t[1..], s)?;
                t = rest;
                hi = h;
                if hi < lo {
                    return err(ErrorCode::InvalidCharRange, consumed(range_start, t));
                }
            }
            if let Some(cls) = unicode::range_class(lo, hi) {
                self.add_group(&mut acc, cls, false);
            }
        }
        t = &t[1..];
        if negate {
            acc.negate();
        }
        self.push(Node::Class(acc));
        Ok(t)
    }
}

/// Go's `parseClassChar`.
fn parse_class_char<'a>(s: &'a str, whole_class: &str) -> Result<(u32, &'a str), ParseError> {
    match s.chars().next() {
        None => err(ErrorCode::MissingBracket, whole_class),
        Some('\\') => parse_escape(s),
        Some(c) => Ok((u32::from(c), &s[c.len_utf8()..])),
    }
}

fn unhex(c: char) -> Option<u32> {
    c.to_digit(16)
}

/// Go's `parseEscape`: a single-character escape at the start of `s`
/// (which begins with `\`). Returns the code point, which may be a
/// surrogate.
fn parse_escape(s: &str) -> Result<(u32, &str), ParseError> {
    let t = &s[1..];
    let Some(c) = t.chars().next() else {
        return err(ErrorCode::TrailingBackslash, "");
    };
    let mut t = &t[c.len_utf8()..];
    let is_octal = |t: &str| {
        t.as_bytes()
            .first()
            .is_some_and(|b| (b'0'..=b'7').contains(b))
    };
    match c {
        '1'..='7' | '0' if c == '0' || is_octal(t) => {
            let mut r = u32::from(c) - u32::from('0');
            for _ in 1..3 {
                if !is_octal(t) {
                    break;
                }
                r = r * 8 + u32::from(t.as_bytes()[0] - b'0');
                t = &t[1..];
            }
            return Ok((r, t));
        }
        'x' => {
            if let Some(c) = t.chars().next() {
                t = &t[c.len_utf8()..];
                if c == '{' {
                    let mut nhex = 0;
                    let mut r: u32 = 0;
                    loop {
                        let Some(c) = t.chars().next() else {
                            return err(ErrorCode::InvalidEscape, consumed(s, t));
                        };
                        t = &t[c.len_utf8()..];
                        if c == '}' {
                            break;
                        }
                        let Some(v) = unhex(c) else {
                            return err(ErrorCode::InvalidEscape, consumed(s, t));
                        };
                        r = r * 16 + v;
                        if r > 0x10FFFF {
                            return err(ErrorCode::InvalidEscape, consumed(s, t));
                        }
                        nhex += 1;
                    }
                    if nhex == 0 {
                        return err(ErrorCode::InvalidEscape, consumed(s, t));
                    }
                    return Ok((r, t));
                }
                let x = unhex(c);
                let y = t.chars().next().and_then(|c2| {
                    t = &t[c2.len_utf8()..];
                    unhex(c2)
                });
                if let (Some(x), Some(y)) = (x, y) {
                    return Ok((x * 16 + y, t));
                }
            }
        }
        'a' => return Ok((7, t)),
        'f' => return Ok((12, t)),
        'n' => return Ok((10, t)),
        'r' => return Ok((13, t)),
        't' => return Ok((9, t)),
        'v' => return Ok((11, t)),
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => return Ok((u32::from(c), t)),
        _ => {}
    }
    err(ErrorCode::InvalidEscape, consumed(s, t))
}
