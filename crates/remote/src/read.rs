//! Remote read (`/api/v1/read`), as Prometheus's
//! `storage/remote/read_handler.go` behaves, for the `SAMPLES` response
//! type. `STREAMED_XOR_CHUNKS` is not offered: a client accepting only it
//! gets Prometheus's 400 for an unsupported response type; a client
//! listing both gets samples.

use model::matcher::{MatchOp, Matcher};
use model::{FloatHistogram, Histogram, Labels, LabelsBuilder};
use storage::{Queryable, SelectHints, ValueType};

use crate::convert::{float_histogram_to_proto, histogram_to_proto, labels_to_proto};
use crate::prompb::{
    self, Message, QueryResult, RESPONSE_SAMPLES, RESPONSE_STREAMED_XOR_CHUNKS, ReadRequest,
    ReadResponse, TimeSeries,
};
use crate::{Response, decompress};

/// Remote read limits.
#[derive(Clone, Debug)]
pub struct ReadLimits {
    /// Largest decompressed request, bytes (Prometheus reads at most
    /// 32 MiB of request).
    pub max_decompressed_bytes: usize,
    /// Most samples in one response, 0 for no limit
    /// (`--storage.remote.read-sample-limit`, default 5e7).
    pub sample_limit: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_decompressed_bytes: 32 << 20,
            sample_limit: 50_000_000,
        }
    }
}

fn response_type_name(t: i32) -> String {
    match t {
        RESPONSE_SAMPLES => "SAMPLES".into(),
        RESPONSE_STREAMED_XOR_CHUNKS => "STREAMED_XOR_CHUNKS".into(),
        n => n.to_string(),
    }
}

/// Picks the response type (`NegotiateResponseType`); only `SAMPLES` is
/// supported here.
pub fn negotiate(accepted: &[i32]) -> Result<i32, String> {
    if accepted.is_empty() || accepted.contains(&RESPONSE_SAMPLES) {
        return Ok(RESPONSE_SAMPLES);
    }
    let names: Vec<String> = accepted.iter().map(|t| response_type_name(*t)).collect();
    Err(format!(
        "server does not support any of the requested response types: [{}]; supported: map[SAMPLES:{{}}]",
        names.join(" ")
    ))
}

/// The model matchers of a query, with equality matchers on an external
/// label's own value turned into `name=""` (`filterExtLabelsFromMatchers`).
fn matchers(pb: &[prompb::LabelMatcher], external: &Labels) -> Result<Vec<Matcher>, String> {
    pb.iter()
        .map(|m| {
            let op = match m.kind {
                0 => MatchOp::Equal,
                1 => MatchOp::NotEqual,
                2 => MatchOp::RegexMatch,
                3 => MatchOp::RegexNoMatch,
                _ => return Err("invalid matcher type".to_string()),
            };
            if op == MatchOp::Equal && external.get(&m.name).unwrap_or("") == m.value {
                return Ok(Matcher::equal(m.name.clone(), ""));
            }
            Matcher::new(op, m.name.clone(), m.value.clone()).map_err(|e| e.to_string())
        })
        .collect()
}

/// Series labels with the external labels added; the series' own win.
fn with_external(l: &Labels, external: &Labels) -> Labels {
    if external.is_empty() {
        return l.clone();
    }
    let mut b = LabelsBuilder::new();
    for (n, v) in external.iter() {
        if !l.has(n) {
            b.set(n, v);
        }
    }
    for (n, v) in l.iter() {
        b.set(n, v);
    }
    b.labels()
}

/// Why a query failed: status and text.
struct Failure(u16, String);

fn run_query(
    q: &dyn Queryable,
    query: &prompb::Query,
    external: &Labels,
    limits: &ReadLimits,
    samples_so_far: &mut usize,
) -> Result<QueryResult, Failure> {
    let ms = matchers(&query.matchers, external).map_err(|e| Failure(500, e))?;
    let querier = q
        .querier(query.start_timestamp_ms, query.end_timestamp_ms)
        .map_err(|e| Failure(500, e.to_string()))?;
    let hints = query.hints.as_ref().map(|h| SelectHints {
        start: h.start_ms,
        end: h.end_ms,
        step: h.step_ms,
        func: h.func.clone(),
        grouping: h.grouping.clone(),
        range: h.range_ms,
        by: h.by,
        limit: 0,
    });
    let mut set = querier.select(false, hints.as_ref(), &ms);
    let mut out = QueryResult::default();
    let mut h = Histogram::default();
    let mut fh = FloatHistogram::default();
    while let Some(series) = set.next() {
        let series = series.map_err(|e| Failure(500, e.to_string()))?;
        let mut ts = TimeSeries {
            labels: labels_to_proto(&with_external(series.labels(), external)),
            ..TimeSeries::default()
        };
        let mut it = series.iterator();
        loop {
            let vt = it.next();
            if vt == ValueType::None {
                break;
            }
            *samples_so_far += 1;
            if limits.sample_limit > 0 && *samples_so_far > limits.sample_limit {
                return Err(Failure(
                    400,
                    format!("exceeded sample limit ({})", limits.sample_limit),
                ));
            }
            match vt {
                ValueType::Float => {
                    let (t, v) = it.at();
                    ts.samples.push(prompb::Sample {
                        value: v,
                        timestamp: t,
                    });
                }
                ValueType::Histogram => {
                    let t = it.at_histogram(&mut h);
                    ts.histograms.push(histogram_to_proto(t, &h));
                }
                ValueType::FloatHistogram => {
                    let t = it.at_float_histogram(&mut fh);
                    ts.histograms.push(float_histogram_to_proto(t, &fh));
                }
                ValueType::None => break,
            }
        }
        if let Some(e) = it.err() {
            return Err(Failure(500, e.to_string()));
        }
        out.timeseries.push(ts);
    }
    Ok(out)
}

/// Handles one remote read request (a snappy-compressed
/// `prometheus.ReadRequest`) and answers a snappy-compressed
/// `prometheus.ReadResponse`. Decode errors and unsupported response types
/// answer 400, the sample limit 400, storage errors 500.
pub fn handle_read(
    q: &dyn Queryable,
    body: &[u8],
    external_labels: &Labels,
    limits: &ReadLimits,
) -> Response {
    let raw = match decompress(body, limits.max_decompressed_bytes) {
        Ok(r) => r,
        Err(e) => return Response::text(400, e),
    };
    let req = match ReadRequest::decode(&raw) {
        Ok(r) => r,
        Err(e) => return Response::text(400, e.0),
    };
    if let Err(e) = negotiate(&req.accepted_response_types) {
        return Response::text(400, e);
    }
    let mut resp = ReadResponse::default();
    let mut n = 0usize;
    for query in &req.queries {
        match run_query(q, query, external_labels, limits, &mut n) {
            Ok(r) => resp.results.push(r),
            Err(Failure(status, msg)) => return Response::text(status, msg),
        }
    }
    let encoded = resp.encode();
    match snap::raw::Encoder::new().compress_vec(&encoded) {
        Ok(body) => Response {
            status: 200,
            headers: vec![
                ("Content-Type", "application/x-protobuf".into()),
                ("Content-Encoding", "snappy".into()),
            ],
            body,
        },
        Err(e) => Response::text(500, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(&[]), Ok(RESPONSE_SAMPLES));
        assert_eq!(
            negotiate(&[RESPONSE_STREAMED_XOR_CHUNKS, RESPONSE_SAMPLES]),
            Ok(RESPONSE_SAMPLES)
        );
        assert_eq!(
            negotiate(&[RESPONSE_STREAMED_XOR_CHUNKS]),
            Err("server does not support any of the requested response types: [STREAMED_XOR_CHUNKS]; supported: map[SAMPLES:{}]".into())
        );
    }

    #[test]
    fn external_labels_merge() {
        let ext = Labels::from_pairs([("replica", "a"), ("zone", "z")]);
        let l = Labels::from_pairs([("__name__", "up"), ("zone", "own")]);
        assert_eq!(
            with_external(&l, &ext),
            Labels::from_pairs([("__name__", "up"), ("replica", "a"), ("zone", "own")])
        );
        let ms = matchers(
            &[prompb::LabelMatcher {
                kind: 0,
                name: "replica".into(),
                value: "a".into(),
            }],
            &ext,
        );
        assert_eq!(ms.map(|m| m[0].value().to_string()), Ok(String::new()));
    }
}
