//! Float formatting exactly as Go's `strconv.FormatFloat(f, 'g', -1, 64)`
//! and client_golang's text and OpenMetrics writers use it.
//!
//! Go picks the shortest decimal that round-trips (as Rust's `{:e}` does),
//! then lays it out in `%e` style when the decimal exponent is below -4 or at
//! least 6, and in `%f` style otherwise; the `%e` exponent has a sign and at
//! least two digits (`1e+06`, `2.5e-07`).

use std::fmt::Write as _;

use crate::lex::num::StackBuf;

/// Appends `f` formatted like Go's `strconv.FormatFloat(f, 'g', -1, 64)`,
/// except that infinities are `+Inf`/`-Inf` as the exposition formats
/// spell them.
pub(crate) fn push_go(out: &mut String, f: f64) {
    // Writing to a String cannot fail.
    let _ = write_go(out, f);
}

/// [`push_go`] into any writer.
pub(crate) fn write_go(out: &mut impl std::fmt::Write, f: f64) -> std::fmt::Result {
    if f.is_nan() {
        return out.write_str("NaN");
    }
    if f.is_infinite() {
        return out.write_str(if f > 0.0 { "+Inf" } else { "-Inf" });
    }
    if f == 0.0 {
        return out.write_str(if f.is_sign_negative() { "-0" } else { "0" });
    }
    let mut b = StackBuf::new();
    // Cannot fail: the longest f64 in `{:e}` is about 24 bytes.
    let _ = write!(b, "{:e}", f.abs());
    let s = b.as_str().as_bytes();
    let e_at = s.iter().position(|&c| c == b'e').unwrap_or(s.len());
    let (mant, exp_part) = s.split_at(e_at);
    let exp = parse_exp(exp_part.get(1..).unwrap_or(&[]));
    // Mantissa digits without the point: d[.ddd].
    let mut digits = [0u8; 24];
    let mut nd = 0;
    for &c in mant {
        if c.is_ascii_digit() && nd < digits.len() {
            digits[nd] = c;
            nd += 1;
        }
    }
    let digits = &digits[..nd];
    if f < 0.0 {
        out.write_char('-')?;
    }
    if !(-4..6).contains(&exp) {
        out.write_char(char::from(digits[0]))?;
        if nd > 1 {
            out.write_char('.')?;
            push_ascii(out, &digits[1..])?;
        }
        out.write_char('e')?;
        out.write_char(if exp < 0 { '-' } else { '+' })?;
        let a = exp.unsigned_abs();
        if a < 10 {
            out.write_char('0')?;
        }
        write!(out, "{a}")?;
    } else {
        // Decimal point position: the value is 0.d1d2... * 10^dp.
        let dp = exp + 1;
        if dp <= 0 {
            out.write_str("0.")?;
            for _ in 0..(-dp) {
                out.write_char('0')?;
            }
            push_ascii(out, digits)?;
        } else {
            let dp = dp as usize;
            if dp >= nd {
                push_ascii(out, digits)?;
                for _ in nd..dp {
                    out.write_char('0')?;
                }
            } else {
                push_ascii(out, &digits[..dp])?;
                out.write_char('.')?;
                push_ascii(out, &digits[dp..])?;
            }
        }
    }
    Ok(())
}

fn push_ascii(out: &mut impl std::fmt::Write, digits: &[u8]) -> std::fmt::Result {
    for &d in digits {
        out.write_char(char::from(d))?;
    }
    Ok(())
}

fn parse_exp(s: &[u8]) -> i32 {
    let (neg, s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let mut v = 0i32;
    for &c in s {
        v = v * 10 + i32::from(c - b'0');
    }
    if neg { -v } else { v }
}

/// Appends a sample value as client_golang's text writer does: Go
/// formatting, with both zeros written `0`.
pub(crate) fn push_text(out: &mut String, f: f64) {
    if f == 0.0 {
        out.push('0');
    } else {
        push_go(out, f);
    }
}

/// Appends a float as client_golang's OpenMetrics writer (and Prometheus's
/// protobuf parser for `le`/`quantile`) does: Go formatting, plus `.0` when
/// the result has neither a point nor an exponent (`1.0`, `0.0`, `10.0`).
pub(crate) fn push_openmetrics(out: &mut String, f: f64) {
    let mut b = StackBuf::new();
    write_openmetrics(&mut b, f);
    out.push_str(b.as_str());
}

/// [`push_openmetrics`] into a stack buffer (Prometheus's
/// `FormatOpenMetricsFloat`, also used to normalise `le`/`quantile`).
pub(crate) fn write_openmetrics(out: &mut StackBuf, f: f64) {
    if f == 0.0 {
        let _ = out.write_str("0.0");
        return;
    }
    let _ = write_go(out, f);
    if f.is_finite() && !out.as_str().contains(['.', 'e']) {
        let _ = out.write_str(".0");
    }
}

/// Whether `f` can be written as an unsigned integer, as client_golang
/// writes integer counts in OpenMetrics.
pub(crate) fn as_count(f: f64) -> Option<u64> {
    // 2^64 itself does not fit.
    (f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&f)).then_some(f as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(f: f64, go: &str, text: &str, om: &str) {
        let mut s = String::new();
        push_go(&mut s, f);
        assert_eq!(s, go, "go {f:?}");
        s.clear();
        push_text(&mut s, f);
        assert_eq!(s, text, "text {f:?}");
        s.clear();
        push_openmetrics(&mut s, f);
        assert_eq!(s, om, "openmetrics {f:?}");
        if f.is_finite() {
            assert_eq!(s.parse::<f64>().ok(), Some(f), "round trip {s}");
        }
    }

    #[test]
    fn formats_like_go() {
        check(0.0, "0", "0", "0.0");
        check(-0.0, "-0", "0", "0.0");
        check(1.0, "1", "1", "1.0");
        check(-1.0, "-1", "-1", "-1.0");
        check(0.5, "0.5", "0.5", "0.5");
        check(10.0, "10", "10", "10.0");
        check(100000.0, "100000", "100000", "100000.0");
        check(123456.0, "123456", "123456", "123456.0");
        check(1e6, "1e+06", "1e+06", "1e+06");
        check(1234567.0, "1.234567e+06", "1.234567e+06", "1.234567e+06");
        check(2.31156e6, "2.31156e+06", "2.31156e+06", "2.31156e+06");
        check(0.0001, "0.0001", "0.0001", "0.0001");
        check(0.00001, "1e-05", "1e-05", "1e-05");
        check(0.000123, "0.000123", "0.000123", "0.000123");
        check(1.5e-7, "1.5e-07", "1.5e-07", "1.5e-07");
        check(1e100, "1e+100", "1e+100", "1e+100");
        check(-2.5e-300, "-2.5e-300", "-2.5e-300", "-2.5e-300");
        check(0.1, "0.1", "0.1", "0.1");
        check(
            0.30000000000000004,
            "0.30000000000000004",
            "0.30000000000000004",
            "0.30000000000000004",
        );
        check(
            f64::MAX,
            "1.7976931348623157e+308",
            "1.7976931348623157e+308",
            "1.7976931348623157e+308",
        );
        check(5e-324, "5e-324", "5e-324", "5e-324");
        check(f64::INFINITY, "+Inf", "+Inf", "+Inf");
        check(f64::NEG_INFINITY, "-Inf", "-Inf", "-Inf");
        check(f64::NAN, "NaN", "NaN", "NaN");
        check(
            1700000000.123,
            "1.700000000123e+09",
            "1.700000000123e+09",
            "1.700000000123e+09",
        );
        check(-42.25, "-42.25", "-42.25", "-42.25");
    }

    #[track_caller]
    fn check_count(f: f64, want: Option<u64>) {
        assert_eq!(as_count(f), want, "{f:?}");
    }

    #[test]
    fn counts() {
        check_count(0.0, Some(0));
        check_count(17.0, Some(17));
        check_count(1.5, None);
        check_count(-1.0, None);
        check_count(f64::NAN, None);
        check_count(f64::INFINITY, None);
        check_count(18_446_744_073_709_551_616.0, None);
    }
}
