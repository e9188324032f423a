//! Float formatting exactly as Go's `strconv.FormatFloat(f, 'g', -1, 64)`
//! and client_golang's text and OpenMetrics writers use it.
//!
//! Go picks the shortest decimal that round-trips (as Rust's `{:e}` does),
//! then lays it out in `%e` style when the decimal exponent is below -4 or at
//! least 6, and in `%f` style otherwise; the `%e` exponent has a sign and at
//! least two digits (`1e+06`, `2.5e-07`).

use std::fmt::Write as _;

/// A fixed stack buffer for one formatted float.
struct StackBuf {
    buf: [u8; 48],
    len: usize,
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

/// Appends `f` formatted like Go's `strconv.FormatFloat(f, 'g', -1, 64)`,
/// except that infinities are `+Inf`/`-Inf` as the exposition formats
/// spell them.
pub(crate) fn push_go(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    let mut b = StackBuf {
        buf: [0; 48],
        len: 0,
    };
    // Cannot fail: the longest f64 in `{:e}` is about 24 bytes.
    let _ = write!(b, "{:e}", f.abs());
    let s = &b.buf[..b.len];
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
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push(char::from(digits[0]));
        if nd > 1 {
            out.push('.');
            push_ascii(out, &digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push('0');
        }
        let _ = write!(out, "{a}");
    } else {
        // Decimal point position: the value is 0.d1d2... * 10^dp.
        let dp = exp + 1;
        if dp <= 0 {
            out.push_str("0.");
            for _ in 0..(-dp) {
                out.push('0');
            }
            push_ascii(out, digits);
        } else {
            let dp = dp as usize;
            if dp >= nd {
                push_ascii(out, digits);
                for _ in nd..dp {
                    out.push('0');
                }
            } else {
                push_ascii(out, &digits[..dp]);
                out.push('.');
                push_ascii(out, &digits[dp..]);
            }
        }
    }
}

fn push_ascii(out: &mut String, digits: &[u8]) {
    for &d in digits {
        out.push(char::from(d));
    }
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
    if f == 0.0 {
        out.push_str("0.0");
        return;
    }
    let start = out.len();
    push_go(out, f);
    if f.is_finite()
        && !out.as_bytes()[start..]
            .iter()
            .any(|&c| c == b'.' || c == b'e')
    {
        out.push_str(".0");
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
