//! Remote read's `STREAMED_XOR_CHUNKS` response type, as Prometheus's
//! `StreamChunkedReadResponses` writes it: a stream of frames, each a
//! uvarint length, the CRC32 (Castagnoli, big-endian) of the message and a
//! `prometheus.ChunkedReadResponse` holding one series (a long series is
//! split over frames of about `max_bytes_in_frame`).
//!
//! Samples are read through the `storage` seam and re-encoded into chunks of
//! at most [`MAX_SAMPLES_PER_CHUNK`] samples by a [`ChunkEncoder`] the caller
//! passes in. This crate does not depend on `tsdb` (which owns the chunk
//! encodings): the `web` crate must not reach the TSDB through it, and the
//! binary, which already depends on `tsdb`, supplies the encoder. That keeps
//! one implementation of the XOR and histogram encodings, byte-compatible
//! with Prometheus's, instead of a second copy here.

use model::{FloatHistogram, Histogram, Labels};
use storage::{Queryable, SelectHints, ValueType};

use crate::convert::labels_to_proto;
use crate::prompb::{self, Chunk, ChunkedReadResponse, ChunkedSeries, Message, ReadRequest};
use crate::read::{matchers, with_external};

/// The response's content type.
pub const CONTENT_TYPE: &str =
    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";
/// Most samples per chunk (Prometheus's `seriesToChunkEncoder` split).
pub const MAX_SAMPLES_PER_CHUNK: usize = 120;
/// `--storage.remote.read-max-bytes-in-frame`'s default.
pub const DEFAULT_MAX_BYTES_IN_FRAME: usize = 1 << 20;

/// A run of one series' samples of one kind, in time order, at most
/// [`MAX_SAMPLES_PER_CHUNK`] long.
#[derive(Clone, Copy, Debug)]
pub enum Run<'a> {
    /// Floats (XOR chunks).
    Floats(&'a [(i64, f64)]),
    /// Integer histograms.
    Histograms(&'a [(i64, Histogram)]),
    /// Float histograms.
    FloatHistograms(&'a [(i64, FloatHistogram)]),
}

/// Encodes runs of samples as TSDB chunks (see the module docs for why it
/// is passed in).
pub trait ChunkEncoder: Send + Sync {
    /// Appends the chunks holding `run`'s samples to `out`: one, or more
    /// where the encoding must cut (histogram counter resets, layout
    /// changes). `min_time_ms`/`max_time_ms` are the first and last sample
    /// times of each chunk.
    fn encode(&self, run: Run<'_>, out: &mut Vec<Chunk>) -> Result<(), String>;
}

/// Appends one frame holding `msg` to `out`.
pub fn frame(msg: &[u8], out: &mut Vec<u8>) {
    let mut w = crate::wire::Writer::default();
    w.varint(msg.len() as u64);
    out.extend_from_slice(&w.buf);
    out.extend_from_slice(&crc32c::crc32c(msg).to_be_bytes());
    out.extend_from_slice(msg);
}

/// Splits a streamed response into its messages, checking each CRC (what
/// a client does; used by tests and tools).
pub fn read_frames(mut buf: &[u8]) -> Result<Vec<ChunkedReadResponse>, String> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let mut r = crate::wire::Reader::new(buf);
        let len = r.varint().map_err(|e| format!("frame length: {}", e.0))?;
        let header = buf.len() - r.remaining();
        let len = usize::try_from(len).map_err(|_| "frame length overflows".to_string())?;
        let end = header
            .checked_add(4)
            .and_then(|h| h.checked_add(len))
            .filter(|e| *e <= buf.len())
            .ok_or_else(|| format!("frame of {len} bytes is truncated"))?;
        let crc = u32::from_be_bytes([
            buf[header],
            buf[header + 1],
            buf[header + 2],
            buf[header + 3],
        ]);
        let msg = &buf[header + 4..end];
        if crc32c::crc32c(msg) != crc {
            return Err("frame checksum mismatch".into());
        }
        out.push(ChunkedReadResponse::decode(msg).map_err(|e| e.0)?);
        buf = &buf[end..];
    }
    Ok(out)
}

/// One series' pending samples and chunks.
struct SeriesFrames<'a> {
    encoder: &'a dyn ChunkEncoder,
    labels: Vec<prompb::Label>,
    query_index: i64,
    max_data: isize,
    left: isize,
    chunks: Vec<Chunk>,
    floats: Vec<(i64, f64)>,
    hists: Vec<(i64, Histogram)>,
    fhists: Vec<(i64, FloatHistogram)>,
}

impl SeriesFrames<'_> {
    /// Encodes the pending run, if any, and emits frames that are full.
    fn flush_run(&mut self, sink: &mut dyn FnMut(Vec<u8>) -> bool) -> Result<bool, String> {
        let before = self.chunks.len();
        if !self.floats.is_empty() {
            self.encoder
                .encode(Run::Floats(&self.floats), &mut self.chunks)?;
            self.floats.clear();
        } else if !self.hists.is_empty() {
            self.encoder
                .encode(Run::Histograms(&self.hists), &mut self.chunks)?;
            self.hists.clear();
        } else if !self.fhists.is_empty() {
            self.encoder
                .encode(Run::FloatHistograms(&self.fhists), &mut self.chunks)?;
            self.fhists.clear();
        }
        for c in &self.chunks[before..] {
            self.left -= c.encode().len() as isize;
        }
        if self.left <= 0 {
            return Ok(self.emit(sink));
        }
        Ok(true)
    }

    /// Sends the pending chunks as one frame; false if the sink is gone.
    fn emit(&mut self, sink: &mut dyn FnMut(Vec<u8>) -> bool) -> bool {
        self.left = self.max_data;
        if self.chunks.is_empty() {
            return true;
        }
        let msg = ChunkedReadResponse {
            chunked_series: vec![ChunkedSeries {
                labels: self.labels.clone(),
                chunks: std::mem::take(&mut self.chunks),
            }],
            query_index: self.query_index,
        }
        .encode();
        let mut out = Vec::with_capacity(msg.len() + 16);
        frame(&msg, &mut out);
        sink(out)
    }
}

/// Answers a decoded read request as a stream of frames handed to `sink`
/// (which returns false when the client went away; the stream then stops).
/// An error after the first frame can only end the stream: the caller logs
/// it and closes the connection, as Prometheus does.
pub fn stream_read(
    q: &dyn Queryable,
    req: &ReadRequest,
    external_labels: &Labels,
    max_bytes_in_frame: usize,
    encoder: &dyn ChunkEncoder,
    sink: &mut dyn FnMut(Vec<u8>) -> bool,
) -> Result<(), String> {
    let mut h = Histogram::default();
    let mut fh = FloatHistogram::default();
    for (index, query) in req.queries.iter().enumerate() {
        let ms = matchers(&query.matchers, external_labels)?;
        let querier = q
            .querier(query.start_timestamp_ms, query.end_timestamp_ms)
            .map_err(|e| e.to_string())?;
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
        let mut set = querier.select(true, hints.as_ref(), &ms);
        while let Some(series) = set.next() {
            let series = series.map_err(|e| e.to_string())?;
            let labels = labels_to_proto(&with_external(series.labels(), external_labels));
            let label_bytes: usize = labels.iter().map(|l| l.encode().len()).sum();
            let max_data = max_bytes_in_frame as isize - label_bytes as isize;
            let mut f = SeriesFrames {
                encoder,
                labels,
                query_index: index as i64,
                max_data,
                left: max_data,
                chunks: Vec::new(),
                floats: Vec::new(),
                hists: Vec::new(),
                fhists: Vec::new(),
            };
            let mut it = series.iterator();
            loop {
                let vt = it.next();
                let pending = f.floats.len() + f.hists.len() + f.fhists.len();
                let switch = match vt {
                    ValueType::Float => !f.hists.is_empty() || !f.fhists.is_empty(),
                    ValueType::Histogram => !f.floats.is_empty() || !f.fhists.is_empty(),
                    ValueType::FloatHistogram => !f.floats.is_empty() || !f.hists.is_empty(),
                    ValueType::None => true,
                };
                if (switch || pending >= MAX_SAMPLES_PER_CHUNK) && !f.flush_run(sink)? {
                    return Ok(());
                }
                match vt {
                    ValueType::Float => f.floats.push(it.at()),
                    ValueType::Histogram => {
                        let t = it.at_histogram(&mut h);
                        f.hists.push((t, h.clone()));
                    }
                    ValueType::FloatHistogram => {
                        let t = it.at_float_histogram(&mut fh);
                        f.fhists.push((t, fh.clone()));
                    }
                    ValueType::None => break,
                }
            }
            if let Some(e) = it.err() {
                return Err(e.to_string());
            }
            if !f.emit(sink) {
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use storage::vec::{Value, VecQuerier, VecSeries};

    /// Stores runs as "kind:count" so tests see how samples were grouped.
    struct Fake;

    impl ChunkEncoder for Fake {
        fn encode(&self, run: Run<'_>, out: &mut Vec<Chunk>) -> Result<(), String> {
            let (kind, ts): (i32, Vec<i64>) = match run {
                Run::Floats(s) => (1, s.iter().map(|x| x.0).collect()),
                Run::Histograms(s) => (2, s.iter().map(|x| x.0).collect()),
                Run::FloatHistograms(s) => (3, s.iter().map(|x| x.0).collect()),
            };
            out.push(Chunk {
                min_time_ms: ts[0],
                max_time_ms: ts[ts.len() - 1],
                kind,
                data: vec![0; ts.len()],
            });
            Ok(())
        }
    }

    struct Store(Vec<VecSeries>);

    impl Queryable for Store {
        fn querier(
            &self,
            mint: i64,
            maxt: i64,
        ) -> Result<Box<dyn storage::Querier + '_>, storage::StorageError> {
            Ok(Box::new(VecQuerier::new(self.0.clone(), mint, maxt)))
        }
    }

    fn request() -> ReadRequest {
        ReadRequest {
            queries: vec![prompb::Query {
                start_timestamp_ms: 0,
                end_timestamp_ms: 1_000_000,
                matchers: vec![prompb::LabelMatcher {
                    kind: 2,
                    name: "__name__".into(),
                    value: ".+".into(),
                }],
                hints: None,
            }],
            accepted_response_types: vec![prompb::RESPONSE_STREAMED_XOR_CHUNKS],
        }
    }

    #[test]
    fn runs_cut_at_120_samples_and_kind_changes_frames_at_the_byte_limit() {
        let mut samples: Vec<(i64, Value)> = (0..250).map(|t| (t, Value::Float(1.0))).collect();
        samples.extend((250..260).map(|t| {
            (
                t,
                Value::Histogram(std::sync::Arc::new(Histogram::default())),
            )
        }));
        samples.extend((260..265).map(|t| (t, Value::Float(2.0))));
        let store = Store(vec![VecSeries::new(
            Labels::from_pairs([("__name__", "a")]),
            samples,
        )]);
        let mut frames = Vec::new();
        let mut sink = |f: Vec<u8>| {
            frames.push(f);
            true
        };
        stream_read(
            &store,
            &request(),
            &Labels::empty(),
            1 << 20,
            &Fake,
            &mut sink,
        )
        .unwrap();
        let msgs = read_frames(&frames.concat()).unwrap();
        assert_eq!(msgs.len(), 1);
        let runs: Vec<(i32, usize)> = msgs[0].chunked_series[0]
            .chunks
            .iter()
            .map(|c| (c.kind, c.data.len()))
            .collect();
        assert_eq!(runs, vec![(1, 120), (1, 120), (1, 10), (2, 10), (1, 5)]);

        // A small frame limit splits the series, each frame with its labels.
        frames.clear();
        let mut sink = |f: Vec<u8>| {
            frames.push(f);
            true
        };
        stream_read(&store, &request(), &Labels::empty(), 100, &Fake, &mut sink).unwrap();
        let msgs = read_frames(&frames.concat()).unwrap();
        let per_frame: Vec<usize> = msgs
            .iter()
            .map(|m| m.chunked_series[0].chunks.len())
            .collect();
        assert_eq!(
            per_frame,
            vec![1, 1, 3],
            "full chunks alone, small ones together"
        );
        assert!(
            msgs.iter()
                .all(|m| m.chunked_series[0].labels[0].value == "a")
        );

        // A client gone away stops the stream.
        let mut calls = 0;
        let mut sink = |_: Vec<u8>| {
            calls += 1;
            false
        };
        stream_read(&store, &request(), &Labels::empty(), 200, &Fake, &mut sink).unwrap();
        assert_eq!(calls, 1);
    }

    #[test]
    fn frames_round_trip_and_detect_corruption() {
        let msg = ChunkedReadResponse {
            chunked_series: vec![ChunkedSeries {
                labels: vec![prompb::Label {
                    name: "__name__".into(),
                    value: "up".into(),
                }],
                chunks: vec![Chunk {
                    min_time_ms: 1,
                    max_time_ms: 2,
                    kind: prompb::chunk_encoding::XOR,
                    data: vec![0, 2, 3],
                }],
            }],
            query_index: 3,
        };
        let mut buf = Vec::new();
        frame(&msg.encode(), &mut buf);
        frame(&msg.encode(), &mut buf);
        assert_eq!(read_frames(&buf), Ok(vec![msg.clone(), msg]));
        let last = buf.len() - 1;
        buf[last] ^= 1;
        assert_eq!(read_frames(&buf), Err("frame checksum mismatch".into()));
        assert!(read_frames(&buf[..buf.len() - 3]).is_err());
    }
}
