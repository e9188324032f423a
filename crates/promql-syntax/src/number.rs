//! Number literals as Prometheus reads them: Go's `strconv.ParseInt(s, 0,
//! 64)` (so `0x1f`, and `010` is octal), falling back to
//! `strconv.ParseFloat(s, 64)`, with Go's error text.

/// Go's `underscoreOK`: underscores only between digits (or after a base
/// prefix).
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Go's `strconv.ParseInt(s, 0, 64)` for unsigned input.
fn parse_int_base0(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let (radix, digits) = if b.len() >= 2 && b[0] == b'0' {
        match b[1].to_ascii_lowercase() {
            b'x' => (16, &s[2..]),
            b'o' => (8, &s[2..]),
            b'b' => (2, &s[2..]),
            _ => (8, &s[1..]),
        }
    } else {
        (10, s)
    };
    if s.contains('_') && !underscore_ok(s) {
        return None;
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() {
        return if s == "0" { Some(0) } else { None };
    }
    i64::from_str_radix(&clean, radix).ok()
}

/// The value of a NUMBER token, or Prometheus's error message.
pub(crate) fn parse_number(s: &str) -> Result<f64, String> {
    if let Some(i) = parse_int_base0(s) {
        return Ok(i as f64);
    }
    parse_float(s)
}

/// Go's `strconv.ParseFloat(s, 64)` for the forms the lexer produces.
pub(crate) fn parse_float(s: &str) -> Result<f64, String> {
    let syntax = || {
        format!(
            "error parsing number: strconv.ParseFloat: parsing {}: invalid syntax",
            crate::quote::go_quote(s)
        )
    };
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => return Ok(f64::INFINITY),
        "-inf" | "-infinity" => return Ok(f64::NEG_INFINITY),
        "nan" => return Ok(f64::NAN),
        _ => {}
    }
    // Hex floats need a `p` exponent, which the lexer never produces.
    if lower.starts_with("0x") || !lower.bytes().any(|c| c.is_ascii_digit()) {
        return Err(syntax());
    }
    if s.contains('_') && !underscore_ok(s) {
        return Err(syntax());
    }
    let clean: String = s.chars().filter(|&c| c != '_').collect();
    if !clean
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return Err(syntax());
    }
    let v: f64 = clean.parse().map_err(|_| syntax())?;
    if v.is_infinite() {
        return Err(format!(
            "error parsing number: strconv.ParseFloat: parsing {}: value out of range",
            crate::quote::go_quote(s)
        ));
    }
    Ok(v)
}

/// Formats like Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest
/// digits that round-trip, never an exponent; `+Inf`, `-Inf`, `NaN`.
pub(crate) fn format_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v == f64::INFINITY {
        "+Inf".to_owned()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{v}")
    }
}

/// Formats like Go's `%v` for a float64 (`strconv.FormatFloat(v, 'g', -1,
/// 64)`): shortest digits, exponent form when the decimal exponent is
/// below -4 or at least 6 (`1e+06`).
pub(crate) fn format_v(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return format_f(v);
    }
    // Shortest round-trip digits via the exponent format.
    let e = format!("{v:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.unsigned_abs())
    } else {
        format_f(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(s: &str, want: Result<f64, &str>) {
        let got = parse_number(s);
        match (got, want) {
            (Ok(g), Ok(w)) => assert!(g == w || (g.is_nan() && w.is_nan()), "{s}: {g} != {w}"),
            (Err(g), Err(w)) => assert_eq!(g, w, "{s}"),
            (g, w) => panic!("{s}: got {g:?}, want {w:?}"),
        }
    }

    #[test]
    fn numbers_like_go() {
        check("1", Ok(1.0));
        check("010", Ok(8.0));
        check("089", Ok(89.0));
        check("0x1F", Ok(31.0));
        check("0x_1F", Ok(31.0));
        check("1_000", Ok(1000.0));
        check("1_000.5", Ok(1000.5));
        check(".5", Ok(0.5));
        check("5.", Ok(5.0));
        check("1e3", Ok(1000.0));
        check("Inf", Ok(f64::INFINITY));
        check("NaN", Ok(f64::NAN));
        check("99999999999999999999", Ok(1e20));
        check(
            "1e999",
            Err("error parsing number: strconv.ParseFloat: parsing \"1e999\": value out of range"),
        );
        check(
            ".5.5",
            Err("error parsing number: strconv.ParseFloat: parsing \".5.5\": invalid syntax"),
        );
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_f(1e21), "1000000000000000000000");
        assert_eq!(format_f(0.1), "0.1");
        assert_eq!(format_f(-0.0), "-0");
        assert_eq!(format_v(123456.0), "123456");
        assert_eq!(format_v(1e6), "1e+06");
        assert_eq!(format_v(1234567.0), "1.234567e+06");
        assert_eq!(format_v(1e-5), "1e-05");
        assert_eq!(format_v(2.5), "2.5");
    }
}
