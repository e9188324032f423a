//! Remote read (`/api/v1/read`), as Prometheus's
//! `storage/remote/read_handler.go` behaves: [`plan_read`] decodes the
//! request and negotiates the response type (the first accepted one the
//! server supports); [`answer_samples`] answers `SAMPLES` with one
//! snappy-compressed `ReadResponse`; `STREAMED_XOR_CHUNKS` is answered by
//! [`crate::stream::stream_read`] when the caller has a chunk encoder, and
//! is otherwise not offered (a client accepting only it gets Prometheus's
//! 400 for an unsupported response type).

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

/// Picks the response type (`NegotiateResponseType`): the first accepted
/// type the server supports; `SAMPLES` when none is listed. `streaming`
/// says whether `STREAMED_XOR_CHUNKS` is supported.
pub fn negotiate(accepted: &[i32], streaming: bool) -> Result<i32, String> {
    if accepted.is_empty() {
        return Ok(RESPONSE_SAMPLES);
    }
    let supported =
        |t: i32| t == RESPONSE_SAMPLES || (streaming && t == RESPONSE_STREAMED_XOR_CHUNKS);
    if let Some(t) = accepted.iter().copied().find(|t| supported(*t)) {
        return Ok(t);
    }
    let names: Vec<String> = accepted.iter().map(|t| response_type_name(*t)).collect();
    let supported = if streaming {
        "map[SAMPLES:{} STREAMED_XOR_CHUNKS:{}]"
    } else {
        "map[SAMPLES:{}]"
    };
    Err(format!(
        "server does not support any of the requested response types: [{}]; supported: {supported}",
        names.join(" ")
    ))
}

/// A decoded read request and the response type to answer with.
#[derive(Clone, Debug)]
pub struct ReadPlan {
    /// The request.
    pub request: ReadRequest,
    /// [`RESPONSE_SAMPLES`] or [`RESPONSE_STREAMED_XOR_CHUNKS`].
    pub response_type: i32,
}

/// Decompresses and decodes a request and negotiates its response type;
/// errors are Prometheus's 400 answers.
pub fn plan_read(body: &[u8], limits: &ReadLimits, streaming: bool) -> Result<ReadPlan, Response> {
    let raw =
        decompress(body, limits.max_decompressed_bytes).map_err(|e| Response::text(400, e))?;
    let request = ReadRequest::decode(&raw).map_err(|e| Response::text(400, e.0))?;
    let response_type = negotiate(&request.accepted_response_types, streaming)
        .map_err(|e| Response::text(400, e))?;
    Ok(ReadPlan {
        request,
        response_type,
    })
}

/// The model matchers of a query, with equality matchers on an external
/// label's own value turned into `name=""` (`filterExtLabelsFromMatchers`).
pub(crate) fn matchers(
    pb: &[prompb::LabelMatcher],
    external: &Labels,
) -> Result<Vec<Matcher>, String> {
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
pub(crate) fn with_external(l: &Labels, external: &Labels) -> Labels {
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
/// `prometheus.ReadResponse`, offering `SAMPLES` only. Decode errors and
/// unsupported response types answer 400, the sample limit 400, storage
/// errors 500.
pub fn handle_read(
    q: &dyn Queryable,
    body: &[u8],
    external_labels: &Labels,
    limits: &ReadLimits,
) -> Response {
    match plan_read(body, limits, false) {
        Ok(plan) => answer_samples(q, &plan.request, external_labels, limits),
        Err(r) => r,
    }
}

/// Answers a decoded request with `SAMPLES`.
pub fn answer_samples(
    q: &dyn Queryable,
    req: &ReadRequest,
    external_labels: &Labels,
    limits: &ReadLimits,
) -> Response {
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
        assert_eq!(negotiate(&[], true), Ok(RESPONSE_SAMPLES));
        assert_eq!(
            negotiate(&[RESPONSE_STREAMED_XOR_CHUNKS, RESPONSE_SAMPLES], false),
            Ok(RESPONSE_SAMPLES)
        );
        assert_eq!(
            negotiate(&[RESPONSE_STREAMED_XOR_CHUNKS, RESPONSE_SAMPLES], true),
            Ok(RESPONSE_STREAMED_XOR_CHUNKS)
        );
        assert_eq!(
            negotiate(&[RESPONSE_SAMPLES, RESPONSE_STREAMED_XOR_CHUNKS], true),
            Ok(RESPONSE_SAMPLES)
        );
        assert_eq!(
            negotiate(&[RESPONSE_STREAMED_XOR_CHUNKS], false),
            Err("server does not support any of the requested response types: [STREAMED_XOR_CHUNKS]; supported: map[SAMPLES:{}]".into())
        );
        assert_eq!(
            negotiate(&[7], true),
            Err("server does not support any of the requested response types: [7]; supported: map[SAMPLES:{} STREAMED_XOR_CHUNKS:{}]".into())
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
