//! The series description syntax: `metric{a="b"} 1 2+3x4 _ stale {{...}}`.

use model::histogram::{CounterResetHint, Span};
use model::{FloatHistogram, Labels, STALE_NAN};

use crate::script::SeqValue;

/// Unquotes a Go string literal (`"..."`, `'...'`, or backquoted).
pub(crate) fn unquote(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    if b.len() < 2 || b[0] != b[b.len() - 1] {
        return Err(format!("invalid quoted string {s}"));
    }
    let q = b[0];
    let inner = &s[1..s.len() - 1];
    if q == b'`' {
        return Ok(inner.to_owned());
    }
    if q != b'"' && q != b'\'' {
        return Err(format!("invalid quoted string {s}"));
    }
    let mut out: Vec<u8> = Vec::new();
    let mut it = inner.char_indices().peekable();
    let ib = inner.as_bytes();
    while let Some((i, c)) = it.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let Some((_, e)) = it.next() else {
            return Err("trailing backslash".into());
        };
        match e {
            'n' => out.push(b'\n'),
            't' => out.push(b'\t'),
            'r' => out.push(b'\r'),
            'a' => out.push(7),
            'b' => out.push(8),
            'f' => out.push(12),
            'v' => out.push(11),
            '\\' => out.push(b'\\'),
            '"' => out.push(b'"'),
            '\'' => out.push(b'\''),
            'x' => {
                let h = inner.get(i + 2..i + 4).ok_or("bad \\x escape")?;
                out.push(u8::from_str_radix(h, 16).map_err(|e| e.to_string())?);
                it.next();
                it.next();
            }
            'u' | 'U' => {
                let n = if e == 'u' { 4 } else { 8 };
                let h = inner.get(i + 2..i + 2 + n).ok_or("bad unicode escape")?;
                let cp = u32::from_str_radix(h, 16).map_err(|e| e.to_string())?;
                let ch = char::from_u32(cp).ok_or("bad code point")?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                for _ in 0..n {
                    it.next();
                }
            }
            '0'..='7' => {
                let o = inner.get(i + 1..i + 4).ok_or("bad octal escape")?;
                out.push(u8::from_str_radix(o, 8).map_err(|e| e.to_string())?);
                it.next();
                it.next();
            }
            _ => return Err(format!("unknown escape \\{e}")),
        }
        let _ = ib;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn is_name_char(c: char, first: bool) -> bool {
    c == '_' || c == ':' || c.is_ascii_alphabetic() || (!first && c.is_ascii_digit())
}

/// Reads a quoted string at the start of `s`; returns it and the rest.
fn read_quoted(s: &str) -> Result<(String, &str), String> {
    let q = s.chars().next().ok_or("expected string")?;
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        if escaped {
            escaped = false;
            continue;
        }
        if c == '\\' && q != '`' {
            escaped = true;
            continue;
        }
        if c == q {
            return Ok((unquote(&s[..=i])?, &s[i + 1..]));
        }
    }
    Err(format!("unterminated string in {s}"))
}

/// Parses `name{labels}` at the start of `s`; returns the labels and the rest.
pub(crate) fn parse_metric(s: &str) -> Result<(Labels, &str), String> {
    let s = s.trim_start();
    let mut b = model::LabelsBuilder::new();
    let end = s
        .char_indices()
        .find(|&(i, c)| !is_name_char(c, i == 0))
        .map_or(s.len(), |(i, _)| i);
    if end > 0 {
        b.set("__name__", &s[..end]);
    }
    let mut rest = &s[end..];
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        loop {
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let (name, r) = if rest.starts_with(['"', '\'', '`']) {
                read_quoted(rest)?
            } else {
                let e = rest
                    .char_indices()
                    .find(|&(i, c)| !is_name_char(c, i == 0))
                    .map_or(rest.len(), |(i, _)| i);
                if e == 0 {
                    return Err(format!("unexpected {rest:?} in labels"));
                }
                (rest[..e].to_owned(), &rest[e..])
            };
            let r = r.trim_start();
            if let Some(r2) = r.strip_prefix('=') {
                let (val, r3) = read_quoted(r2.trim_start())?;
                b.set(&name, &val);
                rest = r3.trim_start();
            } else {
                // A quoted metric name alone: {"name"}.
                b.set("__name__", &name);
                rest = r;
            }
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix(',') {
                rest = r;
            }
        }
    }
    Ok((b.labels(), rest))
}

/// Splits the values part into items, keeping `{{...}}` literals whole.
fn items(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let st = i;
        let mut depth = 0i32;
        while i < b.len() && (depth > 0 || !b[i].is_ascii_whitespace()) {
            match b[i] {
                b'{' => depth += 1,
                b'}' => depth -= 1,
                _ => {}
            }
            i += 1;
        }
        out.push(&s[st..i]);
    }
    out
}

/// Go's `ParseInt(s, 0, 64)` then `ParseFloat`, plus `Inf`/`NaN` forms.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    if s.is_empty() {
        return None;
    }
    let (neg, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let v = if lower == "inf" || lower == "infinity" {
        f64::INFINITY
    } else if lower == "nan" {
        f64::NAN
    } else if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(&h.replace('_', ""), 16).ok()? as f64
    } else {
        if body.is_empty() || !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            return None;
        }
        if body.len() > 1
            && body.starts_with('0')
            && body.bytes().all(|c| c.is_ascii_digit() || c == b'_')
        {
            i64::from_str_radix(&body.replace('_', ""), 8).ok()? as f64
        } else {
            body.replace('_', "").parse::<f64>().ok()?
        }
    };
    Some(if neg { -v } else { v })
}

/// Splits `a+bxN` style items: the leading number and the rest.
fn split_number(s: &str) -> (&str, &str) {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let lower = s[i..].to_ascii_lowercase();
    if lower.starts_with("inf") || lower.starts_with("nan") {
        return (&s[..i + 3], &s[i + 3..]);
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.' || b[i] == b'_') {
        i += 1;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    (&s[..i], &s[i..])
}

fn parse_count(s: &str) -> Result<u64, String> {
    s.parse::<u64>()
        .map_err(|_| format!("invalid repetition count {s:?}"))
}

/// Parses a histogram literal `{{...}}`; also returns whether the counter
/// reset hint was given.
pub(crate) fn parse_histogram(s: &str) -> Result<(FloatHistogram, bool), String> {
    let inner = s
        .strip_prefix("{{")
        .and_then(|r| r.strip_suffix("}}"))
        .ok_or_else(|| format!("invalid histogram {s}"))?;
    let mut h = FloatHistogram::default();
    let mut hint_set = false;
    let (mut buckets, mut nbuckets) = (Vec::new(), Vec::new());
    let (mut offset, mut noffset) = (0i32, 0i32);
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let (key, r) = rest
            .split_once(':')
            .ok_or_else(|| format!("invalid histogram field in {s}"))?;
        let key = key.trim();
        let r = r.trim_start();
        let (val, r) = if r.starts_with('[') {
            let e = r.find(']').ok_or("unterminated list")?;
            (&r[..=e], &r[e + 1..])
        } else {
            let e = r.find(char::is_whitespace).unwrap_or(r.len());
            (&r[..e], &r[e..])
        };
        rest = r.trim_start();
        let num =
            |v: &str| parse_number(v).ok_or_else(|| format!("invalid number {v} in histogram"));
        let list = |v: &str| -> Result<Vec<f64>, String> {
            v.trim_start_matches('[')
                .trim_end_matches(']')
                .split_whitespace()
                .map(num)
                .collect()
        };
        match key {
            "schema" => h.schema = num(val)? as i32,
            "sum" => h.sum = num(val)?,
            "count" => h.count = num(val)?,
            "z_bucket" => h.zero_count = num(val)?,
            "z_bucket_w" => h.zero_threshold = num(val)?,
            "buckets" => buckets = list(val)?,
            "n_buckets" => nbuckets = list(val)?,
            "offset" => offset = num(val)? as i32,
            "n_offset" => noffset = num(val)? as i32,
            "custom_values" => h.custom_values = list(val)?,
            "counter_reset_hint" => {
                hint_set = true;
                h.counter_reset_hint = match val {
                    "unknown" => CounterResetHint::Unknown,
                    "reset" => CounterResetHint::CounterReset,
                    "not_reset" => CounterResetHint::NotCounterReset,
                    "gauge" => CounterResetHint::Gauge,
                    _ => return Err(format!("invalid counter reset hint {val}")),
                };
            }
            _ => return Err(format!("unknown histogram field {key}")),
        }
    }
    if !buckets.is_empty() {
        h.positive_spans = vec![Span {
            offset,
            length: buckets.len() as u32,
        }];
        h.positive_buckets = buckets;
    }
    if !nbuckets.is_empty() {
        h.negative_spans = vec![Span {
            offset: noffset,
            length: nbuckets.len() as u32,
        }];
        h.negative_buckets = nbuckets;
    }
    Ok((h, hint_set))
}

fn expand(spans: &[Span], counts: &[f64]) -> Vec<(i32, f64)> {
    let mut out = Vec::new();
    let mut idx = 0i32;
    let mut c = counts.iter();
    for (i, s) in spans.iter().enumerate() {
        idx = if i == 0 { s.offset } else { idx + s.offset };
        for _ in 0..s.length {
            if let Some(v) = c.next() {
                out.push((idx, *v));
            }
            idx += 1;
        }
    }
    out
}

fn collapse(b: &[(i32, f64)]) -> (Vec<Span>, Vec<f64>) {
    let mut spans: Vec<Span> = Vec::new();
    let mut counts = Vec::new();
    let mut next = 0;
    for (i, &(idx, v)) in b.iter().enumerate() {
        if i > 0 && idx == next {
            if let Some(s) = spans.last_mut() {
                s.length += 1;
            }
        } else {
            spans.push(Span {
                offset: if i == 0 { idx } else { idx - next },
                length: 1,
            });
        }
        counts.push(v);
        next = idx + 1;
    }
    (spans, counts)
}

/// Removes empty buckets (Prometheus's `Compact(0)` for comparisons).
pub(crate) fn compact(h: &FloatHistogram) -> FloatHistogram {
    let mut h = h.clone();
    for neg in [false, true] {
        let (s, c) = if neg {
            (&mut h.negative_spans, &mut h.negative_buckets)
        } else {
            (&mut h.positive_spans, &mut h.positive_buckets)
        };
        let b: Vec<(i32, f64)> = expand(s, c)
            .into_iter()
            .filter(|(_, v)| *v != 0.0)
            .collect();
        let (ns, nc) = collapse(&b);
        *s = ns;
        *c = nc;
    }
    h
}

/// `a + sign*b` bucket by bucket (same schema assumed, as in scripts).
fn hist_add(a: &FloatHistogram, b: &FloatHistogram, sign: f64) -> FloatHistogram {
    let mut h = a.clone();
    promql::add_histograms(&mut h, b, sign < 0.0);
    h
}

/// Parses the values part of a series line.
pub(crate) fn parse_values(s: &str) -> Result<Vec<Option<SeqValue>>, String> {
    let mut out = Vec::new();
    for item in items(s) {
        if item == "_" {
            out.push(None);
            continue;
        }
        if let Some(n) = item.strip_prefix("_x") {
            for _ in 0..parse_count(n)? {
                out.push(None);
            }
            continue;
        }
        if item == "stale" {
            out.push(Some(SeqValue::Float(STALE_NAN)));
            continue;
        }
        if item.starts_with("{{") {
            let end = item
                .find("}}")
                .ok_or_else(|| format!("invalid histogram {item}"))?
                + 2;
            let (h, hint) = parse_histogram(&item[..end])?;
            let rest = &item[end..];
            if rest.is_empty() {
                out.push(Some(SeqValue::Histogram(h, hint)));
                continue;
            }
            if let Some(n) = rest.strip_prefix('x') {
                for _ in 0..=parse_count(n)? {
                    out.push(Some(SeqValue::Histogram(h.clone(), hint)));
                }
                continue;
            }
            let sign = if rest.starts_with('+') {
                1.0
            } else if rest.starts_with('-') {
                -1.0
            } else {
                return Err(format!("invalid histogram series item {item}"));
            };
            let r = &rest[1..];
            let e2 = r
                .find("}}")
                .ok_or_else(|| format!("invalid histogram {item}"))?
                + 2;
            let (d, _) = parse_histogram(&r[..e2])?;
            let n = parse_count(
                r[e2..]
                    .strip_prefix('x')
                    .ok_or_else(|| format!("missing count in {item}"))?,
            )?;
            let mut cur = h;
            for _ in 0..=n {
                out.push(Some(SeqValue::Histogram(cur.clone(), hint)));
                cur = hist_add(&cur, &d, sign);
            }
            continue;
        }
        let (a, rest) = split_number(item);
        let av = parse_number(a).ok_or_else(|| format!("invalid value {item:?}"))?;
        if rest.is_empty() {
            out.push(Some(SeqValue::Float(av)));
            continue;
        }
        if let Some(n) = rest.strip_prefix('x') {
            for _ in 0..=parse_count(n)? {
                out.push(Some(SeqValue::Float(av)));
            }
            continue;
        }
        let neg = rest.starts_with('-');
        if !neg && !rest.starts_with('+') {
            return Err(format!("invalid value {item:?}"));
        }
        let (b, rest2) = split_number(&rest[1..]);
        let bv = parse_number(b).ok_or_else(|| format!("invalid value {item:?}"))?;
        let n = parse_count(
            rest2
                .strip_prefix('x')
                .ok_or_else(|| format!("invalid value {item:?}"))?,
        )?;
        let mut cur = av;
        for _ in 0..=n {
            out.push(Some(SeqValue::Float(cur)));
            if neg {
                cur -= bv;
            } else {
                cur += bv;
            }
        }
    }
    Ok(out)
}

/// A signed duration in ms (`0`, `-30s`, `+1m`, `1ms`).
fn signed_dur_ms(s: &str) -> Result<i64, String> {
    if let Some(r) = s.strip_prefix('-') {
        return signed_dur_ms(r).map(|v| -v);
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Ok(0);
    }
    promql_syntax::duration::parse_duration(s)
        .map(|d| d.millis())
        .map_err(|e| format!("invalid duration {s:?}: {e}"))
}

/// Parses the items of an `@st` line: start timestamp offsets from the
/// sample times (`_`, `_xN`, `<d>`, `<d>xN`, `<d>+<d>xN`, `<d>-<d>xN`).
pub(crate) fn parse_st_values(s: &str) -> Result<Vec<Option<i64>>, String> {
    let mut out = Vec::new();
    for item in items(s) {
        if item == "_" {
            out.push(None);
            continue;
        }
        if let Some(n) = item.strip_prefix("_x") {
            out.extend(std::iter::repeat_n(None, parse_count(n)? as usize));
            continue;
        }
        // The first duration may carry a sign; it ends at the next sign or `x`.
        let body_start = usize::from(item.starts_with(['+', '-']));
        let end = item[body_start..]
            .find(['+', '-', 'x'])
            .map_or(item.len(), |e| e + body_start);
        let first = signed_dur_ms(&item[..end])?;
        let rest = &item[end..];
        if rest.is_empty() {
            out.push(Some(first));
            continue;
        }
        if let Some(n) = rest.strip_prefix('x') {
            out.extend(std::iter::repeat_n(
                Some(first),
                parse_count(n)? as usize + 1,
            ));
            continue;
        }
        let x = rest
            .find('x')
            .ok_or_else(|| format!("missing count in {item:?}"))?;
        let step = signed_dur_ms(&rest[..x])?;
        let n = parse_count(&rest[x + 1..])?;
        for k in 0..=n as i64 {
            out.push(Some(first + k * step));
        }
    }
    Ok(out)
}

/// Parses a whole series line: labels and values.
pub(crate) fn parse_series(line: &str) -> Result<(Labels, Vec<Option<SeqValue>>), String> {
    let (l, rest) = parse_metric(line)?;
    Ok((l, parse_values(rest)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(v: &[Option<SeqValue>]) -> Vec<Option<f64>> {
        v.iter()
            .map(|x| match x {
                Some(SeqValue::Float(f)) => Some(*f),
                _ => None,
            })
            .collect()
    }

    #[track_caller]
    fn check(input: &str, want: &[Option<f64>]) {
        let got = floats(&parse_values(input).expect("parses"));
        assert_eq!(got.len(), want.len(), "{input}: {got:?}");
        for (g, w) in got.iter().zip(want) {
            match (g, w) {
                (Some(g), Some(w)) if g.is_nan() && w.is_nan() => {}
                _ => assert_eq!(g, w, "{input}"),
            }
        }
    }

    #[test]
    fn series_values() {
        check("1 2 3", &[Some(1.0), Some(2.0), Some(3.0)]);
        check("0+10x3", &[Some(0.0), Some(10.0), Some(20.0), Some(30.0)]);
        check("5-1x2", &[Some(5.0), Some(4.0), Some(3.0)]);
        check("-1-1x1", &[Some(-1.0), Some(-2.0)]);
        check("7x2", &[Some(7.0), Some(7.0), Some(7.0)]);
        check("_ _x2 1", &[None, None, None, Some(1.0)]);
        check("52+0x1", &[Some(52.0), Some(52.0)]);
        check(
            "1e3 -Inf NaN 1_000",
            &[
                Some(1000.0),
                Some(f64::NEG_INFINITY),
                Some(f64::NAN),
                Some(1000.0),
            ],
        );
        check("1.5E+2", &[Some(150.0)]);
        assert!(parse_values("abc").is_err());
        assert!(parse_values("1+x").is_err());
    }

    #[test]
    fn stale_and_histograms() {
        let v = parse_values(
            "stale {{schema:1 sum:2 count:3 buckets:[1 2] offset:-1 counter_reset_hint:gauge}}x1",
        )
        .expect("parses");
        assert_eq!(v.len(), 3);
        assert!(matches!(v[0], Some(SeqValue::Float(f)) if model::is_stale_nan(f)));
        let Some(SeqValue::Histogram(h, hint)) = &v[1] else {
            panic!("not a histogram: {:?}", v[1]);
        };
        assert!(hint);
        assert_eq!((h.schema, h.sum, h.count), (1, 2.0, 3.0));
        assert_eq!(
            h.positive_spans,
            vec![Span {
                offset: -1,
                length: 2
            }]
        );
        let v = parse_values("{{count:1 buckets:[1]}}+{{count:2 buckets:[2]}}x2").expect("parses");
        let counts: Vec<f64> = v
            .iter()
            .map(|x| match x {
                Some(SeqValue::Histogram(h, _)) => h.count,
                _ => -1.0,
            })
            .collect();
        assert_eq!(counts, vec![1.0, 3.0, 5.0]);
    }

    #[test]
    fn metrics() {
        let (l, rest) = parse_metric(r#"up{job="a\"b", "odd.name"='x'} 1"#).expect("parses");
        assert_eq!(l.get("__name__"), Some("up"));
        assert_eq!(l.get("job"), Some("a\"b"));
        assert_eq!(l.get("odd.name"), Some("x"));
        assert_eq!(rest.trim(), "1");
        let (l, _) = parse_metric(r#"{"my.metric", a="1"}"#).expect("parses");
        assert_eq!(l.get("__name__"), Some("my.metric"));
        assert!(parse_metric(r#"m{a="1}"#).is_err());
    }
}
