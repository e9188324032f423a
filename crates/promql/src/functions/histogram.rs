//! Histogram functions: `histogram_count/sum/avg/stddev/stdvar` on native
//! histograms, and `histogram_quantile(s)`/`histogram_fraction` on native
//! histograms and classic `le` buckets.

use std::collections::HashMap;

use model::{FloatHistogram, Labels};

use crate::aggregate::kahan_inc;
use crate::annotations::{Annotations, fmt_g, quote};
use crate::error::Result;
use crate::histogram::{self as hist, all_buckets, is_custom};
use crate::quantile::{bucket_fraction, bucket_quantile, histogram_fraction, histogram_quantile};
use crate::value::{Sample, Vector};

use super::StepArgs;

fn simple(a: &StepArgs<'_>, f: impl Fn(&FloatHistogram) -> f64) -> Vector {
    a.vecs[0]
        .iter()
        .filter_map(|s| s.h.as_ref().map(|h| a.derived(s, f(h))))
        .collect()
}

fn variance(h: &FloatHistogram) -> f64 {
    let mean = h.sum / h.count;
    let (mut v, mut c) = (0.0, 0.0);
    for b in all_buckets(h) {
        if b.count == 0.0 {
            continue;
        }
        let val = if is_custom(h) {
            (b.upper + b.lower) / 2.0
        } else if b.lower <= 0.0 && b.upper >= 0.0 {
            0.0
        } else {
            let x = (b.upper * b.lower).sqrt();
            if b.upper < 0.0 { -x } else { x }
        };
        let d = val - mean;
        (v, c) = kahan_inc(b.count * d * d, v, c);
    }
    (v + c) / h.count
}

/// Classic buckets grouped by their labels without `le`, and native
/// histogram samples; with Prometheus's annotations.
struct Split<'a> {
    natives: Vec<&'a Sample>,
    classic: Vec<(Labels, Vec<(f64, f64)>)>,
}

fn split<'a>(v: &'a Vector, annos: &mut Annotations) -> Split<'a> {
    let mut natives = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut classic: Vec<(Labels, Vec<(f64, f64)>)> = Vec::new();
    for s in v {
        if s.h.is_some() {
            natives.push(s);
            continue;
        }
        let le = s.metric.get("le").unwrap_or("");
        let Some(ub) = parse_go_float(le) else {
            annos.warn(format!(
                "bucket label \"le\" is missing or has a malformed value of {}{}",
                quote(le),
                crate::annotations::for_metric(s.metric.get("__name__").unwrap_or(""))
            ));
            continue;
        };
        let key = Labels::from_sorted(s.metric.iter().filter(|(n, _)| *n != "le"));
        let i = *index.entry(key.clone()).or_insert_with(|| {
            classic.push((key, Vec::new()));
            classic.len() - 1
        });
        classic[i].1.push((ub, s.f));
    }
    let mut keep = Vec::new();
    for n in natives {
        if let Some(&i) = index.get(&n.metric)
            && !classic[i].1.is_empty()
        {
            annos.warn(format!(
                "vector contains a mix of classic and native histograms{}",
                crate::annotations::for_metric(n.metric.get("__name__").unwrap_or(""))
            ));
            classic[i].1.clear();
            continue;
        }
        keep.push(n);
    }
    Split {
        natives: keep,
        classic,
    }
}

/// Go's `strconv.ParseFloat` for label values.
pub(crate) fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.trim_start_matches(['+', '-']);
    let lower = t.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if lower == "nan" {
        return Some(f64::NAN);
    }
    if s.is_empty() || lower.contains("inf") || lower.contains("nan") {
        return None;
    }
    if s.contains('_') {
        return None;
    }
    if let Some(h) = lower.strip_prefix("0x") {
        return i64::from_str_radix(h, 16).ok().map(|v| v as f64);
    }
    s.parse::<f64>().ok()
}

fn quantile_warn(q: f64, annos: &mut Annotations) {
    if q.is_nan() || !(0.0..=1.0).contains(&q) {
        annos.warn(format!(
            "quantile value should be between 0 and 1, got {}",
            fmt_g(q)
        ));
    }
}

fn monotonicity_info(metric: &Labels, annos: &mut Annotations) {
    annos.info(format!(
        "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile){}",
        crate::annotations::for_metric(metric.get("__name__").unwrap_or(""))
    ));
}

fn with_drop(a: &StepArgs<'_>, metric: Labels, f: f64) -> Sample {
    Sample {
        metric: if a.delayed {
            metric
        } else {
            crate::eval::drop_metric_name(&metric)
        },
        t: 0,
        f,
        h: None,
        drop_name: true,
    }
}

pub(super) fn call(
    name: &str,
    a: &StepArgs<'_>,
    annos: &mut Annotations,
) -> Result<Option<Vector>> {
    Ok(Some(match name {
        "histogram_count" => simple(a, |h| h.count),
        "histogram_sum" => simple(a, |h| h.sum),
        "histogram_avg" => simple(a, |h| h.sum / h.count),
        "histogram_stddev" => simple(a, |h| variance(h).sqrt()),
        "histogram_stdvar" => simple(a, variance),
        "histogram_quantile" => {
            if a.vecs[0].is_empty() {
                return Ok(Some(Vec::new()));
            }
            let q = a.scalar(0);
            quantile_warn(q, annos);
            let sp = split(&a.vecs[1], annos);
            let mut out = Vec::new();
            for s in sp.natives {
                let Some(h) = &s.h else { continue };
                let v = histogram_quantile(q, h, s.metric.get("__name__").unwrap_or(""), annos);
                out.push(with_drop(a, s.metric.clone(), v));
            }
            for (m, mut b) in sp.classic {
                if b.is_empty() {
                    continue;
                }
                let (v, forced) = bucket_quantile(q, &mut b);
                if forced {
                    monotonicity_info(&m, annos);
                }
                out.push(with_drop(a, m, v));
            }
            out
        }
        "histogram_quantiles" => {
            let label = a.string(1);
            let qs: Vec<f64> = (2..a.call.args.len()).map(|i| a.scalar(i)).collect();
            for &q in &qs {
                quantile_warn(q, annos);
            }
            let sp = split(&a.vecs[0], annos);
            let mut out = Vec::new();
            let with_q = |m: &Labels, q: f64| {
                let mut b = m.to_builder();
                b.set(&label, &openmetrics_float(q));
                b.labels()
            };
            for &q in &qs {
                for s in &sp.natives {
                    let Some(h) = &s.h else { continue };
                    let v = histogram_quantile(q, h, s.metric.get("__name__").unwrap_or(""), annos);
                    out.push(with_drop(a, with_q(&s.metric, q), v));
                }
                for (m, b) in &sp.classic {
                    if b.is_empty() {
                        continue;
                    }
                    let mut b = b.clone();
                    let (v, forced) = bucket_quantile(q, &mut b);
                    if forced {
                        monotonicity_info(m, annos);
                    }
                    out.push(with_drop(a, with_q(m, q), v));
                }
            }
            out
        }
        "histogram_fraction" => {
            if a.vecs[0].is_empty() || a.vecs[1].is_empty() {
                return Ok(Some(Vec::new()));
            }
            let (lo, hi) = (a.scalar(0), a.scalar(1));
            let sp = split(&a.vecs[2], annos);
            let mut out = Vec::new();
            for s in sp.natives {
                let Some(h) = &s.h else { continue };
                let v =
                    histogram_fraction(lo, hi, h, s.metric.get("__name__").unwrap_or(""), annos);
                out.push(with_drop(a, s.metric.clone(), v));
            }
            for (m, mut b) in sp.classic {
                if b.is_empty() {
                    continue;
                }
                out.push(with_drop(a, m, bucket_fraction(lo, hi, &mut b)));
            }
            out
        }
        _ => {
            let _ = hist::CUSTOM_SCHEMA;
            return Ok(None);
        }
    }))
}

/// `labels.FormatOpenMetricsFloat`: like `%g` but integers get `.0`.
fn openmetrics_float(f: f64) -> String {
    if f.is_infinite() || f.is_nan() {
        return crate::value::format_float(f);
    }
    let s = crate::value::format_float(f);
    if s.contains(['.', 'e']) {
        s
    } else {
        format!("{s}.0")
    }
}
