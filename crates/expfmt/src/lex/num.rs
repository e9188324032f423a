//! Numbers of the exposition formats.
//!
//! Sample values in both text formats follow the OpenMetrics `number`
//! grammar, which is also what Prometheus accepts (Go's `ParseFloat` minus
//! hex floats and `_` separators): `[sign] digits [. digits] [e [sign]
//! digits]`, case-insensitive `inf`/`infinity` with an optional sign and
//! `nan` without one. Values outside the `f64` range are errors, as in Go.
//!
//! OpenMetrics timestamps are decimal seconds; they are converted to
//! milliseconds and nanoseconds exactly from the decimal digits (truncating
//! towards zero, saturating at the integer range) rather than through a
//! float multiplication, so `1.001` is 1001 ms.

use std::fmt::Write as _;

/// Why a number did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NumError {
    /// Not a number in the accepted syntax.
    Syntax,
    /// Contains `p`, `P` or `_`, which Prometheus rejects on purpose.
    Unsupported,
    /// Outside the range of an `f64`.
    Range,
}

/// A timestamp parsed from decimal seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Seconds {
    /// Milliseconds, truncated towards zero, saturating.
    pub(crate) ms: i64,
    /// Nanoseconds, truncated towards zero, saturating (for ordering).
    pub(crate) ns: i128,
}

/// The parts of a decimal number.
struct Decimal<'s> {
    neg: bool,
    int: &'s [u8],
    frac: &'s [u8],
    exp: i64,
}

/// Splits a decimal `[sign] (d+ [. d*] | . d+) [(e|E) [sign] d+]`.
fn decimal(b: &[u8]) -> Option<Decimal<'_>> {
    let mut i = 0;
    let neg = matches!(b.first(), Some(b'-'));
    if matches!(b.first(), Some(b'-' | b'+')) {
        i = 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int = &b[int_start..i];
    let mut frac: &[u8] = &[];
    if b.get(i) == Some(&b'.') {
        i += 1;
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac = &b[s..i];
    }
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut exp = 0i64;
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let eneg = matches!(b.get(i), Some(b'-'));
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            // Clamped: beyond this the value is 0 or out of range anyway.
            exp = (exp * 10 + i64::from(b[i] - b'0')).min(1_000_000_000);
            i += 1;
        }
        if i == s {
            return None;
        }
        if eneg {
            exp = -exp;
        }
    }
    (i == b.len()).then_some(Decimal {
        neg,
        int,
        frac,
        exp,
    })
}

/// `inf`, `infinity` (optionally signed) or `nan` (unsigned), any case.
fn special(s: &str) -> Option<f64> {
    let (neg, signed, body) = match s.as_bytes().first() {
        Some(b'-') => (true, true, &s[1..]),
        Some(b'+') => (false, true, &s[1..]),
        _ => (false, false, s),
    };
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return Some(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if !signed && body.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    None
}

/// A sample value (text and OpenMetrics `number`).
pub(crate) fn parse_value(s: &str) -> Result<f64, NumError> {
    if let Some(f) = special(s) {
        return Ok(f);
    }
    if s.bytes().any(|c| matches!(c, b'p' | b'P' | b'_')) {
        return Err(NumError::Unsupported);
    }
    if decimal(s.as_bytes()).is_none() {
        return Err(NumError::Syntax);
    }
    let f: f64 = s.parse().map_err(|_| NumError::Syntax)?;
    if f.is_infinite() {
        return Err(NumError::Range);
    }
    Ok(f)
}

/// An OpenMetrics timestamp (`realnumber` seconds, no inf/nan).
pub(crate) fn parse_seconds(s: &str) -> Result<Seconds, NumError> {
    let d = decimal(s.as_bytes()).ok_or(NumError::Syntax)?;
    let f: f64 = s.parse().map_err(|_| NumError::Syntax)?;
    if !f.is_finite() {
        return Err(NumError::Range);
    }
    let ms = scaled(&d, 3).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
    Ok(Seconds {
        ms,
        ns: scaled(&d, 9),
    })
}

/// The decimal times 10^`pow`, truncated towards zero, saturating.
fn scaled(d: &Decimal<'_>, pow: i64) -> i128 {
    let digits = || d.int.iter().chain(d.frac).skip_while(|&&c| c == b'0');
    let n = digits().count() as i64;
    // Zeros to append (positive) or digits to drop (negative).
    let shift = d.exp - d.frac.len() as i64 + pow;
    let keep = n + shift.min(0);
    if keep <= 0 {
        return 0;
    }
    let sat = if d.neg { i128::MIN } else { i128::MAX };
    if keep + shift.max(0) > 38 {
        return sat;
    }
    let mut acc: i128 = 0;
    for &c in digits().take(keep as usize) {
        acc = acc * 10 + i128::from(c - b'0');
    }
    for _ in 0..shift.max(0) {
        acc *= 10;
    }
    if d.neg { -acc } else { acc }
}

/// Go's `strconv.ParseFloat(s, 64)` in full: also `_` digit separators and
/// hex floats (`0x1.8p3`). `None` on a syntax or range error. Used only to
/// normalize `le`/`quantile` label values the way Prometheus does.
pub(crate) fn parse_go_float_lenient(s: &str) -> Option<f64> {
    if let Some(f) = special(s) {
        return Some(f);
    }
    let b = s.as_bytes();
    let body = match b.first() {
        Some(b'-' | b'+') => &b[1..],
        _ => b,
    };
    let hex = body.len() >= 2 && body[0] == b'0' && (body[1] | 0x20) == b'x';
    if b.contains(&b'_') && !underscores_ok(b, hex) {
        return None;
    }
    let f = if hex {
        parse_hex(body)?
    } else if b.contains(&b'_') {
        let mut buf = StackBuf::new();
        for part in s.split('_') {
            buf.write_str(part).ok()?;
        }
        return parse_value(buf.as_str()).ok();
    } else {
        return parse_value(s).ok();
    };
    let f = if b.first() == Some(&b'-') { -f } else { f };
    f.is_finite().then_some(f)
}

/// Go's rule: each `_` sits between two digits (a base prefix counts as a
/// digit before it).
fn underscores_ok(b: &[u8], hex: bool) -> bool {
    let digit = |c: u8| c.is_ascii_digit() || (hex && c.is_ascii_hexdigit());
    (0..b.len()).filter(|&i| b[i] == b'_').all(|i| {
        let before = i > 0 && (digit(b[i - 1]) || (hex && (b[i - 1] | 0x20) == b'x'));
        let after = b.get(i + 1).is_some_and(|&c| digit(c));
        before && after
    })
}

/// `0x` mantissa (hex digits, optional point) `p` exponent (required).
fn parse_hex(b: &[u8]) -> Option<f64> {
    let mut i = 2;
    let mut mant: u64 = 0;
    let mut exp2: i64 = 0;
    let mut digits = 0;
    let mut seen_point = false;
    let mut sticky = false;
    while i < b.len() {
        let c = b[i];
        if c == b'_' {
            i += 1;
            continue;
        }
        if c == b'.' && !seen_point {
            seen_point = true;
            i += 1;
            continue;
        }
        let Some(v) = (c as char).to_digit(16) else {
            break;
        };
        digits += 1;
        if mant >> 56 == 0 {
            mant = mant << 4 | u64::from(v);
            if seen_point {
                exp2 -= 4;
            }
        } else {
            sticky |= v != 0;
            if !seen_point {
                exp2 += 4;
            }
        }
        i += 1;
    }
    if digits == 0 || !matches!(b.get(i), Some(b'p' | b'P')) {
        return None;
    }
    i += 1;
    let neg = b.get(i) == Some(&b'-');
    if matches!(b.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let s = i;
    let mut e: i64 = 0;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        if b[i] != b'_' {
            e = (e * 10 + i64::from(b[i] - b'0')).min(100_000);
        }
        i += 1;
    }
    if i == s || i != b.len() {
        return None;
    }
    exp2 += if neg { -e } else { e };
    // Keep a sticky bit below the 53-bit mantissa so rounding sees it.
    let mant = if sticky { mant | 1 } else { mant };
    let mut f = mant as f64;
    let mut e = exp2;
    while e > 1000 {
        f *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 {
        f *= 2f64.powi(-1000);
        e += 1000;
    }
    Some(f * 2f64.powi(e as i32))
}

/// A small fixed buffer for one formatted number.
pub(crate) struct StackBuf {
    buf: [u8; 48],
    len: usize,
}

impl StackBuf {
    pub(crate) fn new() -> StackBuf {
        StackBuf {
            buf: [0; 48],
            len: 0,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only whole `&str`s are ever written, so this is always UTF-8.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Whether `s` certainly equals `FormatOpenMetricsFloat(ParseFloat(s))`
/// (fast path of label normalization, no float formatting): `+Inf`,
/// `-Inf`, `NaN`, or `[-]int.frac` with no redundant zeros, at most 15
/// significant digits (so no shorter string denotes the same `f64`) and a
/// magnitude in Go's `%f` range [1e-4, 1e6). The check is conservative.
pub(crate) fn is_canonical_om_float(s: &str) -> bool {
    if matches!(s, "+Inf" | "-Inf" | "NaN") {
        return true;
    }
    let b = s.strip_prefix('-').unwrap_or(s).as_bytes();
    let Some(dot) = b.iter().position(|&c| c == b'.') else {
        return false;
    };
    let (int, frac) = (&b[..dot], &b[dot + 1..]);
    if int.is_empty() || frac.is_empty() || !int.iter().chain(frac).all(u8::is_ascii_digit) {
        return false;
    }
    if int == b"0" {
        // 0.000ddd: at most three zeros after the point, no trailing zero.
        let zeros = frac.iter().take_while(|&&c| c == b'0').count();
        zeros <= 3 && zeros < frac.len() && frac.len() - zeros <= 15 && frac.last() != Some(&b'0')
    } else {
        // ddd.0 or ddd.ddd (no trailing zero), below 1e6.
        int[0] != b'0'
            && int.len() <= 6
            && (frac == b"0" || frac.last() != Some(&b'0'))
            && int.len() + if frac == b"0" { 0 } else { frac.len() } <= 15
    }
}

/// Writes `f` as Prometheus's `FormatOpenMetricsFloat`: Go's shortest `%g`
/// with `.0` appended when there is neither a point nor an exponent;
/// `+Inf`, `-Inf`, `NaN`.
pub(crate) fn write_om_float(out: &mut StackBuf, f: f64) {
    crate::encode::float::write_openmetrics(out, f);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_value(s: &str, want: Result<f64, NumError>) {
        let got = parse_value(s);
        match (got, want) {
            (Ok(g), Ok(w)) if g.is_nan() && w.is_nan() => {}
            (g, w) => assert_eq!(g, w, "parse_value({s:?})"),
        }
    }

    #[test]
    fn values() {
        check_value("1", Ok(1.0));
        check_value("-1.5", Ok(-1.5));
        check_value("+.5", Ok(0.5));
        check_value("5.", Ok(5.0));
        check_value("1e3", Ok(1000.0));
        check_value("1E-3", Ok(0.001));
        check_value("0000000000000000000000000000000000000000001.2e-1", Ok(0.12));
        check_value("9223372036854775808", Ok(9_223_372_036_854_775_808.0));
        check_value("1e-400", Ok(0.0));
        check_value("NaN", Ok(f64::NAN));
        check_value("nan", Ok(f64::NAN));
        check_value("+Inf", Ok(f64::INFINITY));
        check_value("-inf", Ok(f64::NEG_INFINITY));
        check_value("Infinity", Ok(f64::INFINITY));
        check_value("+nan", Err(NumError::Syntax));
        check_value("infin", Err(NumError::Syntax));
        check_value("", Err(NumError::Syntax));
        check_value(".", Err(NumError::Syntax));
        check_value("1e", Err(NumError::Syntax));
        check_value(".e3", Err(NumError::Syntax));
        check_value("1.1.1", Err(NumError::Syntax));
        check_value("0x1", Err(NumError::Syntax));
        check_value("0b1", Err(NumError::Syntax));
        check_value("1\t", Err(NumError::Syntax));
        check_value("true", Err(NumError::Syntax));
        check_value("0x1p-3", Err(NumError::Unsupported));
        check_value("1_2", Err(NumError::Unsupported));
        check_value("1e400", Err(NumError::Range));
        check_value("-1e400", Err(NumError::Range));
    }

    #[track_caller]
    fn check_seconds(s: &str, want: Result<(i64, i128), NumError>) {
        assert_eq!(
            parse_seconds(s).map(|t| (t.ms, t.ns)),
            want,
            "parse_seconds({s:?})"
        );
    }

    #[test]
    fn seconds() {
        check_seconds("0", Ok((0, 0)));
        check_seconds("000", Ok((0, 0)));
        check_seconds("1.001", Ok((1001, 1_001_000_000)));
        check_seconds(
            "1520879607.789",
            Ok((1_520_879_607_789, 1_520_879_607_789_000_000)),
        );
        check_seconds("-1.1", Ok((-1100, -1_100_000_000)));
        check_seconds("1.5e3", Ok((1_500_000, 1_500_000_000_000)));
        check_seconds("0.0000000001", Ok((0, 0)));
        check_seconds("0.000000001", Ok((0, 1)));
        check_seconds("-0.0005", Ok((0, -500_000)));
        check_seconds(
            "12345678901234567890.1234567890",
            Ok((i64::MAX, 12_345_678_901_234_567_890_123_456_789)),
        );
        check_seconds("-1e30", Ok((i64::MIN, i128::MIN)));
        check_seconds("1e-999999999999", Ok((0, 0)));
        check_seconds("NaN", Err(NumError::Syntax));
        check_seconds("Inf", Err(NumError::Syntax));
        check_seconds("1e400", Err(NumError::Range));
        check_seconds("0x1p-3", Err(NumError::Syntax));
        check_seconds("1_2", Err(NumError::Syntax));
        check_seconds("z", Err(NumError::Syntax));
    }

    #[track_caller]
    fn check_lenient(s: &str, want: Option<f64>) {
        assert_eq!(parse_go_float_lenient(s), want, "lenient({s:?})");
    }

    #[test]
    fn lenient_go_floats() {
        check_lenient("1", Some(1.0));
        check_lenient("1_000.5", Some(1000.5));
        check_lenient("0x1p-3", Some(0.125));
        check_lenient("-0x1.8p1", Some(-3.0));
        check_lenient("0x_1p4", Some(16.0));
        check_lenient("0x1", None);
        check_lenient("_1", None);
        check_lenient("1_", None);
        check_lenient("1__0", None);
        check_lenient("1e400", None);
        check_lenient("0x1p99999", None);
        check_lenient("foo", None);
        check_lenient("+Inf", Some(f64::INFINITY));
    }

    #[test]
    fn canonical_fast_path_agrees_with_formatting() {
        let cases = [
            "0.005",
            "0.01",
            "0.1",
            "0.5",
            "0.95",
            "0.99",
            "0.999",
            "1.0",
            "2.5",
            "10.0",
            "100000.0",
            "999999.5",
            "0.0001",
            "-0.25",
            "+Inf",
            "-Inf",
            "NaN",
            "123.456",
            "0.123456789012345",
            "1",
            "10",
            "0.0",
            "1.50",
            "0.00001",
            "1000000.0",
            "01.5",
            "1e-05",
            "1.",
            ".5",
            "-0.0",
            "0.1000000000000001",
            "12345678.9",
            "9.999999999999999",
            "0.30000000000000004",
        ];
        for s in cases {
            let f = parse_go_float_lenient(s).unwrap();
            let mut b = StackBuf::new();
            write_om_float(&mut b, f);
            if is_canonical_om_float(s) {
                assert_eq!(b.as_str(), s, "fast path claims {s:?} is canonical");
            }
        }
        for s in ["0.005", "2.5", "10.0", "+Inf", "0.0001", "123.456"] {
            assert!(is_canonical_om_float(s), "{s:?} should take the fast path");
        }
    }

    #[track_caller]
    fn check_format(f: f64, want: &str) {
        let mut b = StackBuf::new();
        write_om_float(&mut b, f);
        assert_eq!(b.as_str(), want, "format {f:e}");
    }

    #[test]
    fn om_float_format() {
        check_format(0.0, "0.0");
        check_format(-0.0, "0.0");
        check_format(1.0, "1.0");
        check_format(-1.0, "-1.0");
        check_format(f64::INFINITY, "+Inf");
        check_format(f64::NEG_INFINITY, "-Inf");
        check_format(f64::NAN, "NaN");
        check_format(0.001, "0.001");
        check_format(0.0001, "0.0001");
        check_format(1e-5, "1e-05");
        check_format(1e-10, "1e-10");
        check_format(0.95, "0.95");
        check_format(10.0, "10.0");
        check_format(2.5, "2.5");
        check_format(100000.0, "100000.0");
        check_format(1e6, "1e+06");
        check_format(1.1e23, "1.1e+23");
        check_format(123456789.0, "1.23456789e+08");
        check_format(-0.25, "-0.25");
        check_format(1e100, "1e+100");
        check_format(5e-324, "5e-324");
        check_format(1.7976931348623157e308, "1.7976931348623157e+308");
    }
}
