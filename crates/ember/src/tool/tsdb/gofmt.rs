//! Go's text formats that promtool's `tsdb` output is made of, so that
//! ours is byte-identical: `%g` of a float64, `time.Duration.String`,
//! `time.Time.String` in UTC, `units.Base2Bytes.String`, `text/tabwriter`
//! cells, `time.ParseDuration` (for `--max-block-duration`), and the
//! lowercase `syscall.Errno` texts of OS errors.

use model::time::civil_from_days;

/// `fmt.Sprintf("%g", v)`: the shortest digits that read back exactly, in
/// `%e` form (exponent signed, at least two digits) when the decimal
/// exponent is below -4 or at least 6 (Go's rule for shortest output),
/// else in `%f` form; `+Inf`, `-Inf`, `NaN`.
pub(crate) fn format_g(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    // Rust's `{:e}` prints the shortest round-trip digits, as Go does:
    // `d[.ddd]e[-]x`.
    let e = format!("{:e}", v.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let neg = v.is_sign_negative();
    let mut out = String::with_capacity(digits.len() + 8);
    if neg {
        out.push('-');
    }
    if v == 0.0 {
        out.push('0');
        return out;
    }
    let nd = digits.len() as i32;
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if nd > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push('0');
        }
        out.push_str(&a.to_string());
        return out;
    }
    // Fixed notation: the decimal point sits after `exp + 1` digits.
    let dp = exp + 1;
    if dp <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-dp) as usize));
        out.push_str(&digits);
    } else if dp >= nd {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (dp - nd) as usize));
    } else {
        out.push_str(&digits[..dp as usize]);
        out.push('.');
        out.push_str(&digits[dp as usize..]);
    }
    out
}

/// `time.Duration(ns).String()`: `1h2m3.004s`, `999ms`, `0s`.
pub(crate) fn format_duration_ns(ns: i64) -> String {
    let neg = ns < 0;
    let mut u = ns.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        if u == 0 {
            return "0s".into();
        }
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let (frac, int) = frac_digits(u, prec);
        u = int;
        out.push_str(&u.to_string());
        out.push_str(&frac);
        out.push_str(unit);
    } else {
        let (frac, secs) = frac_digits(u, 9);
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        if h > 0 {
            out.push_str(&format!("{h}h{m}m"));
        } else if secs >= 60 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&s.to_string());
        out.push_str(&frac);
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// Go's `fmtFrac`: the `prec` low decimal digits of `v` as `.ddd` with
/// trailing zeros dropped (nothing when all are zero), and `v` without them.
fn frac_digits(v: u64, prec: u32) -> (String, u64) {
    let p = 10u64.pow(prec);
    let frac = v % p;
    if frac == 0 {
        return (String::new(), v / p);
    }
    let s = format!("{frac:0width$}", width = prec as usize);
    (format!(".{}", s.trim_end_matches('0')), v / p)
}

/// `time.Unix(secs, 0).UTC().String()`: `2006-01-02 15:04:05 +0000 UTC`.
pub(crate) fn format_unix_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let year = if y < 0 {
        format!("-{:04}", -y)
    } else {
        format!("{y:04}")
    };
    format!(
        "{year}-{m:02}-{d:02} {:02}:{:02}:{:02} +0000 UTC",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// `units.Base2Bytes(n).String()`: `2KiB3B`, `1MiB`, `0B`.
pub(crate) fn format_base2_bytes(n: i64) -> String {
    const UNITS: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];
    let mut parts: Vec<String> = Vec::new();
    let mut n = n;
    for (i, u) in UNITS.iter().enumerate() {
        if n % 1024 != 0 || (i == 0 && n == 0) {
            let suffix = if i == 0 { "B" } else { "iB" };
            parts.push(format!("{}{u}{suffix}", n % 1024));
        }
        n /= 1024;
        if n == 0 {
            break;
        }
    }
    parts.reverse();
    parts.concat()
}

/// Lays out rows as Go's `tabwriter.NewWriter(w, minwidth, 0, padding,
/// ' ', 0)` does when every cell but the last of a line ends with a tab
/// and all lines have the same number of cells: each such cell is padded
/// to its column's widest cell plus `padding`, and at least `minwidth`.
pub(crate) fn tabwrite(rows: &[Vec<String>], minwidth: usize, padding: usize) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![minwidth; cols];
    for row in rows {
        for (j, cell) in row.iter().enumerate().take(row.len().saturating_sub(1)) {
            widths[j] = widths[j].max(cell.chars().count() + padding);
        }
    }
    let mut out = String::new();
    for row in rows {
        for (j, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if j + 1 < row.len() {
                let n = widths[j].saturating_sub(cell.chars().count());
                out.extend(std::iter::repeat_n(' ', n));
            }
        }
        out.push('\n');
    }
    out
}

/// `time.ParseDuration`, in whole milliseconds (truncated, as promtool
/// converts it): `2h`, `1h30m`, `1.5h`, `90m`; errors worded like Go's.
pub(crate) fn parse_go_duration_ms(s: &str) -> Result<i64, String> {
    let orig = s;
    let invalid = || format!("time: invalid duration {}", model::matcher::go_quote(orig));
    let mut s = s;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix('-') {
        neg = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let int_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (int, rest) = s.split_at(int_end);
        s = rest;
        let mut frac = "";
        if let Some(rest) = s.strip_prefix('.') {
            let fe = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            frac = &rest[..fe];
            s = &rest[fe..];
        }
        if int.is_empty() && frac.is_empty() {
            return Err(invalid());
        }
        let unit_end = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        let (unit, rest) = s.split_at(unit_end);
        s = rest;
        if unit.is_empty() {
            return Err(format!(
                "time: missing unit in duration {}",
                model::matcher::go_quote(orig)
            ));
        }
        let ns_per: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    model::matcher::go_quote(unit),
                    model::matcher::go_quote(orig)
                ));
            }
        };
        let int: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| invalid())?
        };
        let mut v = int.checked_mul(ns_per).ok_or_else(invalid)?;
        let mut scale = ns_per;
        for d in frac.bytes() {
            scale /= 10;
            if scale == 0 {
                break;
            }
            v += u128::from(d - b'0') * scale;
        }
        total = total.checked_add(v).ok_or_else(invalid)?;
        if total > i64::MAX as u128 {
            return Err(invalid());
        }
    }
    let ms = (total / 1_000_000) as i64;
    Ok(if neg { -ms } else { ms })
}

/// An OS error's text as Go prints a `syscall.Errno`: the C library's
/// message with a lowercase first letter and no `(os error N)`.
pub(crate) fn go_errno_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = match s.rfind(" (os error ") {
        Some(i) => &s[..i],
        None => &s[..],
    };
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn g(v: f64, want: &str) {
        assert_eq!(format_g(v), want, "{v:?}");
    }

    #[test]
    fn percent_g_like_go() {
        g(0.0, "0");
        g(-0.0, "-0");
        g(1.0, "1");
        g(1.5, "1.5");
        g(123456.0, "123456");
        g(1e6, "1e+06");
        g(1234567.0, "1.234567e+06");
        g(0.0001, "0.0001");
        g(0.00001, "1e-05");
        g(0.000123, "0.000123");
        g(1e21, "1e+21");
        g(1e300, "1e+300");
        g(5e-324, "5e-324");
        g(f64::MAX, "1.7976931348623157e+308");
        g(0.1 + 0.2, "0.30000000000000004");
        g(-2.5e-7, "-2.5e-07");
        g(100.0, "100");
        g(f64::INFINITY, "+Inf");
        g(f64::NEG_INFINITY, "-Inf");
        g(f64::NAN, "NaN");
    }

    #[track_caller]
    fn d(ms: i64, want: &str) {
        assert_eq!(format_duration_ns(ms * 1_000_000), want, "{ms}ms");
    }

    #[test]
    fn durations_like_go() {
        d(0, "0s");
        d(1, "1ms");
        d(999, "999ms");
        d(1000, "1s");
        d(1500, "1.5s");
        d(60_000, "1m0s");
        d(7_200_000, "2h0m0s");
        d(7_144_001, "1h59m4.001s");
        d(3_544_001, "59m4.001s");
        d(-61_000, "-1m1s");
        assert_eq!(format_duration_ns(1), "1ns");
        assert_eq!(format_duration_ns(1_500), "1.5µs");
    }

    #[test]
    fn times_like_go() {
        assert_eq!(format_unix_utc(7200), "1970-01-01 02:00:00 +0000 UTC");
        assert_eq!(format_unix_utc(-1), "1969-12-31 23:59:59 +0000 UTC");
        assert_eq!(
            format_unix_utc(1_700_000_000),
            "2023-11-14 22:13:20 +0000 UTC"
        );
        assert_eq!(
            format_unix_utc(951_782_400),
            "2000-02-29 00:00:00 +0000 UTC"
        );
    }

    #[test]
    fn base2_bytes_like_units() {
        assert_eq!(format_base2_bytes(0), "0B");
        assert_eq!(format_base2_bytes(2051), "2KiB3B");
        assert_eq!(format_base2_bytes(1562), "1KiB538B");
        assert_eq!(format_base2_bytes(2048), "2KiB");
        assert_eq!(format_base2_bytes(1 << 20), "1MiB");
        assert_eq!(format_base2_bytes((1 << 20) + 5), "1MiB5B");
    }

    #[test]
    fn tabwriter_layout() {
        let rows = vec![
            vec!["BLOCK ULID".to_string(), "MIN TIME".into(), "SIZE".into()],
            vec![
                "01M7ZAR4R7WMRAG3ZMZND12HE1".into(),
                "7200000".into(),
                "2051".into(),
            ],
        ];
        assert_eq!(
            tabwrite(&rows, 13, 2),
            "BLOCK ULID                  MIN TIME     SIZE\n\
             01M7ZAR4R7WMRAG3ZMZND12HE1  7200000      2051\n"
        );
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go_duration_ms("2h"), Ok(7_200_000));
        assert_eq!(parse_go_duration_ms("1h30m"), Ok(5_400_000));
        assert_eq!(parse_go_duration_ms("1.5h"), Ok(5_400_000));
        assert_eq!(parse_go_duration_ms("0"), Ok(0));
        assert_eq!(parse_go_duration_ms("1500us"), Ok(1));
        assert_eq!(
            parse_go_duration_ms("1d"),
            Err("time: unknown unit \"d\" in duration \"1d\"".into())
        );
        assert_eq!(
            parse_go_duration_ms("1"),
            Err("time: missing unit in duration \"1\"".into())
        );
        assert_eq!(
            parse_go_duration_ms("x"),
            Err("time: invalid duration \"x\"".into())
        );
    }

    #[test]
    fn errno_text() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(go_errno_text(&e), "no such file or directory");
    }
}
