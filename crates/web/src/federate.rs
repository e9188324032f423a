//! `/federate`: the latest sample of every series matching a `match[]`
//! (within the lookback delta), with its timestamp and the external labels,
//! in the exposition format the client negotiates.
//!
//! As in Prometheus: stale markers are left out; samples are grouped into
//! families by metric name (floats `untyped`, histograms keeping their
//! kind); an external label the series already has is not overwritten;
//! `instance=""` is added when neither the series nor the external labels
//! have an instance; native histograms are served only over protobuf,
//! custom-bucket histograms (NHCB) as classic ones in every format.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use expfmt::family::{Bucket, Histogram, NativeHistogram};
use expfmt::{Format, Metric, MetricFamily, MetricValue};
use model::histogram::CounterResetHint;
use model::{FloatHistogram, Labels, MetricType, is_stale_nan};
use storage::{SampleIterator, SelectHints, ValueType};

use crate::api::{self, Shared};
use crate::params::{self, Form};

/// The schema of histograms with custom bucket bounds (NHCB).
const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// The latest sample of one series.
struct Latest {
    labels: Labels,
    t: i64,
    f: f64,
    h: Option<FloatHistogram>,
}

/// `GET /federate`.
pub(crate) async fn federate(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    if let Some(r) = api::not_ready(&shared) {
        return r;
    }
    let headers = req.headers().clone();
    let form = Form::new(req.uri().query(), None);
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = Format::negotiate(accept);
    let shared2 = shared.clone();
    let work = tokio::task::spawn_blocking(move || render(&shared2, &form, format)).await;
    match work {
        Ok(Ok(body)) => api::compressed(&headers, StatusCode::OK, format.content_type(), body),
        Ok(Err((code, msg))) => (code, format!("{msg}\n")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

fn render(shared: &Shared, form: &Form, format: Format) -> Result<Vec<u8>, (StatusCode, String)> {
    let mut sets = Vec::new();
    for m in form.all("match[]") {
        sets.push(
            params::parse_selector(m, shared.parser()).map_err(|e| (StatusCode::BAD_REQUEST, e))?,
        );
    }
    let maxt = shared.now();
    let lookback =
        i64::try_from(shared.api.engine.options().lookback_delta.as_millis()).unwrap_or(i64::MAX);
    let mint = maxt.saturating_sub(lookback);
    let q = shared
        .api
        .queryable
        .querier(mint, maxt)
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let hints = SelectHints {
        start: mint,
        end: maxt,
        ..SelectHints::default()
    };
    let mut latest: Vec<Latest> = Vec::new();
    for ms in &sets {
        let mut set = q.select(true, Some(&hints), ms);
        while let Some(s) = set.next() {
            let s = s.map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
            let mut it = s.iterator();
            if let Some(l) = last_sample(&mut *it, mint, maxt, s.labels()) {
                latest.push(l);
            }
            if let Some(e) = it.err() {
                return Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string()));
            }
        }
    }
    if sets.len() > 1 {
        latest.sort_by(|a, b| a.labels.cmp(&b.labels));
        latest.dedup_by(|a, b| a.labels == b.labels);
    }
    latest.sort_by(|a, b| {
        let an = a.labels.metric_name().unwrap_or("");
        let bn = b.labels.metric_name().unwrap_or("");
        an.cmp(bn)
    });
    let families = families(latest, &shared.api.options.external_labels, format);
    Ok(match format {
        Format::Protobuf => {
            let mut out = Vec::new();
            expfmt::encode_protobuf(&families, &mut out);
            out
        }
        Format::OpenMetrics => {
            let mut out = String::new();
            expfmt::encode_openmetrics(&families, &mut out);
            out.into_bytes()
        }
        Format::Text | Format::Text1 => {
            let mut out = String::new();
            expfmt::encode_text(&families, &mut out);
            out.into_bytes()
        }
    })
}

/// The last sample in `[mint, maxt]`, unless it is a stale marker.
fn last_sample(
    it: &mut dyn SampleIterator,
    mint: i64,
    maxt: i64,
    labels: &Labels,
) -> Option<Latest> {
    let mut found: Option<(i64, ValueType)> = None;
    let mut f = 0.0;
    let mut h = FloatHistogram::default();
    let mut vt = it.seek(mint);
    while vt != ValueType::None {
        let t = it.at_t();
        if t > maxt {
            break;
        }
        match vt {
            ValueType::Float => f = it.at().1,
            _ => {
                it.at_float_histogram(&mut h);
            }
        }
        found = Some((t, vt));
        vt = it.next();
    }
    let (t, vt) = found?;
    let h = (vt != ValueType::Float).then_some(h);
    let stale = match &h {
        Some(h) => is_stale_nan(h.sum),
        None => is_stale_nan(f),
    };
    (!stale).then(|| Latest {
        labels: labels.clone(),
        t,
        f,
        h,
    })
}

fn families(latest: Vec<Latest>, external: &Labels, format: Format) -> Vec<MetricFamily> {
    let mut ext: Vec<(&str, &str)> = external.iter().collect();
    if !ext.iter().any(|(n, _)| *n == "instance") {
        ext.push(("instance", ""));
        ext.sort();
    }
    let mut out: Vec<MetricFamily> = Vec::new();
    // (name, is histogram, is gauge histogram) of the family being built.
    let mut last: Option<(String, bool, bool)> = None;
    for s in latest {
        let Some(name) = s.labels.metric_name().filter(|n| !n.is_empty()) else {
            tracing::warn!(metric = %s.labels, "ignoring nameless metric during federation");
            continue;
        };
        let value = match &s.h {
            None => MetricValue::Unknown(s.f),
            Some(h) if h.schema == CUSTOM_BUCKETS_SCHEMA => classic(h),
            Some(h) if format == Format::Protobuf => MetricValue::Histogram(Histogram {
                count: h.count,
                sum: h.sum,
                native: Some(NativeHistogram::Float(h.clone())),
                ..Histogram::default()
            }),
            Some(_) => continue,
        };
        let gauge =
            s.h.as_ref()
                .is_some_and(|h| h.counter_reset_hint == CounterResetHint::Gauge);
        let value = match value {
            MetricValue::Histogram(h) if gauge => MetricValue::GaugeHistogram(h),
            v => v,
        };
        let key = (name.to_string(), s.h.is_some(), gauge);
        if last.as_ref() != Some(&key) {
            out.push(MetricFamily {
                name: name.to_string(),
                kind: match (s.h.is_some(), gauge) {
                    (false, _) => MetricType::Unknown,
                    (true, false) => MetricType::Histogram,
                    (true, true) => MetricType::GaugeHistogram,
                },
                ..MetricFamily::default()
            });
            last = Some(key);
        }
        let mut labels: Vec<(String, String)> = s
            .labels
            .iter()
            .filter(|(n, v)| *n != "__name__" && !v.is_empty())
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        for (n, v) in &ext {
            if !labels.iter().any(|(ln, _)| ln == n) {
                labels.push((n.to_string(), v.to_string()));
            }
        }
        if let Some(fam) = out.last_mut() {
            fam.metrics.push(Metric {
                labels,
                value,
                timestamp_ms: Some(s.t),
            });
        }
    }
    out
}

/// A custom-bucket histogram as a classic one (cumulative counts; the
/// `+Inf` bucket is left to the encoder).
fn classic(h: &FloatHistogram) -> MetricValue {
    let mut counts = vec![0.0; h.custom_values.len()];
    let mut idx: i64 = 0;
    let mut buckets = h.positive_buckets.iter();
    for (n, span) in h.positive_spans.iter().enumerate() {
        idx = if n == 0 {
            i64::from(span.offset)
        } else {
            idx + i64::from(span.offset)
        };
        for _ in 0..span.length {
            let Some(&c) = buckets.next() else { break };
            if let Some(slot) = usize::try_from(idx).ok().and_then(|i| counts.get_mut(i)) {
                *slot = c;
            }
            idx += 1;
        }
    }
    let mut cumulative = 0.0;
    let buckets = h
        .custom_values
        .iter()
        .zip(counts)
        .map(|(&le, c)| {
            cumulative += c;
            Bucket {
                upper_bound: le,
                cumulative_count: cumulative,
                exemplar: None,
            }
        })
        .collect();
    MetricValue::Histogram(Histogram {
        count: h.count,
        sum: h.sum,
        buckets,
        ..Histogram::default()
    })
}
