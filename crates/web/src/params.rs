//! Request parameters: the form (URL query plus a form-encoded POST body, as
//! Go's `Request.Form`), times, durations, limits and `match[]` selectors,
//! with Prometheus's parsing rules and error texts.

use model::matcher::Matcher;
use model::time::{civil_from_days, days_from_civil};
use promql_syntax::{Expr, Options};

/// `api.MinTime` in milliseconds: the default start of optional ranges.
pub(crate) const MIN_TIME: i64 = -9_223_309_901_257_974_000;
/// `api.MaxTime` in milliseconds: the default end of optional ranges.
pub(crate) const MAX_TIME: i64 = 9_223_309_901_257_974_999;
/// How `api.MinTime` prints in RFC 3339 (clients send it back).
const MIN_TIME_FORMATTED: &str = "-292273086-05-16T16:47:06Z";
/// How `api.MaxTime` prints in RFC 3339.
const MAX_TIME_FORMATTED: &str = "292277025-08-18T07:12:54.999999999Z";

/// The decoded parameters of a request, in Go's `Request.Form` order: the
/// POST body's values first, then the URL query's.
#[derive(Clone, Debug, Default)]
pub(crate) struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// Parameters from a URL query string and an optional form body.
    pub(crate) fn new(query: Option<&str>, body: Option<&[u8]>) -> Form {
        let mut pairs = Vec::new();
        if let Some(b) = body {
            parse_urlencoded(&String::from_utf8_lossy(b), &mut pairs);
        }
        if let Some(q) = query {
            parse_urlencoded(q, &mut pairs);
        }
        Form { pairs }
    }

    /// The first value of `name`, or "" (Go's `FormValue`).
    pub(crate) fn get(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Go's `url.ParseQuery`, keeping the pairs that decode (Go's `FormValue`
/// ignores the error and keeps the rest too).
fn parse_urlencoded(s: &str, out: &mut Vec<(String, String)>) {
    for part in s.split('&') {
        if part.is_empty() || part.contains(';') {
            continue;
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        if let (Some(k), Some(v)) = (unescape(k), unescape(v)) {
            out.push((k, v));
        }
    }
}

/// Percent-decoding with `+` as space; `None` for a bad escape.
pub(crate) fn unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = hex(*b.get(i + 1)?)?;
                let lo = hex(*b.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Percent-decoding of a URL path segment (`+` stays `+`).
pub(crate) fn unescape_path(s: &str) -> Option<String> {
    unescape(&s.replace('+', "%2B"))
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Prometheus's `parseTime`: Unix seconds as a float (rounded to the
/// millisecond) or RFC 3339; milliseconds.
pub(crate) fn parse_time(s: &str) -> Result<i64, String> {
    if let Some(f) = parse_go_float(s) {
        let secs = f.trunc();
        let frac = ((f - secs) * 1000.0).round();
        return Ok(sat_i64(secs * 1000.0).saturating_add(frac as i64));
    }
    if let Some(t) = parse_rfc3339(s) {
        return Ok(t);
    }
    match s {
        MIN_TIME_FORMATTED => Ok(MIN_TIME),
        MAX_TIME_FORMATTED => Ok(MAX_TIME),
        _ => Err(format!("cannot parse {} to a valid timestamp", go_quote(s))),
    }
}

/// `parseTimeParam`: the default when absent, otherwise [`parse_time`] with
/// the parameter named in the error.
pub(crate) fn time_param(form: &Form, name: &str, default: i64) -> Result<i64, String> {
    let v = form.get(name);
    if v.is_empty() {
        return Ok(default);
    }
    parse_time(v).map_err(|e| format!("invalid time value for '{name}': {e}"))
}

/// Prometheus's `parseDuration`: float seconds or a Prometheus duration
/// (`1h30m`); nanoseconds.
pub(crate) fn parse_duration(s: &str) -> Result<i64, String> {
    if let Some(f) = parse_go_float(s) {
        let ns = f * 1e9;
        if !(ns <= i64::MAX as f64 && ns >= i64::MIN as f64) {
            return Err(format!(
                "cannot parse {} to a valid duration. It overflows int64",
                go_quote(s)
            ));
        }
        return Ok(ns as i64);
    }
    parse_prometheus_duration(s)
        .map(|ms| ms.saturating_mul(1_000_000))
        .ok_or_else(|| format!("cannot parse {} to a valid duration", go_quote(s)))
}

/// `model.ParseDuration`: units `y w d h m s ms`, each at most once, in
/// that order; milliseconds.
pub(crate) fn parse_prometheus_duration(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ];
    let b = s.as_bytes();
    let mut i = 0;
    let mut next_unit = 0;
    let mut total: i64 = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let n: i64 = s[start..i].parse().ok()?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[ustart..i];
        let pos = UNITS[next_unit..].iter().position(|(u, _)| *u == unit)? + next_unit;
        next_unit = pos + 1;
        total = total.checked_add(n.checked_mul(UNITS[pos].1)?)?;
    }
    Some(total)
}

/// `parseLimitParam`: 0 for none.
pub(crate) fn limit_param(form: &Form) -> Result<usize, String> {
    let s = form.get("limit");
    if s.is_empty() {
        return Ok(0);
    }
    let v = go_atoi(s)?;
    if v < 0 {
        return Err("limit must be non-negative".into());
    }
    Ok(usize::try_from(v).unwrap_or(usize::MAX))
}

/// Go's `strconv.Atoi` with its error text.
pub(crate) fn go_atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            go_quote(s)
        ));
    }
    s.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing {}: value out of range", go_quote(s)))
}

/// A hint limit one above the API limit, so truncation can be detected.
pub(crate) fn hint_limit(limit: usize) -> usize {
    if limit > 0 && limit < usize::MAX {
        limit + 1
    } else {
        limit
    }
}

/// Parses one `match[]` value: a vector selector without modifiers.
pub(crate) fn parse_selector(s: &str, opts: Options) -> Result<Vec<Matcher>, String> {
    match promql_syntax::parse_with(s, opts) {
        Ok(Expr::VectorSelector(vs)) if vs.offset.is_none() && vs.at.is_none() => Ok(vs.matchers),
        Ok(_) => Err(format!(
            "1:1: parse error: expected a metric selector, got {}",
            go_quote(s)
        )),
        Err(e) => {
            let msg = e.to_string();
            if msg.contains("vector selector must contain at least one non-empty matcher") {
                // Prometheus's selector parser does not check this; the API
                // does, below, with its own words.
                Err(EMPTY_MATCHERS.into())
            } else {
                Err(msg)
            }
        }
    }
}

const EMPTY_MATCHERS: &str = "match[] must contain at least one non-empty matcher";

/// `parseMatchersParam`: every selector, each with at least one matcher
/// that does not match the empty string.
pub(crate) fn matcher_sets(values: &[&str], opts: Options) -> Result<Vec<Vec<Matcher>>, String> {
    let mut sets = Vec::with_capacity(values.len());
    for v in values {
        sets.push(parse_selector(v, opts)?);
    }
    if sets.iter().any(|ms| ms.iter().all(|m| m.matches_empty())) {
        return Err(EMPTY_MATCHERS.into());
    }
    Ok(sets)
}

/// Go's `strconv.ParseFloat(s, 64)` accepting what it accepts that matters
/// here: decimal and exponent forms, `Inf`/`Infinity`/`NaN` in any case.
fn parse_go_float(s: &str) -> Option<f64> {
    if s.is_empty() || s.contains('_') {
        return None;
    }
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        return s.parse().ok();
    }
    if !body
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    s.parse().ok()
}

fn sat_i64(v: f64) -> i64 {
    if v.is_nan() { 0 } else { v as i64 }
}

/// RFC 3339 (with optional fractional seconds) → milliseconds.
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let year = num(0..4)?;
    let month = num(5..7)?;
    let day = num(8..10)?;
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' {
        return None;
    }
    if b[16] != b':' || !(1..=12).contains(&month) || hour > 23 || min > 59 || sec > 59 {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut i = 19;
    let mut nanos: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        nanos = digits.parse::<i64>().ok()? * 10i64.pow(9 - digits.len() as u32);
    }
    let offset_secs = match &s[i..] {
        "Z" | "z" => 0,
        tz => {
            let tb = tz.as_bytes();
            if tb.len() != 6 || !matches!(tb[0], b'+' | b'-') || tb[3] != b':' {
                return None;
            }
            let h: i64 = tz[1..3].parse().ok()?;
            let m: i64 = tz[4..6].parse().ok()?;
            if h > 23 || m > 59 {
                return None;
            }
            let off = h * 3600 + m * 60;
            if tb[0] == b'-' { -off } else { off }
        }
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_secs;
    Some(secs * 1000 + nanos / 1_000_000)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Go's `time.Time` JSON encoding of a Unix time in milliseconds (UTC,
/// RFC 3339 with trailing fractional zeros trimmed).
pub(crate) fn rfc3339_millis(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let mut s = format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    if frac != 0 {
        let f = format!("{frac:03}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Go's `%q`.
pub(crate) fn go_quote(s: &str) -> String {
    model::matcher::go_quote(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn time(s: &str, want: Result<i64, &str>) {
        assert_eq!(parse_time(s), want.map_err(str::to_string), "{s}");
    }

    #[test]
    fn times() {
        time("1", Ok(1000));
        time("1.5", Ok(1500));
        time("1435781451.781", Ok(1_435_781_451_781));
        time("-1.5", Ok(-1500));
        time("1e3", Ok(1_000_000));
        time("2015-07-01T20:10:51.781Z", Ok(1_435_781_451_781));
        time("2015-07-01T22:10:51+02:00", Ok(1_435_781_451_000));
        time("1970-01-01T00:00:00.1234Z", Ok(123));
        time(MAX_TIME_FORMATTED, Ok(MAX_TIME));
        time(MIN_TIME_FORMATTED, Ok(MIN_TIME));
        time("abc", Err("cannot parse \"abc\" to a valid timestamp"));
        time(
            "2015-13-01T00:00:00Z",
            Err("cannot parse \"2015-13-01T00:00:00Z\" to a valid timestamp"),
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15"), Ok(15_000_000_000));
        assert_eq!(parse_duration("0.5"), Ok(500_000_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(
            parse_duration("1m1h"),
            Err("cannot parse \"1m1h\" to a valid duration".into())
        );
        assert_eq!(
            parse_duration("1e300"),
            Err("cannot parse \"1e300\" to a valid duration. It overflows int64".into())
        );
        assert_eq!(
            parse_duration(""),
            Err("cannot parse \"\" to a valid duration".into())
        );
    }

    #[test]
    fn forms() {
        let f = Form::new(Some("a=1&match%5B%5D=up&match[]=x+y&a=2"), Some(b"a=0"));
        assert_eq!(f.get("a"), "0");
        assert_eq!(f.all("match[]"), vec!["up", "x y"]);
        assert_eq!(f.get("missing"), "");
    }

    #[test]
    fn rfc3339_output() {
        assert_eq!(rfc3339_millis(1_435_781_451_780), "2015-07-01T20:10:51.78Z");
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
    }
}
