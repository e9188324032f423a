//! OpenMetrics 1.0 text, as client_golang's `MetricFamilyToOpenMetrics`
//! writes it with created lines enabled, plus the types Go leaves out, and
//! one fix: a `_created` line carries its metric's timestamp, as the
//! specification wants of all samples of one point (Go omits it).
//!
//! A counter named `foo_total` is announced as `foo` and sampled as
//! `foo_total`, with `foo_created`; a counter without the `_total` suffix is
//! typed `unknown` (as Go does, to stay valid). Timestamps and created
//! timestamps are seconds. Integral counts are written as integers.
//! Exemplars are written only when they have labels (as Go does). Gauge
//! histograms use `_gsum`/`_gcount` as the specification says; info
//! families sample `foo_info`, statesets carry the state in the label named
//! like the family. The output ends with `# EOF`.

use super::float::{as_count, push_openmetrics};
use super::text::has_inf_bucket;
use super::{Extra, push_escaped, push_name, push_series};
use crate::family::{Metric, MetricValue};
use crate::{MetricFamily, MetricType, OwnedExemplar};

/// Appends `families` in OpenMetrics 1.0 text format, with the final
/// `# EOF`, to `out`.
pub fn encode_openmetrics(families: &[MetricFamily], out: &mut String) {
    for f in families {
        family(f, out);
    }
    out.push_str("# EOF\n");
}

fn family(f: &MetricFamily, out: &mut String) {
    let total = f.kind == MetricType::Counter && f.name.ends_with("_total");
    let meta_name = if total {
        &f.name[..f.name.len() - "_total".len()]
    } else {
        f.name.as_str()
    };
    if !f.help.is_empty() {
        out.push_str("# HELP ");
        push_name(out, meta_name);
        out.push(' ');
        push_escaped(out, &f.help, true);
        out.push('\n');
    }
    out.push_str("# TYPE ");
    push_name(out, meta_name);
    out.push_str(match f.kind {
        MetricType::Counter if total => " counter\n",
        MetricType::Counter | MetricType::Unknown => " unknown\n",
        MetricType::Gauge => " gauge\n",
        MetricType::Summary => " summary\n",
        MetricType::Histogram => " histogram\n",
        MetricType::GaugeHistogram => " gaugehistogram\n",
        MetricType::Info => " info\n",
        MetricType::Stateset => " stateset\n",
    });
    if !f.unit.is_empty() {
        out.push_str("# UNIT ");
        push_name(out, meta_name);
        out.push(' ');
        push_escaped(out, &f.unit, true);
        out.push('\n');
    }
    for m in &f.metrics {
        metric(&f.name, meta_name, m, out);
    }
}

/// A sample value: a float, or a count written as an integer when integral.
#[derive(Clone, Copy)]
enum Value {
    Float(f64),
    Count(f64),
}

fn metric(name: &str, base: &str, m: &Metric, out: &mut String) {
    let line =
        |out: &mut String, suffix: &str, extra: Extra<'_>, v: Value, ex: Option<&OwnedExemplar>| {
            sample(out, name, suffix, m, extra, v, ex);
        };
    let created = |out: &mut String, ms: Option<i64>| {
        if let Some(ms) = ms {
            push_series(out, base, "_created", &m.labels, Extra::None, true);
            out.push(' ');
            push_openmetrics(out, ms as f64 / 1000.0);
            // Go omits the timestamp here; OpenMetrics wants all samples of
            // a point to share it, and Prometheus accepts both.
            if let Some(ts) = m.timestamp_ms {
                out.push(' ');
                push_openmetrics(out, ts as f64 / 1000.0);
            }
            out.push('\n');
        }
    };
    match &m.value {
        MetricValue::Counter(c) => {
            line(
                out,
                "",
                Extra::None,
                Value::Float(c.value),
                c.exemplar.as_ref(),
            );
            created(out, c.created_ms);
        }
        MetricValue::Gauge(v) | MetricValue::Unknown(v) => {
            line(out, "", Extra::None, Value::Float(*v), None);
        }
        MetricValue::Info => line(out, "_info", Extra::None, Value::Count(1.0), None),
        MetricValue::Stateset(states) => {
            for (state, set) in states {
                let v = Value::Count(if *set { 1.0 } else { 0.0 });
                line(out, "", Extra::Str(name, state), v, None);
            }
        }
        MetricValue::Summary(s) => {
            for q in &s.quantiles {
                let extra = Extra::Float("quantile", q.quantile);
                line(out, "", extra, Value::Float(q.value), None);
            }
            line(out, "_sum", Extra::None, Value::Float(s.sum), None);
            line(out, "_count", Extra::None, Value::Count(s.count), None);
            created(out, s.created_ms);
        }
        MetricValue::Histogram(h) | MetricValue::GaugeHistogram(h) => {
            let gauge = matches!(m.value, MetricValue::GaugeHistogram(_));
            for b in &h.buckets {
                let extra = Extra::Float("le", b.upper_bound);
                let v = Value::Count(b.cumulative_count);
                line(out, "_bucket", extra, v, b.exemplar.as_ref());
            }
            if !has_inf_bucket(h) {
                let extra = Extra::Float("le", f64::INFINITY);
                line(out, "_bucket", extra, Value::Count(h.count), None);
            }
            let (sum, count) = if gauge {
                ("_gsum", "_gcount")
            } else {
                ("_sum", "_count")
            };
            line(out, sum, Extra::None, Value::Float(h.sum), None);
            line(out, count, Extra::None, Value::Count(h.count), None);
            if !gauge {
                created(out, h.created_ms);
            }
        }
    }
}

fn sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    m: &Metric,
    extra: Extra<'_>,
    v: Value,
    exemplar: Option<&OwnedExemplar>,
) {
    push_series(out, name, suffix, &m.labels, extra, true);
    out.push(' ');
    match v {
        Value::Count(c) => match as_count(c) {
            Some(n) => {
                out.push_str(itoa(n, &mut [0; 20]));
            }
            None => push_openmetrics(out, c),
        },
        Value::Float(f) => push_openmetrics(out, f),
    }
    if let Some(ts) = m.timestamp_ms {
        out.push(' ');
        push_openmetrics(out, ts as f64 / 1000.0);
    }
    if let Some(e) = exemplar.filter(|e| !e.labels.is_empty()) {
        out.push_str(" # ");
        push_series(out, "", "", &e.labels, Extra::None, true);
        out.push(' ');
        push_openmetrics(out, e.value);
        if let Some(ts) = e.timestamp {
            out.push(' ');
            push_openmetrics(out, ts as f64 / 1000.0);
        }
    }
    out.push('\n');
}

/// Formats `n` into `buf` without allocating.
fn itoa(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}
