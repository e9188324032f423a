//! Prometheus's remote write receiver (1.0 and 2.0) and remote read
//! endpoint, as pure request handling over the `storage` seams.
//!
//! Synchronous: the web layer reads the body and calls [`handle_write`] or
//! [`handle_read`] on the blocking pool, then turns the returned
//! [`Response`] into HTTP. Codecs are hand-written ([`wire`] for the
//! protobuf wire format, [`prompb`] for the messages); snappy is the
//! block format (`snap::raw`), as Prometheus's.
//!
//! Bounds: the decompressed size is checked from snappy's header before
//! anything is allocated ([`Limits`], [`read::ReadLimits`]); the web layer
//! bounds the compressed body. Remote read streams `STREAMED_XOR_CHUNKS`
//! ([`stream`]) with a chunk encoder the caller supplies (the encodings live
//! in `tsdb`, which this crate does not depend on). Not implemented: the
//! remote write *sender*, and storing 1.0 metadata or 2.0 created
//! timestamps (Prometheus does neither by default).

pub mod convert;
pub mod prompb;
pub mod read;
pub mod stream;
pub mod wire;
pub mod write;

use std::fmt::Display;

pub use read::{ReadLimits, ReadPlan, answer_samples, handle_read, plan_read};
pub use stream::{ChunkEncoder, Run, stream_read};
pub use write::{ProtoMsg, WriteStats, handle_write, parse_content_type};

/// Remote write limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest decompressed request, bytes (default 32 MiB).
    pub max_decompressed_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decompressed_bytes: 32 << 20,
        }
    }
}

/// The receiver's counters, exposed by the web layer as Prometheus's
/// `prometheus_api_remote_write_*`.
#[derive(Debug, Default)]
pub struct WriteMetrics {
    /// Samples and histogram samples refused for invalid labels.
    pub invalid_labels_samples: std::sync::atomic::AtomicU64,
}

impl WriteMetrics {
    fn invalid(&self, n: usize) {
        self.invalid_labels_samples
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

/// An HTTP answer, independent of the web framework.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers to set.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A plain-text error as Go's `http.Error` writes it (text, newline).
    pub fn text(status: u16, msg: impl Display) -> Response {
        Response {
            status,
            headers: vec![
                ("Content-Type", "text/plain; charset=utf-8".into()),
                ("X-Content-Type-Options", "nosniff".into()),
            ],
            body: format!("{msg}\n").into_bytes(),
        }
    }

    /// A response without a body.
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// The value of header `name` (case-insensitive), if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn snappy_error(e: &snap::Error) -> String {
    match e {
        snap::Error::TooBig { .. } => "snappy: decoded block is too large".into(),
        _ => "snappy: corrupt input".into(),
    }
}

/// Decompresses a snappy block, refusing (before allocating) one that
/// would exceed `limit` bytes. Errors use Go snappy's texts.
pub fn decompress(body: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let n = snap::raw::decompress_len(body).map_err(|e| snappy_error(&e))?;
    if n > limit {
        return Err(format!(
            "decompressed request of {n} bytes exceeds the limit of {limit} bytes"
        ));
    }
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| snappy_error(&e))
}

/// Snappy-compresses a block (for clients and tests).
pub fn compress(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new()
        .compress_vec(raw)
        .unwrap_or_default()
}
