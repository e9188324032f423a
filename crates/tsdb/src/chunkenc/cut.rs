//! When the head cuts a new chunk: Prometheus's `appendPreprocessor` and
//! `histogramsAppendPreprocessor` as a pure policy.
//!
//! Float chunks aim at 120 samples spread evenly over the chunk range: once
//! a chunk holds a quarter of that, its end time is predicted so that the
//! rest of the range splits into equal chunks (`computeChunkEndTime`); a
//! chunk is cut when a sample reaches that time, at twice the target count,
//! or when its bytes pass the soft 1 KiB cap. Histogram chunks do the same by
//! size, aiming at 1 KiB, but hold at least 10 samples unless the range ends.

use super::Encoding;

/// Prometheus's default target of samples per float chunk.
pub const DEFAULT_SAMPLES_PER_CHUNK: usize = 120;
/// Soft cap on a float chunk's size.
pub const MAX_BYTES_PER_XOR_CHUNK: usize = 1024;
/// A float chunk over this size is cut before the next append (the cap minus
/// the worst-case size of one sample).
pub const MAX_BYTES_PER_XOR_CHUNK_BEFORE_APPEND: usize = MAX_BYTES_PER_XOR_CHUNK - 19;
/// Target size of a histogram chunk.
pub const TARGET_BYTES_PER_HISTOGRAM_CHUNK: usize = 1024;
/// Fewest samples a histogram chunk holds before a size cut.
pub const MIN_SAMPLES_PER_HISTOGRAM_CHUNK: usize = 10;
/// The head's default chunk range: two hours in milliseconds.
pub const DEFAULT_CHUNK_RANGE: i64 = 2 * 60 * 60 * 1000;

/// The knobs: chunk range and target samples per float chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CutPolicy {
    /// Width of the aligned ranges chunks must not cross (ms).
    pub chunk_range: i64,
    /// Target samples per float chunk.
    pub samples_per_chunk: usize,
}

impl Default for CutPolicy {
    fn default() -> Self {
        CutPolicy {
            chunk_range: DEFAULT_CHUNK_RANGE,
            samples_per_chunk: DEFAULT_SAMPLES_PER_CHUNK,
        }
    }
}

/// Per-series state the policy keeps between appends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CutState {
    /// The timestamp at which the current chunk is cut.
    pub next_at: i64,
    /// Whether the current histogram chunk's end time was predicted.
    pub histogram_end_computed: bool,
}

/// What the series' open head chunk looks like before the append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkStats {
    /// Its encoding.
    pub encoding: Encoding,
    /// Timestamp of its first sample.
    pub min_time: i64,
    /// Timestamp of its last sample.
    pub max_time: i64,
    /// Samples in it.
    pub num_samples: usize,
    /// Its encoded size.
    pub num_bytes: usize,
}

/// The verdict for one sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Append to the open chunk.
    Append,
    /// Start a new chunk with this sample (the open one, if any, is done).
    Cut,
    /// The sample is not after the open chunk's last one.
    OutOfOrder,
}

/// The end of the aligned range holding `t` (Prometheus's `rangeForTimestamp`).
pub fn range_for_timestamp(t: i64, width: i64) -> i64 {
    (t / width).wrapping_mul(width).wrapping_add(width)
}

/// Predicts a chunk end so that the range up to `max_t` splits into equal
/// chunks, assuming the chunk that started at `start` and reached `cur` is
/// `1/ratio_to_full` full (Prometheus's `computeChunkEndTime`).
pub fn compute_chunk_end_time(start: i64, cur: i64, max_t: i64, ratio_to_full: f64) -> i64 {
    let n = (max_t.wrapping_sub(start)) as f64
        / ((cur.wrapping_sub(start) as f64 + 1.0) * ratio_to_full);
    if n <= 1.0 {
        return max_t;
    }
    (start as f64 + (max_t.wrapping_sub(start)) as f64 / n.floor()) as i64
}

impl CutPolicy {
    /// Decides what to do with a sample at `t` of encoding `enc`, given the
    /// series' open chunk (`None` if it has none), and updates `state`.
    pub fn decide(
        &self,
        state: &mut CutState,
        open: Option<&ChunkStats>,
        t: i64,
        enc: Encoding,
    ) -> Decision {
        let Some(c) = open else {
            return self.cut(state, t);
        };
        if c.num_samples > 0 && c.max_time >= t {
            return Decision::OutOfOrder;
        }
        if enc == Encoding::Xor {
            self.decide_float(state, c, t)
        } else {
            self.decide_histogram(state, c, t, enc)
        }
    }

    fn cut(&self, state: &mut CutState, t: i64) -> Decision {
        state.next_at = range_for_timestamp(t, self.chunk_range);
        state.histogram_end_computed = false;
        Decision::Cut
    }

    fn decide_float(&self, state: &mut CutState, c: &ChunkStats, t: i64) -> Decision {
        if (c.num_samples > 0 && c.num_bytes > MAX_BYTES_PER_XOR_CHUNK_BEFORE_APPEND)
            || c.encoding != Encoding::Xor
        {
            return self.cut(state, t);
        }
        if c.num_samples == 0 {
            // An empty open chunk (e.g. restored from a snapshot) starts at t.
            state.next_at = range_for_timestamp(t, self.chunk_range);
            return Decision::Append;
        }
        if c.num_samples == self.samples_per_chunk / 4 {
            state.next_at = compute_chunk_end_time(c.min_time, c.max_time, state.next_at, 4.0);
        }
        // Far more samples than predicted means the rate went up: cut now,
        // the next chunk predicts again.
        if t >= state.next_at || c.num_samples >= self.samples_per_chunk * 2 {
            return self.cut(state, t);
        }
        Decision::Append
    }

    fn decide_histogram(
        &self,
        state: &mut CutState,
        c: &ChunkStats,
        t: i64,
        enc: Encoding,
    ) -> Decision {
        if c.encoding != enc {
            return self.cut(state, t);
        }
        if c.num_samples == 0 {
            state.next_at = range_for_timestamp(t, self.chunk_range);
            state.histogram_end_computed = false;
            return Decision::Append;
        }
        let target = TARGET_BYTES_PER_HISTOGRAM_CHUNK;
        // The minimum sample count gives way when the range ends first.
        let next_range_start = if state.histogram_end_computed {
            range_for_timestamp(c.min_time, self.chunk_range)
        } else {
            state.next_at
        };
        if !state.histogram_end_computed && c.num_bytes >= target / 4 {
            let ratio = target as f64 / c.num_bytes as f64;
            state.next_at = compute_chunk_end_time(c.min_time, c.max_time, state.next_at, ratio);
            state.histogram_end_computed = true;
        }
        if (t >= state.next_at || c.num_bytes >= target * 2)
            && (c.num_samples >= MIN_SAMPLES_PER_HISTOGRAM_CHUNK || t >= next_range_start)
        {
            return self.cut(state, t);
        }
        Decision::Append
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_and_end_time() {
        assert_eq!(range_for_timestamp(0, 7_200_000), 7_200_000);
        assert_eq!(range_for_timestamp(7_199_999, 7_200_000), 7_200_000);
        assert_eq!(range_for_timestamp(7_200_000, 7_200_000), 14_400_000);
        // 30 samples at 15s from the range start: 120 samples fill 30 min,
        // so the 2h range splits into 4 chunks.
        assert_eq!(
            compute_chunk_end_time(0, 29 * 15_000, 7_200_000, 4.0),
            1_800_000
        );
        assert_eq!(
            compute_chunk_end_time(0, 7_000_000, 7_200_000, 4.0),
            7_200_000
        );
    }

    /// Drives the policy like a head would and returns the chunk sizes.
    fn simulate(policy: CutPolicy, ts: impl Iterator<Item = i64>) -> Vec<usize> {
        let mut st = CutState::default();
        let mut open: Option<ChunkStats> = None;
        let mut sizes = Vec::new();
        for t in ts {
            match policy.decide(&mut st, open.as_ref(), t, Encoding::Xor) {
                Decision::Cut => {
                    if let Some(c) = open {
                        sizes.push(c.num_samples);
                    }
                    open = Some(ChunkStats {
                        encoding: Encoding::Xor,
                        min_time: t,
                        max_time: t,
                        num_samples: 1,
                        num_bytes: 20,
                    });
                }
                Decision::Append => {
                    let c = open.as_mut().expect("open chunk");
                    c.max_time = t;
                    c.num_samples += 1;
                    c.num_bytes += 2;
                }
                Decision::OutOfOrder => panic!("in order"),
            }
        }
        sizes.extend(open.map(|c| c.num_samples));
        sizes
    }

    #[test]
    fn fifteen_second_scrapes_fill_120_sample_chunks() {
        let sizes = simulate(CutPolicy::default(), (0..480).map(|i| i * 15_000));
        assert_eq!(sizes, vec![120, 120, 120, 120]);
    }

    #[test]
    fn one_second_scrapes_spread_over_the_range() {
        let sizes = simulate(CutPolicy::default(), (0..1000).map(|i| i * 1_000));
        // After 30 samples in 29 s, 120 samples would fill 116 s: the 2 h
        // range splits into 62 chunks of 7200/62 = 116.1 s, i.e. 117 samples.
        let (last, full) = sizes.split_last().unwrap();
        assert!(full.iter().all(|&n| n == 117), "{sizes:?}");
        assert_eq!(full.len() * 117 + last, 1000);
    }

    #[test]
    fn out_of_order_and_encoding_change() {
        let p = CutPolicy::default();
        let mut st = CutState::default();
        let c = ChunkStats {
            encoding: Encoding::Xor,
            min_time: 0,
            max_time: 10,
            num_samples: 2,
            num_bytes: 20,
        };
        assert_eq!(
            p.decide(&mut st, Some(&c), 10, Encoding::Xor),
            Decision::OutOfOrder
        );
        assert_eq!(
            p.decide(&mut st, Some(&c), 11, Encoding::Histogram),
            Decision::Cut
        );
        let big = ChunkStats {
            num_bytes: 1006,
            ..c
        };
        assert_eq!(
            p.decide(&mut st, Some(&big), 11, Encoding::Xor),
            Decision::Cut
        );
    }

    #[test]
    fn histogram_chunks_cut_by_size_but_hold_ten_samples() {
        let p = CutPolicy::default();
        let mut st = CutState::default();
        assert_eq!(
            p.decide(&mut st, None, 0, Encoding::Histogram),
            Decision::Cut
        );
        // Huge samples: 500 bytes each. Still 10 samples per chunk.
        let mut c = ChunkStats {
            encoding: Encoding::Histogram,
            min_time: 0,
            max_time: 0,
            num_samples: 1,
            num_bytes: 500,
        };
        for i in 1..10 {
            assert_eq!(
                p.decide(&mut st, Some(&c), i * 1000, Encoding::Histogram),
                Decision::Append,
                "sample {i}"
            );
            c.max_time = i * 1000;
            c.num_samples += 1;
            c.num_bytes += 500;
        }
        assert_eq!(
            p.decide(&mut st, Some(&c), 10_000, Encoding::Histogram),
            Decision::Cut
        );
    }
}
