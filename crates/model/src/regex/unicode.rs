//! Character tables with Go's definitions: the ASCII Perl and POSIX classes,
//! Unicode property lookup as Go's `regexp/syntax` does it, and the
//! `unicode.IsLetter`/`IsDigit`/`IsPrint` predicates used by template
//! expansion and string quoting.
//!
//! Unicode property data comes from `regex_syntax`'s tables (the Unicode
//! version may differ slightly from the Go toolchain's).

use std::sync::OnceLock;

use regex_syntax::hir::{self, ClassUnicode, ClassUnicodeRange, Hir, HirKind};

/// `\d`: `[0-9]`.
pub(crate) const PERL_DIGIT: &[(char, char)] = &[('0', '9')];
/// `\s`: `[\t\n\f\r ]` (Go's `\s` has no `\v`).
pub(crate) const PERL_SPACE: &[(char, char)] = &[('\t', '\n'), ('\x0C', '\r'), (' ', ' ')];
/// `\w`: `[0-9A-Za-z_]`.
pub(crate) const PERL_WORD: &[(char, char)] = &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];

const POSIX: &[(&str, &[(char, char)])] = &[
    ("alnum", &[('0', '9'), ('A', 'Z'), ('a', 'z')]),
    ("alpha", &[('A', 'Z'), ('a', 'z')]),
    ("ascii", &[('\0', '\x7F')]),
    ("blank", &[('\t', '\t'), (' ', ' ')]),
    ("cntrl", &[('\0', '\x1F'), ('\x7F', '\x7F')]),
    ("digit", &[('0', '9')]),
    ("graph", &[('!', '~')]),
    ("lower", &[('a', 'z')]),
    ("print", &[(' ', '~')]),
    ("punct", &[('!', '/'), (':', '@'), ('[', '`'), ('{', '~')]),
    ("space", &[('\t', '\r'), (' ', ' ')]),
    ("upper", &[('A', 'Z')]),
    ("word", &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')]),
    ("xdigit", &[('0', '9'), ('A', 'F'), ('a', 'f')]),
];

/// A POSIX class written as `[:name:]` or `[:^name:]`: its table and
/// whether it is negated.
pub(crate) fn posix_class(bracketed: &str) -> Option<(&'static [(char, char)], bool)> {
    let inner = bracketed.strip_prefix("[:")?.strip_suffix(":]")?;
    let (name, negated) = match inner.strip_prefix('^') {
        Some(n) => (n, true),
        None => (inner, false),
    };
    POSIX
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| (*t, negated))
}

/// A class from a table of ranges.
pub(crate) fn ascii_class(table: &[(char, char)]) -> ClassUnicode {
    ClassUnicode::new(table.iter().map(|&(a, b)| ClassUnicodeRange::new(a, b)))
}

/// The class `[lo-hi]` of code points, leaving out surrogates (which Go
/// allows in ranges but which never occur in UTF-8 text). `None` if the
/// range holds only surrogates.
pub(crate) fn range_class(lo: u32, hi: u32) -> Option<ClassUnicode> {
    let mut cls = ClassUnicode::empty();
    let mut add = |a: u32, b: u32| {
        if let (Some(a), Some(b)) = (char::from_u32(a), char::from_u32(b))
            && a <= b
        {
            cls.push(ClassUnicodeRange::new(a, b));
        }
    };
    add(lo, hi.min(0xD7FF));
    add(lo.max(0xE000), hi);
    (!cls.ranges().is_empty()).then_some(cls)
}

/// Go's `canonicalName`: drops `_`, `-` and spaces; the first letter upper
/// case, the rest lower case.
fn canonical(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().filter(|c| !matches!(c, '_' | '-' | ' ')) {
        if out.is_empty() {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Looks up `\p{spec}` in `regex_syntax`'s tables.
fn property(spec: &str) -> Option<ClassUnicode> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(&format!("\\p{{{spec}}}"))
        .ok()?;
    class_of(hir)
}

fn class_of(hir: Hir) -> Option<ClassUnicode> {
    match hir.into_kind() {
        HirKind::Class(hir::Class::Unicode(c)) => Some(c),
        HirKind::Literal(hir::Literal(bytes)) => {
            let s = std::str::from_utf8(&bytes).ok()?;
            let mut it = s.chars();
            let c = it.next()?;
            it.next()
                .is_none()
                .then(|| ClassUnicode::new([ClassUnicodeRange::new(c, c)]))
        }
        _ => None,
    }
}

fn union(specs: &[&str]) -> Option<ClassUnicode> {
    let mut acc = ClassUnicode::empty();
    for s in specs {
        acc.union(&property(s)?);
    }
    Some(acc)
}

/// The class named by `\p{name}`, as Go's `unicodeTable` resolves it: `Any`,
/// `Assigned`, `ASCII`, general categories (short names and their aliases,
/// matched loosely) and scripts. Go's `C` leaves out unassigned code points.
/// Unicode properties that Go does not know (`Emoji`, `Alphabetic`, `scx=`)
/// are rejected.
pub(crate) fn table(name: &str) -> Option<ClassUnicode> {
    if name.is_empty() || name.contains(['=', ':', '{', '}', '\\']) {
        return None;
    }
    match canonical(name).as_str() {
        "Any" => return Some(ClassUnicode::new([ClassUnicodeRange::new('\0', char::MAX)])),
        "Assigned" => {
            let mut cn = property("gc=Cn")?;
            cn.negate();
            return Some(cn);
        }
        "Ascii" => return Some(ascii_class(&[('\0', '\x7F')])),
        "C" => return union(&["gc=Cc", "gc=Cf", "gc=Co", "gc=Cs"]),
        _ => {}
    }
    property(&format!("gc={name}")).or_else(|| property(&format!("sc={name}")))
}

fn contains(cls: &ClassUnicode, c: char) -> bool {
    cls.ranges()
        .binary_search_by(|r| {
            if r.end() < c {
                std::cmp::Ordering::Less
            } else if r.start() > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

fn lazy_class(cell: &'static OnceLock<ClassUnicode>, specs: &[&str]) -> &'static ClassUnicode {
    cell.get_or_init(|| union(specs).unwrap_or_else(ClassUnicode::empty))
}

/// Go's `unicode.IsLetter(c) || unicode.IsDigit(c) || c == '_'`: the
/// characters of a `$name` in a replacement template.
pub(crate) fn is_template_name_char(c: char) -> bool {
    static TABLE: OnceLock<ClassUnicode> = OnceLock::new();
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    contains(lazy_class(&TABLE, &["gc=L", "gc=Nd"]), c)
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols
/// and the ASCII space.
pub(crate) fn is_print(c: char) -> bool {
    static TABLE: OnceLock<ClassUnicode> = OnceLock::new();
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    contains(
        lazy_class(&TABLE, &["gc=L", "gc=M", "gc=N", "gc=P", "gc=S"]),
        c,
    )
}
