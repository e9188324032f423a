//! The remote write receiver (`/api/v1/write`), 1.0 and 2.0, as
//! Prometheus's `storage/remote/write_handler.go` behaves.

use model::matcher::write_go_quoted;
use model::{Labels, Metadata, Timestamp};
use storage::{AppendError, Appendable, Appender, Exemplar, Sample, SeriesRef};

use crate::convert::{
    AnyHistogram, histogram_from_proto, loose_labels, metric_type_of, series_labels,
};
use crate::prompb::{Message, WriteRequest, v2};
use crate::{Limits, Response, WriteMetrics, decompress};

/// The 1.0 message name (`proto=` parameter).
pub const PROTO_V1: &str = "prometheus.WriteRequest";
/// The 2.0 message name (`proto=` parameter).
pub const PROTO_V2: &str = "io.prometheus.write.v2.Request";
/// Response header: float samples written (2.0).
pub const SAMPLES_WRITTEN: &str = "X-Prometheus-Remote-Write-Samples-Written";
/// Response header: histogram samples written (2.0).
pub const HISTOGRAMS_WRITTEN: &str = "X-Prometheus-Remote-Write-Histograms-Written";
/// Response header: exemplars written (2.0).
pub const EXEMPLARS_WRITTEN: &str = "X-Prometheus-Remote-Write-Exemplars-Written";

const APP_PROTO: &str = "application/x-protobuf";

/// Which protobuf message a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtoMsg {
    /// `prometheus.WriteRequest` (remote write 1.0).
    V1,
    /// `io.prometheus.write.v2.Request` (remote write 2.0).
    V2,
}

/// Reads the message type from a `Content-Type` (Prometheus's
/// `parseProtoMsg`; a missing header means 1.0). Parameter names and values
/// are trimmed of spaces. The error is the 415 text.
pub fn parse_content_type(content_type: Option<&str>) -> Result<ProtoMsg, String> {
    let ct = content_type.unwrap_or("").trim();
    if ct.is_empty() {
        return Ok(ProtoMsg::V1);
    }
    let mut parts = ct.split(';');
    if parts.next().map(str::trim) != Some(APP_PROTO) {
        return Err(format!(
            "expected {APP_PROTO} as the first (media) part, got {ct} content-type"
        ));
    }
    for p in parts {
        let pair: Vec<&str> = p.split('=').collect();
        if pair.len() != 2 {
            return Err(format!(
                "as per https://www.rfc-editor.org/rfc/rfc9110#parameter expected parameters to be key-values, got {p} in {ct} content-type"
            ));
        }
        if pair[0].trim() == "proto" {
            return match pair[1].trim() {
                PROTO_V1 => Ok(ProtoMsg::V1),
                PROTO_V2 => Ok(ProtoMsg::V2),
                m => Err(format!(
                    "got {ct} content type; unknown remote write protobuf message {m}, supported: {PROTO_V1}, {PROTO_V2}"
                )),
            };
        }
    }
    Ok(ProtoMsg::V1)
}

/// What a write appended (2.0's response headers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Float samples.
    pub samples: u64,
    /// Histogram samples.
    pub histograms: u64,
    /// Exemplars.
    pub exemplars: u64,
}

impl WriteStats {
    fn headers(&self, r: &mut Response) {
        r.headers.push((SAMPLES_WRITTEN, self.samples.to_string()));
        r.headers
            .push((HISTOGRAMS_WRITTEN, self.histograms.to_string()));
        r.headers
            .push((EXEMPLARS_WRITTEN, self.exemplars.to_string()));
    }
}

/// Handles one remote write request: content negotiation, snappy,
/// decoding, validation, one appender batch.
///
/// 1.0: a decode error answers 400 with nothing appended; series with
/// invalid labels are skipped; an out-of-order, out-of-bounds, too-old or
/// duplicate sample rolls the whole batch back and answers 400 (other
/// append errors 500); exemplar errors are ignored; metadata is decoded
/// but not stored (as Prometheus). 2.0: decode errors as 1.0; invalid
/// series and rejected samples are reported with 400 while the rest is
/// committed (Prometheus's partial write), other append errors roll back
/// with 500; the `X-Prometheus-Remote-Write-*-Written` headers are always
/// set; created timestamps are decoded but not ingested (Prometheus's
/// default, without `created-timestamp-zero-ingestion`).
pub fn handle_write(
    app: &dyn Appendable,
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
    limits: &Limits,
    metrics: &WriteMetrics,
) -> Response {
    let msg = match parse_content_type(content_type) {
        Ok(m) => m,
        Err(e) => return Response::text(415, e),
    };
    if let Some(enc) = content_encoding
        && !enc.is_empty()
        && !enc.eq_ignore_ascii_case("snappy")
    {
        return Response::text(
            415,
            format!(
                "{enc} encoding (compression) is not accepted by this server; only snappy is acceptable"
            ),
        );
    }
    let raw = match decompress(body, limits.max_decompressed_bytes) {
        Ok(r) => r,
        Err(e) => return Response::text(400, e),
    };
    match msg {
        ProtoMsg::V1 => match WriteRequest::decode(&raw) {
            Ok(req) => write_v1(app, &req, metrics),
            Err(e) => Response::text(400, e.0),
        },
        ProtoMsg::V2 => match v2::Request::decode(&raw) {
            Ok(req) => write_v2(app, &req, metrics),
            Err(e) => Response::text(400, e.0),
        },
    }
}

fn nonzero(r: SeriesRef) -> Option<SeriesRef> {
    (r.0 != 0).then_some(r)
}

/// Errors Prometheus answers with 400 (the sender must not retry).
fn is_bad_request(e: &AppendError) -> bool {
    matches!(
        e,
        AppendError::OutOfOrder
            | AppendError::OutOfBounds
            | AppendError::DuplicateTimestamp
            | AppendError::TooOld
    )
}

fn append_histogram(
    a: &mut dyn Appender,
    hint: Option<SeriesRef>,
    labels: &Labels,
    h: &crate::prompb::Histogram,
) -> Result<SeriesRef, AppendError> {
    let t = Timestamp(h.timestamp);
    match histogram_from_proto(h) {
        AnyHistogram::Int(h) => a.append(hint, labels, t, Sample::Histogram(&h)),
        AnyHistogram::Float(h) => a.append(hint, labels, t, Sample::FloatHistogram(&h)),
    }
}

fn write_v1(app: &dyn Appendable, req: &WriteRequest, metrics: &WriteMetrics) -> Response {
    let mut a = app.appender();
    for ts in &req.timeseries {
        let pairs = ts
            .labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()));
        let Ok(labels) = series_labels(pairs) else {
            metrics.invalid(ts.samples.len() + ts.histograms.len());
            continue;
        };
        let mut hint = None;
        for s in &ts.samples {
            match a.append(
                hint,
                &labels,
                Timestamp(s.timestamp),
                Sample::Float(s.value),
            ) {
                Ok(r) => hint = nonzero(r).or(hint),
                Err(e) => {
                    a.rollback();
                    return Response::text(if is_bad_request(&e) { 400 } else { 500 }, e);
                }
            }
        }
        for e in &ts.exemplars {
            let ex = Exemplar {
                labels: loose_labels(e.labels.iter().map(|l| (l.name.as_str(), l.value.as_str()))),
                value: e.value,
                timestamp: Timestamp(e.timestamp),
            };
            // Exemplar errors never fail the request (Prometheus).
            if let Ok(r) = a.append_exemplar(hint, &labels, &ex) {
                hint = nonzero(r).or(hint);
            }
        }
        for h in &ts.histograms {
            match append_histogram(a.as_mut(), hint, &labels, h) {
                Ok(r) => hint = nonzero(r).or(hint),
                Err(e) => {
                    a.rollback();
                    return Response::text(if is_bad_request(&e) { 400 } else { 500 }, e);
                }
            }
        }
    }
    match a.commit() {
        Ok(()) => Response::empty(204),
        Err(e) => Response::text(500, e),
    }
}

/// The pairs named by `refs` in `symbols`.
fn resolve<'a>(refs: &[u32], symbols: &'a [String]) -> Result<Vec<(&'a str, &'a str)>, String> {
    if !refs.len().is_multiple_of(2) {
        return Err(format!("invalid labels_refs length {}", refs.len()));
    }
    let sym = |r: u32| {
        symbols.get(r as usize).map(String::as_str).ok_or_else(|| {
            format!(
                "labels_refs index {r} out of range of {} symbols",
                symbols.len()
            )
        })
    };
    refs.chunks_exact(2)
        .map(|p| Ok((sym(p[0])?, sym(p[1])?)))
        .collect()
}

/// `{a="b", ...}` of raw pairs, for messages about invalid label sets.
fn pairs_string(pairs: &[(&str, &str)]) -> String {
    let mut s = String::from("{");
    for (i, (n, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(n);
        s.push('=');
        let _ = write_go_quoted(&mut s, v);
    }
    s.push('}');
    s
}

fn write_v2(app: &dyn Appendable, req: &v2::Request, metrics: &WriteMetrics) -> Response {
    let mut stats = WriteStats::default();
    let mut bad: Vec<String> = Vec::new();
    let mut a = app.appender();
    let sym = |r: u32| req.symbols.get(r as usize).cloned().unwrap_or_default();
    for ts in &req.timeseries {
        let pairs = match resolve(&ts.labels_refs, &req.symbols) {
            Ok(p) => p,
            Err(e) => {
                bad.push(format!(
                    "parsing labels for series {:?}: {e}",
                    ts.labels_refs
                ));
                continue;
            }
        };
        let labels = match series_labels(pairs.iter().copied()) {
            Ok(l) => l,
            Err(reason) => {
                metrics.invalid(ts.samples.len() + ts.histograms.len());
                let mut sorted = pairs.clone();
                sorted.sort_by(|a, b| a.0.cmp(b.0));
                let got = pairs_string(&sorted);
                bad.push(match reason.strip_prefix("duplicated label ") {
                    Some(d) => {
                        format!("invalid labels for series, labels {got}, duplicated label {d}")
                    }
                    None => format!("invalid metric name or labels, got {got}"),
                });
                continue;
            }
        };
        let mut hint = None;
        for s in &ts.samples {
            match a.append(
                hint,
                &labels,
                Timestamp(s.timestamp),
                Sample::Float(s.value),
            ) {
                Ok(r) => {
                    hint = nonzero(r).or(hint);
                    stats.samples += 1;
                }
                Err(e) if is_bad_request(&e) => bad.push(format!("{e} for series {labels}")),
                Err(e) => return fail_v2(a, e),
            }
        }
        for h in &ts.histograms {
            match append_histogram(a.as_mut(), hint, &labels, h) {
                Ok(r) => {
                    hint = nonzero(r).or(hint);
                    stats.histograms += 1;
                }
                Err(e) if is_bad_request(&e) => bad.push(format!("{e} for series {labels}")),
                Err(e) => return fail_v2(a, e),
            }
        }
        for e in &ts.exemplars {
            let ex_pairs = match resolve(&e.labels_refs, &req.symbols) {
                Ok(p) => p,
                Err(err) => {
                    bad.push(format!("parsing exemplar for series {labels}: {err}"));
                    continue;
                }
            };
            let ex = Exemplar {
                labels: loose_labels(ex_pairs),
                value: e.value,
                timestamp: Timestamp(e.timestamp),
            };
            match a.append_exemplar(hint, &labels, &ex) {
                Ok(r) => {
                    hint = nonzero(r).or(hint);
                    stats.exemplars += 1;
                }
                Err(err @ AppendError::OutOfOrderExemplar) => {
                    bad.push(format!("{err} for series {labels}"));
                }
                // Other exemplar errors are dropped without failing the
                // request (Prometheus).
                Err(_) => {}
            }
        }
        let md = Metadata {
            kind: metric_type_of(ts.metadata.kind),
            help: sym(ts.metadata.help_ref),
            unit: sym(ts.metadata.unit_ref),
        };
        // Prometheus does not reject samples for metadata it cannot store.
        let _ = a.update_metadata(hint, &labels, &md);
    }
    if let Err(e) = a.commit() {
        let mut r = Response::text(500, e);
        WriteStats::default().headers(&mut r);
        return r;
    }
    let mut r = if bad.is_empty() {
        Response::empty(204)
    } else {
        Response::text(400, bad.join("\n"))
    };
    stats.headers(&mut r);
    r
}

fn fail_v2(a: Box<dyn Appender + '_>, e: AppendError) -> Response {
    a.rollback();
    let mut r = Response::text(500, e);
    WriteStats::default().headers(&mut r);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(parse_content_type(None), Ok(ProtoMsg::V1));
        assert_eq!(
            parse_content_type(Some("application/x-protobuf")),
            Ok(ProtoMsg::V1)
        );
        assert_eq!(
            parse_content_type(Some(
                "application/x-protobuf;proto=io.prometheus.write.v2.Request"
            )),
            Ok(ProtoMsg::V2)
        );
        assert_eq!(
            parse_content_type(Some("application/x-protobuf;proto=prometheus.WriteRequest")),
            Ok(ProtoMsg::V1)
        );
        assert_eq!(
            parse_content_type(Some("application/x-protobuf;proto=foo.Bar")),
            Err("got application/x-protobuf;proto=foo.Bar content type; unknown remote write protobuf message foo.Bar, supported: prometheus.WriteRequest, io.prometheus.write.v2.Request".into())
        );
        assert!(parse_content_type(Some("application/json")).is_err());
        assert!(parse_content_type(Some("application/x-protobuf;x")).is_err());
    }
}
