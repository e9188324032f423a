//! Text format 0.0.4, as client_golang's `MetricFamilyToText` writes it.
//!
//! Differences forced by the model: a family without metrics is skipped (Go
//! returns an error), an empty help writes no `# HELP` line (Go writes one
//! when the help is set at all), and the OpenMetrics-only types are written
//! as gauges: an info family `foo` as `foo_info` with value 1, a stateset as
//! one 0/1 sample per state with the state in the label named like the
//! family. Gauge histograms are written as histograms, native histograms by
//! their classic part only (an `le="+Inf"` bucket at least), as Go does.

use super::float::push_text;
use super::{Extra, push_escaped, push_name, push_series};
use crate::family::{Histogram, Metric, MetricValue};
use crate::{MetricFamily, MetricType};
use std::fmt::Write as _;

/// Appends `families` in text format 0.0.4 to `out`.
pub fn encode_text(families: &[MetricFamily], out: &mut String) {
    for f in families {
        family(f, out);
    }
}

fn family(f: &MetricFamily, out: &mut String) {
    if f.metrics.is_empty() {
        return;
    }
    let info_name;
    let name = if f.kind == MetricType::Info {
        info_name = format!("{}_info", f.name);
        info_name.as_str()
    } else {
        f.name.as_str()
    };
    if !f.help.is_empty() {
        out.push_str("# HELP ");
        push_name(out, name);
        out.push(' ');
        push_escaped(out, &f.help, false);
        out.push('\n');
    }
    out.push_str("# TYPE ");
    push_name(out, name);
    out.push_str(match f.kind {
        MetricType::Counter => " counter\n",
        MetricType::Gauge | MetricType::Info | MetricType::Stateset => " gauge\n",
        MetricType::Summary => " summary\n",
        MetricType::Histogram | MetricType::GaugeHistogram => " histogram\n",
        MetricType::Unknown => " untyped\n",
    });
    for m in &f.metrics {
        metric(&f.name, m, out);
    }
}

fn metric(name: &str, m: &Metric, out: &mut String) {
    let line = |out: &mut String, suffix: &str, extra: Extra<'_>, v: f64| {
        sample(out, name, suffix, m, extra, v);
    };
    match &m.value {
        MetricValue::Counter(c) => line(out, "", Extra::None, c.value),
        MetricValue::Gauge(v) | MetricValue::Unknown(v) => line(out, "", Extra::None, *v),
        MetricValue::Info => line(out, "_info", Extra::None, 1.0),
        MetricValue::Stateset(states) => {
            for (state, set) in states {
                line(
                    out,
                    "",
                    Extra::Str(name, state),
                    if *set { 1.0 } else { 0.0 },
                );
            }
        }
        MetricValue::Summary(s) => {
            for q in &s.quantiles {
                line(out, "", Extra::Float("quantile", q.quantile), q.value);
            }
            line(out, "_sum", Extra::None, s.sum);
            line(out, "_count", Extra::None, s.count);
        }
        MetricValue::Histogram(h) | MetricValue::GaugeHistogram(h) => {
            for b in &h.buckets {
                line(
                    out,
                    "_bucket",
                    Extra::Float("le", b.upper_bound),
                    b.cumulative_count,
                );
            }
            if !has_inf_bucket(h) {
                line(out, "_bucket", Extra::Float("le", f64::INFINITY), h.count);
            }
            line(out, "_sum", Extra::None, h.sum);
            line(out, "_count", Extra::None, h.count);
        }
    }
}

pub(super) fn has_inf_bucket(h: &Histogram) -> bool {
    h.buckets.iter().any(|b| b.upper_bound == f64::INFINITY)
}

fn sample(out: &mut String, name: &str, suffix: &str, m: &Metric, extra: Extra<'_>, v: f64) {
    push_series(out, name, suffix, &m.labels, extra, false);
    out.push(' ');
    push_text(out, v);
    if let Some(ts) = m.timestamp_ms {
        let _ = write!(out, " {ts}");
    }
    out.push('\n');
}
