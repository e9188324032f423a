//! Lexing helpers shared by the text and OpenMetrics parsers.
//!
//! UTF-8 validation with a position, error construction (line, column,
//! near text), the name character classes, quoted-string scanning and
//! unescaping into the parser's scratch buffer, label-list helpers
//! (duplicate names, `le`/`quantile` normalization) and re-exports of the
//! number routines in [`num`].

use crate::{Format, ParseError, Position, Str};

pub(crate) mod num;

/// Inputs are addressed with `u32` offsets ([`Str`]).
pub(crate) const MAX_INPUT: usize = u32::MAX as usize;

/// Checks that `input` is UTF-8 and small enough to address; returns it as
/// a `&str`. The error names the line and column of the first bad byte.
pub(crate) fn validate(format: Format, input: &[u8]) -> Result<&str, ParseError> {
    if input.len() > MAX_INPUT {
        return Err(ParseError {
            format,
            position: Position {
                line: 1,
                column: 1,
                offset: 0,
            },
            message: format!("input too large: {} bytes, limit {MAX_INPUT}", input.len()),
            near: String::new(),
        });
    }
    match std::str::from_utf8(input) {
        Ok(s) => Ok(s),
        Err(e) => {
            let offset = e.valid_up_to();
            let bad_len = e.error_len().unwrap_or(input.len() - offset).clamp(1, 4);
            let mut near = String::new();
            for b in &input[offset..(offset + bad_len).min(input.len())] {
                near.push_str(&format!("\\x{b:02x}"));
            }
            Err(ParseError {
                format,
                position: position_in(input, offset),
                message: "invalid UTF-8".to_string(),
                near,
            })
        }
    }
}

/// The line and column of `offset` in `input`.
pub(crate) fn position_in(input: &[u8], offset: usize) -> Position {
    let offset = offset.min(input.len());
    let before = &input[..offset];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    Position {
        line,
        column: offset - line_start + 1,
        offset,
    }
}

/// Longest `near` text, in characters.
const NEAR_CHARS: usize = 40;

/// A parse error at `offset` of `input`.
pub(crate) fn error(
    format: Format,
    input: &str,
    offset: usize,
    message: impl Into<String>,
) -> ParseError {
    let mut offset = offset.min(input.len());
    while !input.is_char_boundary(offset) {
        offset -= 1;
    }
    let rest = &input[offset..];
    let near = if rest.starts_with('\n') {
        "\n".to_string()
    } else {
        let line = rest.split('\n').next().unwrap_or("");
        line.chars().take(NEAR_CHARS).collect()
    };
    ParseError {
        format,
        position: position_in(input.as_bytes(), offset),
        message: message.into(),
        near,
    }
}

/// `[a-zA-Z_:]`
pub(crate) fn is_metric_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}

/// `[a-zA-Z0-9_:]`
pub(crate) fn is_metric_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

/// `[a-zA-Z_]`
pub(crate) fn is_label_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

/// `[a-zA-Z0-9_]`
pub(crate) fn is_label_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The end of the run of bytes from `pos` that satisfy `f`.
pub(crate) fn scan_while(b: &[u8], mut pos: usize, f: impl Fn(u8) -> bool) -> usize {
    while pos < b.len() && f(b[pos]) {
        pos += 1;
    }
    pos
}

/// Skips spaces and tabs.
pub(crate) fn skip_blanks(b: &[u8], pos: usize) -> usize {
    scan_while(b, pos, |c| c == b' ' || c == b'\t')
}

/// The offset of the next `\n` at or after `pos`, or the input length.
pub(crate) fn line_end(b: &[u8], pos: usize) -> usize {
    b[pos.min(b.len())..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |i| pos + i)
}

/// Scans a double-quoted string whose opening quote is at `pos`; returns the
/// offset just past the closing quote, or `None` if it is unterminated. A
/// backslash escapes the next character, which must not be a line feed; a
/// raw line feed is allowed only with `allow_newline` (text 0.0.4 quirk).
pub(crate) fn scan_quoted(b: &[u8], pos: usize, allow_newline: bool) -> Option<usize> {
    let mut i = pos + 1;
    loop {
        match *b.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => match *b.get(i + 1)? {
                b'\n' => return None,
                _ => i += 2,
            },
            b'\n' if !allow_newline => return None,
            _ => i += 1,
        }
    }
}

/// Which escape sequences a string knows; unknown ones stay as written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Escapes {
    /// `\\`, `\"` and `\n`: label values, quoted names, OpenMetrics help.
    Quoted,
    /// `\\` and `\n` only: text 0.0.4 help.
    TextHelp,
}

/// The unescaped text of `input[start..end]`: the input span itself when
/// it holds no backslash (fast path, no copy), else a span of `scratch`.
#[inline]
pub(crate) fn unescape(
    input: &str,
    start: usize,
    end: usize,
    esc: Escapes,
    scratch: &mut String,
) -> Str {
    // Fast path: nothing to unescape, point into the input.
    if !input.as_bytes()[start..end].contains(&b'\\') {
        return Str::input(start, end);
    }
    unescape_into(&input[start..end], esc, scratch)
}

/// The slow path of [`unescape`]: copies `raw` unescaped into `scratch`.
fn unescape_into(raw: &str, esc: Escapes, scratch: &mut String) -> Str {
    let s0 = scratch.len();
    let mut rest = raw;
    while let Some(i) = rest.find('\\') {
        scratch.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.as_bytes().first() {
            Some(b'\\') => scratch.push('\\'),
            Some(b'n') => scratch.push('\n'),
            Some(b'"') if esc == Escapes::Quoted => scratch.push('"'),
            _ => {
                scratch.push('\\');
                rest = after;
                continue;
            }
        }
        rest = &after[1..];
    }
    scratch.push_str(rest);
    Str::scratch(s0, scratch.len())
}

/// The index of the first label whose name repeats an earlier one.
/// `order` is a reusable buffer.
pub(crate) fn duplicate_label(
    input: &str,
    scratch: &str,
    labels: &[(Str, Str)],
    order: &mut Vec<u32>,
) -> Option<usize> {
    let name = |i: usize| labels[i].0.resolve(input, scratch);
    if labels.len() <= 16 {
        // Fast path: a quadratic scan beats sorting for small sets; names
        // of different lengths differ without being looked at.
        let len = |i: usize| labels[i].0.len;
        return (1..labels.len()).find(|&j| (0..j).any(|i| len(i) == len(j) && name(i) == name(j)));
    }
    order.clear();
    order.extend(0..labels.len() as u32);
    // Stable, so among equal names the earlier one comes first.
    order.sort_by(|&a, &b| name(a as usize).cmp(name(b as usize)));
    let mut dup: Option<usize> = None;
    for w in order.windows(2) {
        if name(w[0] as usize) == name(w[1] as usize) {
            let later = w[1] as usize;
            dup = Some(dup.map_or(later, |d| d.min(later)));
        }
    }
    dup
}

/// Rewrites the value of `le` (for histograms) or `quantile` (for
/// summaries) in the canonical OpenMetrics float form, as Prometheus does
/// when it builds a series' labels (`1` becomes `1.0`). Values that are not
/// Go floats are left alone. `kind` is the type of the latest `# TYPE` line.
pub(crate) fn normalize_float_labels(
    kind: Option<model::MetricType>,
    input: &str,
    scratch: &mut String,
    labels: &mut [(Str, Str)],
) {
    let special = match kind {
        Some(model::MetricType::Histogram) => "le",
        Some(model::MetricType::Summary) => "quantile",
        _ => return,
    };
    for (name, value) in labels.iter_mut() {
        if name.resolve(input, scratch) != special {
            continue;
        }
        let raw = value.resolve(input, scratch);
        if num::is_canonical_om_float(raw) {
            continue;
        }
        let Some(f) = num::parse_go_float_lenient(raw) else {
            continue;
        };
        let mut buf = num::StackBuf::new();
        num::write_om_float(&mut buf, f);
        if buf.as_str() != raw {
            let s0 = scratch.len();
            scratch.push_str(buf.as_str());
            *value = Str::scratch(s0, scratch.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_unescape(raw: &str, esc: Escapes, want: &str) {
        let mut scratch = String::from("xx");
        let s = unescape(raw, 0, raw.len(), esc, &mut scratch);
        assert_eq!(s.resolve(raw, &scratch), want, "unescape {raw:?}");
    }

    #[test]
    fn unescaping() {
        check_unescape("plain", Escapes::Quoted, "plain");
        check_unescape(r#"a\"b"#, Escapes::Quoted, "a\"b");
        check_unescape(r"a\\b", Escapes::Quoted, "a\\b");
        check_unescape(r"a\nb", Escapes::Quoted, "a\nb");
        check_unescape(r"a\zb", Escapes::Quoted, "a\\zb");
        check_unescape(r"a\\\n", Escapes::Quoted, "a\\\n");
        check_unescape(r"tail\", Escapes::Quoted, "tail\\");
        check_unescape(r#"a\"b"#, Escapes::TextHelp, "a\\\"b");
        check_unescape(r"a\\n", Escapes::TextHelp, "a\\n");
        check_unescape(r"\\\\", Escapes::TextHelp, "\\\\");
    }

    #[track_caller]
    fn check_quoted(s: &str, newline: bool, want: Option<usize>) {
        assert_eq!(scan_quoted(s.as_bytes(), 0, newline), want, "scan {s:?}");
    }

    #[test]
    fn quoted_strings() {
        check_quoted(r#""abc" rest"#, false, Some(5));
        check_quoted(r#""a\"c" rest"#, false, Some(6));
        check_quoted(r#""a\\" rest"#, false, Some(5));
        check_quoted(r#""abc"#, false, None);
        check_quoted("\"a\nb\"", false, None);
        check_quoted("\"a\nb\"", true, Some(5));
        check_quoted("\"a\\\nb\"", true, None);
        check_quoted("\"a\\", true, None);
    }

    #[track_caller]
    fn check_pos(input: &str, offset: usize, line: usize, column: usize) {
        let p = position_in(input.as_bytes(), offset);
        assert_eq!(
            (p.line, p.column, p.offset),
            (line, column, offset),
            "{input:?} @ {offset}"
        );
    }

    #[test]
    fn positions() {
        check_pos("abc", 0, 1, 1);
        check_pos("abc", 2, 1, 3);
        check_pos("a\nbc", 2, 2, 1);
        check_pos("a\nbc", 3, 2, 2);
        check_pos("a\n\n", 3, 3, 1);
    }

    #[test]
    fn utf8_errors_name_the_bad_byte() {
        let e = validate(Format::Text, b"ok 1\nbad\xff 2\n").unwrap_err();
        assert_eq!(
            (e.position.line, e.position.column, e.position.offset),
            (2, 4, 8)
        );
        assert_eq!(e.message, "invalid UTF-8");
        assert_eq!(e.near, "\\xff");
    }

    #[test]
    fn near_text_is_truncated_to_the_line() {
        let e = error(Format::Text, "a b\nc", 2, "m");
        assert_eq!(e.near, "b");
        let e = error(Format::Text, "a\n", 1, "m");
        assert_eq!(e.near, "\n");
        let e = error(Format::Text, "a", 1, "m");
        assert_eq!(e.near, "");
        let long = "x".repeat(100);
        assert_eq!(error(Format::Text, &long, 0, "m").near.len(), NEAR_CHARS);
    }

    #[test]
    fn duplicates() {
        let input = "abcab";
        let l = |s: usize, e: usize| (Str::input(s, e), Str::input(0, 0));
        let mut order = Vec::new();
        let labels = [l(0, 1), l(1, 2), l(3, 4)];
        assert_eq!(duplicate_label(input, "", &labels, &mut order), Some(2));
        let labels = [l(0, 1), l(1, 2)];
        assert_eq!(duplicate_label(input, "", &labels, &mut order), None);
        // The sorting path: 17 distinct one-letter names plus a repeat.
        let input = "abcdefghijklmnopqa";
        let mut labels: Vec<_> = (0..input.len()).map(|i| l(i, i + 1)).collect();
        assert_eq!(duplicate_label(input, "", &labels, &mut order), Some(17));
        labels.pop();
        assert_eq!(duplicate_label(input, "", &labels, &mut order), None);
    }
}
