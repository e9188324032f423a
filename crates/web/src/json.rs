//! Hand-rolled JSON encoding with the bytes Prometheus writes.
//!
//! Prometheus encodes API responses with json-iterator in its standard-library
//! compatible mode, plus custom encoders for PromQL values
//! (`util/jsonutil`). Reproducing them byte for byte needs control that a
//! generic serializer does not give: Go's string escaping (`<`, `>`, `&`,
//! U+2028 and U+2029 escaped; control characters as `\u00XX`), sample values
//! as strings formatted like `strconv.FormatFloat` (switching to exponent
//! form below 1e-6 and from 1e21 on), timestamps as seconds with three
//! millisecond digits when there are any (see [`Writer::timestamp`]), and
//! native histograms as `{count, sum, buckets}`.
//!
//! [`Writer`] keeps track of commas; callers write values in order.

use std::fmt::Write as _;

use model::{FloatHistogram, Labels};
use promql::{Sample, Series, Value};

/// A JSON document being written. Commas between members and elements are
/// inserted automatically.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    out: String,
    /// One entry per open object or array: whether it has a member yet.
    stack: Vec<bool>,
    /// A key was just written: the next value needs no comma.
    after_key: bool,
}

impl Writer {
    /// An empty writer with room for `cap` bytes.
    pub(crate) fn with_capacity(cap: usize) -> Writer {
        Writer {
            out: String::with_capacity(cap),
            ..Writer::default()
        }
    }

    /// The document.
    pub(crate) fn finish(self) -> String {
        self.out
    }

    fn sep(&mut self) {
        if self.after_key {
            self.after_key = false;
            return;
        }
        if let Some(has) = self.stack.last_mut() {
            if *has {
                self.out.push(',');
            }
            *has = true;
        }
    }

    /// `{`.
    pub(crate) fn obj(&mut self) -> &mut Self {
        self.sep();
        self.out.push('{');
        self.stack.push(false);
        self
    }

    /// `}`.
    pub(crate) fn end_obj(&mut self) -> &mut Self {
        self.stack.pop();
        self.out.push('}');
        self
    }

    /// `[`.
    pub(crate) fn arr(&mut self) -> &mut Self {
        self.sep();
        self.out.push('[');
        self.stack.push(false);
        self
    }

    /// `]`.
    pub(crate) fn end_arr(&mut self) -> &mut Self {
        self.stack.pop();
        self.out.push(']');
        self
    }

    /// An object key; the value follows.
    pub(crate) fn key(&mut self, k: &str) -> &mut Self {
        self.sep();
        escape_into(&mut self.out, k);
        self.out.push(':');
        self.after_key = true;
        self
    }

    /// A string value.
    pub(crate) fn str(&mut self, s: &str) -> &mut Self {
        self.sep();
        escape_into(&mut self.out, s);
        self
    }

    /// Pre-encoded JSON.
    pub(crate) fn raw(&mut self, s: &str) -> &mut Self {
        self.sep();
        self.out.push_str(s);
        self
    }

    /// An integer.
    pub(crate) fn int(&mut self, v: i64) -> &mut Self {
        self.sep();
        let _ = write!(self.out, "{v}");
        self
    }

    /// An unsigned integer.
    pub(crate) fn uint(&mut self, v: u64) -> &mut Self {
        self.sep();
        let _ = write!(self.out, "{v}");
        self
    }

    /// A boolean.
    pub(crate) fn bool(&mut self, v: bool) -> &mut Self {
        self.raw(if v { "true" } else { "false" })
    }

    /// A float as Go's `encoding/json` writes a `float64` (unquoted). NaN
    /// and infinities, which Go refuses to encode, are written as `0`.
    pub(crate) fn go_float(&mut self, v: f64) -> &mut Self {
        self.sep();
        if !v.is_finite() {
            self.out.push('0');
        } else {
            push_go_json_float(&mut self.out, v);
        }
        self
    }

    /// A sample value: a string holding `jsonutil.MarshalFloat`'s digits.
    pub(crate) fn value(&mut self, v: f64) -> &mut Self {
        self.sep();
        self.out.push('"');
        push_sample_value(&mut self.out, v);
        self.out.push('"');
        self
    }

    /// A timestamp in milliseconds as `jsonutil.MarshalTimestamp` writes
    /// it: seconds, then `.` and three digits when the milliseconds are not
    /// zero (`1500` → `1.500`, `1000` → `1`, `5` → `0.005`).
    pub(crate) fn timestamp(&mut self, t: i64) -> &mut Self {
        self.sep();
        push_timestamp(&mut self.out, t);
        self
    }

    /// A label set as an object in label order.
    pub(crate) fn labels(&mut self, l: &Labels) -> &mut Self {
        self.obj();
        for (n, v) in l.iter() {
            self.key(n).str(v);
        }
        self.end_obj()
    }

    /// `[ts, "value"]`.
    pub(crate) fn point(&mut self, t: i64, v: f64) -> &mut Self {
        self.arr().timestamp(t).value(v).end_arr()
    }

    /// `[ts, {histogram}]`.
    pub(crate) fn hpoint(&mut self, t: i64, h: &FloatHistogram) -> &mut Self {
        self.arr().timestamp(t);
        self.histogram(h);
        self.end_arr()
    }

    /// A native histogram: `{"count":..,"sum":..,"buckets":[[rule,lo,hi,n],..]}`
    /// with empty buckets left out and `buckets` absent when all are.
    pub(crate) fn histogram(&mut self, h: &FloatHistogram) -> &mut Self {
        self.obj();
        self.key("count").value(h.count);
        self.key("sum").value(h.sum);
        let buckets = crate::histogram::buckets(h);
        let mut any = false;
        for b in buckets.iter().filter(|b| b.count != 0.0) {
            if !any {
                self.key("buckets").arr();
                any = true;
            }
            self.arr()
                .int(b.boundary_rule())
                .value(b.lower)
                .value(b.upper)
                .value(b.count)
                .end_arr();
        }
        if any {
            self.end_arr();
        }
        self.end_obj()
    }

    /// One element of an instant vector.
    pub(crate) fn sample(&mut self, s: &Sample) -> &mut Self {
        self.obj().key("metric").labels(&s.metric);
        match &s.h {
            Some(h) => {
                self.key("histogram").hpoint(s.t, h);
            }
            None => {
                self.key("value").point(s.t, s.f);
            }
        }
        self.end_obj()
    }

    /// One series of a matrix.
    pub(crate) fn series(&mut self, s: &Series) -> &mut Self {
        self.obj().key("metric").labels(&s.metric);
        if !s.floats.is_empty() {
            self.key("values").arr();
            for p in &s.floats {
                self.point(p.t, p.f);
            }
            self.end_arr();
        }
        if !s.histograms.is_empty() {
            self.key("histograms").arr();
            for p in &s.histograms {
                self.hpoint(p.t, &p.h);
            }
            self.end_arr();
        }
        self.end_obj()
    }

    /// A query result value (`result` of `/query` and `/query_range`).
    pub(crate) fn query_value(&mut self, v: &Value) -> &mut Self {
        match v {
            Value::Scalar { t, v } => self.point(*t, *v),
            Value::String { t, v } => self.arr().timestamp(*t).str(v).end_arr(),
            Value::Vector(vec) => {
                self.arr();
                for s in vec {
                    self.sample(s);
                }
                self.end_arr()
            }
            Value::Matrix(m) => {
                self.arr();
                for s in m {
                    self.series(s);
                }
                self.end_arr()
            }
        }
    }

    /// A list of strings.
    pub(crate) fn strings<S: AsRef<str>>(&mut self, v: &[S]) -> &mut Self {
        self.arr();
        for s in v {
            self.str(s.as_ref());
        }
        self.end_arr()
    }
}

/// Appends `s` as a JSON string the way Go's `encoding/json` (and
/// json-iterator's compatible mode) escapes it.
pub(crate) fn escape_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{2028}' => Some("\\u2028"),
            '\u{2029}' => Some("\\u2029"),
            c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let b = c as u32 as u8;
                out.push_str("\\u00");
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0xf)] as char);
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// `s` as a JSON string.
#[cfg(test)]
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    escape_into(&mut out, s);
    out
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`: shortest digits, at least two
/// exponent digits (`1e-07`, `1.5e+21`).
pub(crate) fn push_go_exp(out: &mut String, v: f64) {
    let e = format!("{v:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    out.push_str(mant);
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(out, "{:02}", exp.unsigned_abs());
}

/// `jsonutil.MarshalFloat` without the quotes: `'f'` formatting, `'e'` for
/// magnitudes below 1e-6 or from 1e21 on; `NaN`, `+Inf`, `-Inf`.
pub(crate) fn push_sample_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let a = v.abs();
        if a != 0.0 && !(1e-6..1e21).contains(&a) {
            push_go_exp(out, v);
        } else {
            let _ = write!(out, "{v}");
        }
    }
}

/// A sample value as a string (see [`push_sample_value`]).
#[cfg(test)]
fn sample_value(v: f64) -> String {
    let mut s = String::new();
    push_sample_value(&mut s, v);
    s
}

/// Go's `encoding/json` float64: like [`push_sample_value`] but with a
/// one-digit negative exponent (`1e-7`).
fn push_go_json_float(out: &mut String, v: f64) {
    let a = v.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let mut e = String::new();
        push_go_exp(&mut e, v);
        if let Some(p) = e.find("e-0") {
            e.remove(p + 2);
        }
        out.push_str(&e);
    } else {
        let _ = write!(out, "{v}");
    }
}

/// See [`Writer::timestamp`].
pub(crate) fn push_timestamp(out: &mut String, t: i64) {
    let t = i128::from(t);
    let a = t.abs();
    if t < 0 {
        out.push('-');
    }
    let _ = write!(out, "{}", a / 1000);
    let frac = a % 1000;
    if frac != 0 {
        let _ = write!(out, ".{frac:03}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_value(v: f64, want: &str) {
        assert_eq!(sample_value(v), want, "{v:e}");
    }

    #[test]
    fn sample_values_format_like_go() {
        check_value(1.0, "1");
        check_value(-0.0, "-0");
        check_value(0.09838999999999999, "0.09838999999999999");
        check_value(1e-6, "0.000001");
        check_value(1e-7, "1e-07");
        check_value(-2.5e-9, "-2.5e-09");
        check_value(1e20, "100000000000000000000");
        check_value(1e21, "1e+21");
        check_value(1.5e300, "1.5e+300");
        check_value(f64::NAN, "NaN");
        check_value(f64::INFINITY, "+Inf");
        check_value(f64::NEG_INFINITY, "-Inf");
        check_value(123456.789, "123456.789");
    }

    #[test]
    fn go_json_floats() {
        let f = |v| {
            let mut s = String::new();
            push_go_json_float(&mut s, v);
            s
        };
        assert_eq!(f(1e-7), "1e-7");
        assert_eq!(f(0.000123), "0.000123");
        assert_eq!(f(1e21), "1e+21");
        assert_eq!(f(3.0), "3");
    }

    #[test]
    fn timestamps() {
        let f = |t| {
            let mut s = String::new();
            push_timestamp(&mut s, t);
            s
        };
        assert_eq!(f(1500), "1.500");
        assert_eq!(f(1000), "1");
        assert_eq!(f(5), "0.005");
        assert_eq!(f(-1500), "-1.500");
        assert_eq!(f(1_435_781_451_781), "1435781451.781");
        assert_eq!(f(i64::MIN), "-9223372036854775.808");
    }

    #[test]
    fn strings_escape_like_go() {
        assert_eq!(quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quote("<&>"), r#""\u003c\u0026\u003e""#);
        assert_eq!(quote("\n\t\r\u{1}\u{8}"), r#""\n\t\r\u0001\u0008""#);
        assert_eq!(quote("\u{2028}é"), "\"\\u2028é\"");
    }

    #[test]
    fn commas() {
        let mut w = Writer::default();
        w.obj().key("a").arr().int(1).int(2).end_arr();
        w.key("b").obj().end_obj().key("c").str("x").end_obj();
        assert_eq!(w.finish(), r#"{"a":[1,2],"b":{},"c":"x"}"#);
    }
}
