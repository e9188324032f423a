//! Go's quoting and unquoting, as PromQL uses them: `strconv.Quote` for the
//! printer and error messages, `strutil.Unquote` for string literals.

use model::matcher;

/// `s` quoted like Go's `strconv.Quote`.
pub(crate) fn go_quote(s: &str) -> String {
    matcher::go_quote(s)
}

/// Whether Go's `strconv.IsPrint` holds for `c`.
pub(crate) fn is_print(c: char) -> bool {
    if c == '"' || c == '\\' {
        return true;
    }
    let mut buf = [0u8; 4];
    let s: &str = c.encode_utf8(&mut buf);
    let q = matcher::go_quote(s);
    q.len() == s.len() + 2
}

/// A rune quoted like Go's `%q` (`strconv.QuoteRune`): `'x'`, `'\n'`.
pub(crate) fn go_quote_char(c: char) -> String {
    match c {
        '\'' => "'\\''".to_owned(),
        '"' => "'\"'".to_owned(),
        c => {
            let mut buf = [0u8; 4];
            let q = matcher::go_quote(c.encode_utf8(&mut buf));
            format!("'{}'", &q[1..q.len() - 1])
        }
    }
}

/// Bytes quoted like Go's `strconv.Quote` of a string holding them: valid
/// UTF-8 as usual, each invalid byte as `\xHH`. One deviation: U+FFFD is
/// written `\ufffd` (Go writes it as is, which PromQL's lexer then rejects
/// as an invalid rune), so that printed queries parse back.
pub(crate) fn go_quote_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    out.push('"');
    for chunk in b.utf8_chunks() {
        let valid = chunk.valid();
        for (i, part) in valid.split('\u{FFFD}').enumerate() {
            if i > 0 {
                out.push_str("\\ufffd");
            }
            if !part.is_empty() {
                let q = matcher::go_quote(part);
                out.push_str(&q[1..q.len() - 1]);
            }
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out.push('"');
    out
}

/// The value of a string token (quotes included) as Prometheus's
/// `strutil.Unquote` computes it: `\x` and octal escapes give bytes, so the
/// result need not be UTF-8. The lexer has validated the token, so this
/// cannot fail; malformed input is taken literally.
pub(crate) fn unquote(token: &str) -> Vec<u8> {
    let b = token.as_bytes();
    if b.len() < 2 {
        return b.to_vec();
    }
    let quote = b[0];
    let body = &token[1..token.len() - 1];
    if quote == b'`' || !body.contains('\\') {
        return body.as_bytes().to_vec();
    }
    let mut out = Vec::with_capacity(body.len());
    let mut chars = body.char_indices().peekable();
    let bytes = body.as_bytes();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let Some((_, e)) = chars.next() else {
            out.push(b'\\');
            break;
        };
        let simple = match e {
            'a' => Some(0x07),
            'b' => Some(0x08),
            'f' => Some(0x0C),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(0x0B),
            '\\' => Some(b'\\'),
            '\'' => Some(b'\''),
            '"' => Some(b'"'),
            _ => None,
        };
        if let Some(v) = simple {
            out.push(v);
            continue;
        }
        let (n, radix) = match e {
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            '0'..='7' => (2, 8),
            _ => {
                out.extend_from_slice(&bytes[i..i + 1 + e.len_utf8()]);
                continue;
            }
        };
        let mut v: u32 = if radix == 8 { e as u32 - '0' as u32 } else { 0 };
        for _ in 0..n {
            match chars.peek().and_then(|&(_, d)| d.to_digit(radix)) {
                Some(d) => {
                    v = v.wrapping_mul(radix).wrapping_add(d);
                    chars.next();
                }
                None => break,
            }
        }
        match e {
            'x' | '0'..='7' => out.push(v as u8),
            _ => {
                let c = char::from_u32(v).unwrap_or('\u{FFFD}');
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(token: &str, want: &[u8], requoted: &str) {
        let got = unquote(token);
        assert_eq!(got, want, "{token}");
        assert_eq!(go_quote_bytes(&got), requoted, "{token}");
    }

    #[test]
    fn unquotes_like_go() {
        check(r#""a""#, b"a", r#""a""#);
        check(r#"'a"b'"#, b"a\"b", r#""a\"b""#);
        check("`a\\nb`", b"a\\nb", r#""a\\nb""#);
        check(r#""\n\t\\""#, b"\n\t\\", r#""\n\t\\""#);
        check(r#""a\xc5z""#, b"a\xc5z", r#""a\xc5z""#);
        check(r#""\101""#, b"A", r#""A""#);
        check(r#""\u00e9\U0001F600""#, "é😀".as_bytes(), r#""é😀""#);
        check(r#""\ufffd""#, "\u{FFFD}".as_bytes(), r#""\ufffd""#);
        check(r#"'\''"#, b"'", r#""'""#);
    }

    #[test]
    fn quotes_runes() {
        assert_eq!(go_quote_char('~'), "'~'");
        assert_eq!(go_quote_char('\''), "'\\''");
        assert_eq!(go_quote_char('\0'), "'\\x00'");
        assert_eq!(go_quote_char('"'), "'\"'");
        assert!(is_print('a') && !is_print('\u{200b}') && is_print('é'));
    }
}
