//! The chunk encoder remote read's `STREAMED_XOR_CHUNKS` uses: the TSDB's
//! own encodings (`tsdb::chunkenc`), handed to the `web`/`remote` crates,
//! which do not depend on `tsdb`.

use remote::prompb::{Chunk, chunk_encoding};
use remote::{ChunkEncoder, Run};
use tsdb::chunkenc::{FloatHistogramChunk, HistogramAppend, HistogramChunk, XorChunk};

/// Encodes runs with `tsdb::chunkenc`.
pub(crate) struct TsdbChunkEncoder;

fn chunk(kind: i32, min: i64, max: i64, data: Vec<u8>) -> Chunk {
    Chunk {
        min_time_ms: min,
        max_time_ms: max,
        kind,
        data,
    }
}

/// Appends histogram-like samples, cutting where the encoding must.
macro_rules! histograms {
    ($samples:expr, $new:expr, $kind:expr, $out:expr) => {{
        let samples = $samples;
        let Some(first) = samples.first() else {
            return Ok(());
        };
        let mut cur = $new;
        let mut prev = None;
        let (mut min, mut max) = (first.0, first.0);
        for (t, h) in samples {
            match cur
                .append(prev.as_ref(), *t, h)
                .map_err(|e| e.to_string())?
            {
                HistogramAppend::InPlace | HistogramAppend::Recoded => {}
                HistogramAppend::NewChunk(next) => {
                    let done = std::mem::replace(&mut cur, next);
                    $out.push(chunk($kind, min, max, done.bytes().to_vec()));
                    prev = Some(done);
                    min = *t;
                }
            }
            max = *t;
        }
        $out.push(chunk($kind, min, max, cur.into_bytes()));
        Ok(())
    }};
}

impl ChunkEncoder for TsdbChunkEncoder {
    fn encode(&self, run: Run<'_>, out: &mut Vec<Chunk>) -> Result<(), String> {
        match run {
            Run::Floats(samples) => {
                let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
                    return Ok(());
                };
                let mut c = XorChunk::new();
                for (t, v) in samples {
                    c.append(*t, *v).map_err(|e| e.to_string())?;
                }
                out.push(chunk(chunk_encoding::XOR, first.0, last.0, c.into_bytes()));
                Ok(())
            }
            Run::Histograms(samples) => {
                histograms!(
                    samples,
                    HistogramChunk::new(),
                    chunk_encoding::HISTOGRAM,
                    out
                )
            }
            Run::FloatHistograms(samples) => histograms!(
                samples,
                FloatHistogramChunk::new(),
                chunk_encoding::FLOAT_HISTOGRAM,
                out
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::Histogram;
    use model::histogram::Span;
    use tsdb::chunkenc::{HistogramIterator, ValueType};

    fn hist(count: u64) -> Histogram {
        Histogram {
            schema: 0,
            count,
            sum: count as f64,
            positive_spans: vec![Span {
                offset: 0,
                length: 1,
            }],
            positive_buckets: vec![i64::try_from(count).unwrap_or(0)],
            ..Histogram::default()
        }
    }

    #[test]
    fn histogram_runs_cut_at_counter_resets_and_decode_back() {
        // Counts grow, reset at t=30, grow again.
        let samples: Vec<(i64, Histogram)> = [(10, 5), (20, 7), (30, 1), (40, 2)]
            .iter()
            .map(|(t, c)| (*t, hist(*c)))
            .collect();
        let mut out = Vec::new();
        TsdbChunkEncoder
            .encode(Run::Histograms(&samples), &mut out)
            .unwrap_or_else(|e| panic!("{e}"));
        let spans: Vec<(i64, i64, i32)> = out
            .iter()
            .map(|c| (c.min_time_ms, c.max_time_ms, c.kind))
            .collect();
        assert_eq!(
            spans,
            vec![
                (10, 20, chunk_encoding::HISTOGRAM),
                (30, 40, chunk_encoding::HISTOGRAM)
            ]
        );
        let mut got = Vec::new();
        for c in &out {
            let mut it = HistogramIterator::new(&c.data).unwrap_or_else(|e| panic!("{e}"));
            let mut h = Histogram::default();
            while it.next() == ValueType::Histogram {
                let t = it.at_histogram(&mut h);
                got.push((t, h.count));
            }
        }
        assert_eq!(got, vec![(10, 5), (20, 7), (30, 1), (40, 2)]);
    }
}
