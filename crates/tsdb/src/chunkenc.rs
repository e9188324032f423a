//! Chunk encodings, byte-compatible with Prometheus's `tsdb/chunkenc`.
//!
//! A chunk is a short compressed run of one series' samples: [`XorChunk`]
//! for floats (Gorilla XOR values, delta-of-delta timestamps),
//! [`HistogramChunk`] for integer native histograms and
//! [`FloatHistogramChunk`] for float ones. Each chunk type is its own
//! encoder: `append` adds a sample, `from_bytes` reopens stored bytes for
//! appending (decoding them to rebuild the encoder state), `bytes` is what
//! goes to disk. Iterators decode borrowed bytes (e.g. a memory-mapped file)
//! and never panic: corrupt input stops them with an [`Error`].
//!
//! [`CutPolicy`] decides when the head cuts a new chunk, as Prometheus's
//! head does. Timestamps here are plain `i64` milliseconds, the unit the
//! format stores. The byte layouts are described in `docs/format/chunks.md`.

mod bstream;
mod cut;
mod float_histogram;
mod histogram;
mod histogram_meta;
mod varbit;
mod xor;

use model::histogram::{FloatHistogram, Histogram};

pub use cut::{
    ChunkStats, CutPolicy, CutState, DEFAULT_CHUNK_RANGE, DEFAULT_SAMPLES_PER_CHUNK, Decision,
    MAX_BYTES_PER_XOR_CHUNK, MAX_BYTES_PER_XOR_CHUNK_BEFORE_APPEND,
    MIN_SAMPLES_PER_HISTOGRAM_CHUNK, TARGET_BYTES_PER_HISTOGRAM_CHUNK, compute_chunk_end_time,
    range_for_timestamp,
};
pub use float_histogram::{FloatHistogramChunk, FloatHistogramIterator};
pub use histogram::{HistogramChunk, HistogramIterator};
pub use histogram_meta::CounterResetHeader;
pub use xor::{XorChunk, XorIterator};

/// Errors decoding or appending to a chunk.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The bit stream ended inside a sample.
    #[error("decode chunk: unexpected end of data")]
    UnexpectedEof,
    /// The data is not a valid encoding.
    #[error("decode chunk: {0}")]
    Corrupt(&'static str),
    /// The chunk is shorter than its header.
    #[error("decode chunk: {len} bytes, need at least {need}")]
    TooShort {
        /// Bytes present.
        len: usize,
        /// Bytes the header needs.
        need: usize,
    },
    /// The encoding byte names no encoding we read.
    #[error("decode chunk: unknown or unsupported encoding {0}")]
    UnknownEncoding(u8),
    /// A histogram chunk has a schema outside -9..=8 and -53.
    #[error("decode histogram chunk: unsupported schema {0}")]
    UnknownSchema(i32),
    /// The chunk already holds 65535 samples.
    #[error("append to chunk: chunk holds the maximum of 65535 samples")]
    ChunkFull,
    /// The histogram to append is malformed.
    #[error("append histogram: {0}")]
    InvalidHistogram(&'static str),
}

/// A chunk encoding, with Prometheus's byte values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Encoding {
    /// Gorilla XOR floats.
    Xor = 1,
    /// Integer native histograms.
    Histogram = 2,
    /// Float native histograms.
    FloatHistogram = 3,
}

impl Encoding {
    /// The byte stored on disk.
    pub fn byte(self) -> u8 {
        self as u8
    }

    /// The encoding for a stored byte. Prometheus 3's `XOR2` (4) and
    /// start-timestamp histogram encodings (5, 6) are not supported.
    pub fn from_byte(b: u8) -> Result<Encoding, Error> {
        match b {
            1 => Ok(Encoding::Xor),
            2 => Ok(Encoding::Histogram),
            3 => Ok(Encoding::FloatHistogram),
            _ => Err(Error::UnknownEncoding(b)),
        }
    }
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Encoding::Xor => "XOR",
            Encoding::Histogram => "histogram",
            Encoding::FloatHistogram => "floathistogram",
        })
    }
}

/// What an iterator is positioned on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// Nothing: the end, or an error (see the iterator's `err`).
    None,
    /// A float sample.
    Float,
    /// An integer histogram.
    Histogram,
    /// A float histogram.
    FloatHistogram,
}

/// The result of appending a histogram.
#[derive(Debug)]
pub enum HistogramAppend<C> {
    /// The sample went into the chunk as it was.
    InPlace,
    /// New buckets appeared: the chunk was re-encoded with the wider layout
    /// and the sample appended. The chunk's bytes were replaced.
    Recoded,
    /// The sample could not join this chunk (counter reset, layout or kind
    /// change, or after a stale marker); it starts this new chunk, which the
    /// series must continue with. The old chunk is unchanged and complete.
    NewChunk(C),
}

/// A chunk of any encoding.
#[derive(Clone, Debug)]
pub enum Chunk {
    /// Floats.
    Xor(XorChunk),
    /// Integer histograms.
    Histogram(HistogramChunk),
    /// Float histograms.
    FloatHistogram(FloatHistogramChunk),
}

impl Chunk {
    /// An empty chunk of the encoding.
    pub fn new(e: Encoding) -> Chunk {
        match e {
            Encoding::Xor => Chunk::Xor(XorChunk::new()),
            Encoding::Histogram => Chunk::Histogram(HistogramChunk::new()),
            Encoding::FloatHistogram => Chunk::FloatHistogram(FloatHistogramChunk::new()),
        }
    }

    /// Reopens stored bytes for appending (decodes them all).
    pub fn from_bytes(e: Encoding, bytes: Vec<u8>) -> Result<Chunk, Error> {
        Ok(match e {
            Encoding::Xor => Chunk::Xor(XorChunk::from_bytes(bytes)?),
            Encoding::Histogram => Chunk::Histogram(HistogramChunk::from_bytes(bytes)?),
            Encoding::FloatHistogram => {
                Chunk::FloatHistogram(FloatHistogramChunk::from_bytes(bytes)?)
            }
        })
    }

    /// The encoding.
    pub fn encoding(&self) -> Encoding {
        match self {
            Chunk::Xor(_) => Encoding::Xor,
            Chunk::Histogram(_) => Encoding::Histogram,
            Chunk::FloatHistogram(_) => Encoding::FloatHistogram,
        }
    }

    /// The stored bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Xor(c) => c.bytes(),
            Chunk::Histogram(c) => c.bytes(),
            Chunk::FloatHistogram(c) => c.bytes(),
        }
    }

    /// Number of samples.
    pub fn num_samples(&self) -> usize {
        xor::num_samples(self.bytes())
    }

    /// An iterator over the samples.
    pub fn iter(&self) -> ChunkIter<'_> {
        match self {
            Chunk::Xor(c) => ChunkIter::Xor(c.iter()),
            Chunk::Histogram(c) => ChunkIter::Histogram(c.iter()),
            Chunk::FloatHistogram(c) => ChunkIter::FloatHistogram(c.iter()),
        }
    }
}

/// An iterator over a chunk of any encoding, on borrowed bytes.
#[derive(Clone, Debug)]
pub enum ChunkIter<'a> {
    /// Floats.
    Xor(XorIterator<'a>),
    /// Integer histograms.
    Histogram(HistogramIterator<'a>),
    /// Float histograms.
    FloatHistogram(FloatHistogramIterator<'a>),
}

impl<'a> ChunkIter<'a> {
    /// An iterator over stored chunk bytes of the given encoding.
    pub fn new(e: Encoding, bytes: &'a [u8]) -> Result<ChunkIter<'a>, Error> {
        Ok(match e {
            Encoding::Xor => ChunkIter::Xor(XorIterator::new(bytes)?),
            Encoding::Histogram => ChunkIter::Histogram(HistogramIterator::new(bytes)?),
            Encoding::FloatHistogram => {
                ChunkIter::FloatHistogram(FloatHistogramIterator::new(bytes)?)
            }
        })
    }

    /// Advances to the next sample.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> ValueType {
        match self {
            ChunkIter::Xor(it) => it.next(),
            ChunkIter::Histogram(it) => it.next(),
            ChunkIter::FloatHistogram(it) => it.next(),
        }
    }

    /// Advances to the first sample at or after `t`.
    pub fn seek(&mut self, t: i64) -> ValueType {
        match self {
            ChunkIter::Xor(it) => it.seek(t),
            ChunkIter::Histogram(it) => it.seek(t),
            ChunkIter::FloatHistogram(it) => it.seek(t),
        }
    }

    /// The current timestamp.
    pub fn at_t(&self) -> i64 {
        match self {
            ChunkIter::Xor(it) => it.at_t(),
            ChunkIter::Histogram(it) => it.at_t(),
            ChunkIter::FloatHistogram(it) => it.at_t(),
        }
    }

    /// The current float sample; `None` on a histogram chunk.
    pub fn at(&self) -> Option<(i64, f64)> {
        match self {
            ChunkIter::Xor(it) => Some(it.at()),
            _ => None,
        }
    }

    /// Copies the current integer histogram into `h`; `None` unless this is
    /// an integer-histogram chunk.
    pub fn at_histogram(&self, h: &mut Histogram) -> Option<i64> {
        match self {
            ChunkIter::Histogram(it) => Some(it.at_histogram(h)),
            _ => None,
        }
    }

    /// Copies the current histogram as a float histogram into `fh`; works
    /// on both histogram encodings, `None` on floats.
    pub fn at_float_histogram(&self, fh: &mut FloatHistogram) -> Option<i64> {
        match self {
            ChunkIter::Histogram(it) => Some(it.at_float_histogram(fh)),
            ChunkIter::FloatHistogram(it) => Some(it.at_float_histogram(fh)),
            ChunkIter::Xor(_) => None,
        }
    }

    /// The error that stopped iteration, if any.
    pub fn err(&self) -> Option<&Error> {
        match self {
            ChunkIter::Xor(it) => it.err(),
            ChunkIter::Histogram(it) => it.err(),
            ChunkIter::FloatHistogram(it) => it.err(),
        }
    }
}

/// Decodes the samples of a stored chunk within `[mint, maxt]` into `out`,
/// leaving out those `skip` names (deleted ones). Histograms are boxed
/// once each; floats are copied.
pub fn decode_range(
    e: Encoding,
    bytes: &[u8],
    mint: i64,
    maxt: i64,
    skip: impl Fn(i64) -> bool,
    out: &mut Vec<(i64, storage::vec::Value)>,
) -> Result<(), Error> {
    use std::sync::Arc;
    use storage::vec::Value;
    let mut it = ChunkIter::new(e, bytes)?;
    let mut vt = it.seek(mint);
    loop {
        let t = it.at_t();
        if vt == ValueType::None || t > maxt {
            break;
        }
        if !skip(t) {
            match vt {
                ValueType::Float => {
                    if let Some((t, v)) = it.at() {
                        out.push((t, Value::Float(v)));
                    }
                }
                ValueType::Histogram => {
                    let mut h = Histogram::default();
                    if let Some(t) = it.at_histogram(&mut h) {
                        out.push((t, Value::Histogram(Arc::new(h))));
                    }
                }
                ValueType::FloatHistogram => {
                    let mut h = FloatHistogram::default();
                    if let Some(t) = it.at_float_histogram(&mut h) {
                        out.push((t, Value::FloatHistogram(Arc::new(h))));
                    }
                }
                ValueType::None => break,
            }
        }
        vt = it.next();
    }
    match it.err() {
        Some(e) => Err(e.clone()),
        None => Ok(()),
    }
}
