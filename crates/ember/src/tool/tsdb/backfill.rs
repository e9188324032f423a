//! `ember tool tsdb create-blocks-from [-r] [-q] [--max-block-duration=D]
//! openmetrics <input file> [<output directory>]`: backfilling, as promtool
//! does it.
//!
//! A first pass over the OpenMetrics input finds the first and last
//! timestamps (every sample must have one). The block duration is 2h, or
//! the largest of Prometheus's compaction ranges (2h, 6h, 18h, …) not above
//! `--max-block-duration`. Then, for each aligned range from the first
//! timestamp's range on (ranges holding no sample are skipped), the input
//! is parsed again and the samples in that range are appended as
//! promtool's block writer appends them to its head: in input order, in
//! batches of 5000; a sample older than its series' last committed one is
//! an error (`out of order sample`), as is one at the same time with other
//! value bits (`duplicate sample for timestamp`); within a batch such
//! samples are dropped silently, as the head drops them at commit. Each
//! series is cut into chunks by the head's rule (`CutPolicy`) with a chunk
//! range of twice the block duration, and the range becomes one block
//! (series sorted, symbols collected) spanning its first sample to its last
//! plus 1 ms. Each block is printed as `tsdb list` prints it (the header
//! once) unless `--quiet`. Only one range's samples are in memory at once.
//! The `index` and chunk files equal promtool's byte for byte, except that
//! 2.42's bit-stream writer ends some chunks (every one-sample chunk) with
//! a zero byte that 3.x and Ember do not write (see `docs/format/block.md`).
//!
//! Differences from promtool 2.42: the input is read by Ember's strict
//! OpenMetrics parser, which enforces the rules spanning lines (a metric's
//! samples contiguous and in time order, histogram and counter rules,
//! …) that 2.42's parser does not, and words its errors differently;
//! timestamps with fractions are converted exactly (`1.001` is 1001 ms; Go
//! multiplies floats and may truncate to 1000); `le` and `quantile` values
//! are normalised (`le="1"` becomes `le="1.0"`) as Prometheus 3.x does;
//! chunks follow 3.x's cutting rule, which also cuts a float chunk past
//! 1 KiB (2.42 cuts by sample count and time only); `meta.json` carries
//! 3.x's `numFloatSamples`, so blocks are some 28 bytes larger.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use expfmt::openmetrics::OpenMetricsParser;
use expfmt::{Entry, Parser};
use model::Labels;
use tsdb::block::writer::ChunkData;
use tsdb::block::{BlockBuilder, BlockMeta, Ulid};
use tsdb::chunkenc::{ChunkStats, CutPolicy, CutState, Decision, Encoding, XorChunk};

use super::{
    DEFAULT_DB_PATH, Failure, Result, block_size, check_db_dir, gofmt, print_blocks, stdout,
};

/// Prometheus's default (and smallest) block duration: 2h.
const DEFAULT_BLOCK_DURATION: i64 = 2 * 3600 * 1000;
/// Samples appended per commit (promtool's `maxSamplesInAppender`).
const SAMPLES_PER_COMMIT: usize = 5000;

/// Arguments of `tsdb create-blocks-from`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Print human readable values.
    #[arg(short = 'r', long, global = true)]
    human_readable: bool,
    /// Do not print created blocks.
    #[arg(short = 'q', long, global = true)]
    quiet: bool,
    /// Maximum duration created blocks may span. Anything less than 2h is
    /// ignored.
    #[arg(long, global = true, hide = true, value_name = "duration",
          value_parser = gofmt::parse_go_duration_ms)]
    max_block_duration: Option<i64>,
    #[command(subcommand)]
    source: Source,
}

#[derive(clap::Subcommand, Debug)]
enum Source {
    /// Import samples from OpenMetrics input and produce TSDB blocks. Please
    /// refer to the storage docs for more details.
    Openmetrics(OpenMetricsArgs),
}

#[derive(clap::Args, Debug)]
struct OpenMetricsArgs {
    /// OpenMetrics file to read samples from.
    #[arg(value_name = "input file")]
    input: PathBuf,
    /// Output directory for generated blocks.
    #[arg(value_name = "output directory", default_value = DEFAULT_DB_PATH)]
    output: PathBuf,
}

/// Writes the blocks.
pub(super) fn run(args: Args) -> Result<()> {
    let Source::Openmetrics(om) = args.source;
    let input = std::fs::read(&om.input).map_err(|e| {
        Failure::Message(format!(
            "try lock file: open {}: {}",
            om.input.display(),
            gofmt::go_errno_text(&e)
        ))
    })?;
    std::fs::create_dir_all(&om.output).map_err(|e| {
        Failure::Message(format!(
            "create output dir: mkdir {}: {}",
            om.output.display(),
            gofmt::go_errno_text(&e)
        ))
    })?;
    let opts = Options {
        max_block_duration: args.max_block_duration.unwrap_or(0),
        human: args.human_readable,
        quiet: args.quiet,
    };
    let (mint, maxt) = min_max_timestamps(&input)
        .map_err(|e| Failure::Message(format!("getting min and max timestamp: {e}")))?;
    create_blocks(&input, mint, maxt, &om.output, &opts).map_err(|e| match e {
        Failure::Message(m) => Failure::Message(format!("block creation: {m}")),
        other => other,
    })
}

struct Options {
    max_block_duration: i64,
    human: bool,
    quiet: bool,
}

/// The first and last sample timestamps (0 and 0 for no samples).
fn min_max_timestamps(input: &[u8]) -> std::result::Result<(i64, i64), String> {
    let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
    let mut p = OpenMetricsParser::new(input).map_err(|e| format!("next: {e}"))?;
    while let Some(entry) = p.next() {
        let entry = entry.map_err(|e| format!("next: {e}"))?;
        let Entry::Sample(s) = entry else {
            continue;
        };
        let Some(t) = s.timestamp else {
            return Err("expected timestamp for series got none".into());
        };
        mint = mint.min(t);
        maxt = maxt.max(t);
    }
    if maxt == i64::MIN {
        maxt = 0;
    }
    if mint == i64::MAX {
        mint = 0;
    }
    Ok((mint, maxt))
}

/// promtool's `getCompatibleBlockDuration`: the largest compaction range
/// (2h × 3ⁿ, ten of them) not above `max`, at least 2h.
fn compatible_block_duration(max: i64) -> i64 {
    if max <= DEFAULT_BLOCK_DURATION {
        return DEFAULT_BLOCK_DURATION;
    }
    let ranges = tsdb::compact::exponential_block_ranges(DEFAULT_BLOCK_DURATION, 10, 3);
    let idx = ranges
        .iter()
        .position(|&r| r > max)
        .map_or(ranges.len() - 1, |i| i - 1);
    ranges[idx]
}

fn create_blocks(input: &[u8], mint: i64, maxt: i64, out_dir: &Path, opts: &Options) -> Result<()> {
    let bd = compatible_block_duration(opts.max_block_duration);
    // Go's division truncates towards zero, and so does promtool's
    // alignment (samples before a negative start are not written).
    let mint = bd * (mint / bd);
    check_db_dir(out_dir)?;
    let policy = CutPolicy {
        chunk_range: 2 * bd,
        samples_per_chunk: tsdb::chunkenc::DEFAULT_SAMPLES_PER_CHUNK,
    };
    let mut wrote_header = false;
    let mut next_sample_ts = i64::MAX;
    let mut t = mint;
    while t <= maxt {
        let upper = t.saturating_add(bd);
        if next_sample_ts == i64::MAX || next_sample_ts < upper {
            next_sample_ts = i64::MAX;
            let range = collect_range(input, t, upper, &mut next_sample_ts)
                .map_err(|e| Failure::Message(format!("process blocks: {e}")))?;
            let meta = write_block(out_dir, range, policy)
                .map_err(|e| Failure::Message(format!("process blocks: flush: {e}")))?;
            if let Some(meta) = meta
                && !opts.quiet
            {
                let size = block_size(&out_dir.join(meta.ulid.to_string()));
                let mut out = stdout();
                print_blocks(&mut out, &[(meta, size)], !wrote_header, opts.human)?;
                out.flush()?;
                wrote_header = true;
            }
        }
        match t.checked_add(bd) {
            Some(n) => t = n,
            None => break,
        }
    }
    Ok(())
}

/// One series' samples in a range, as the block writer's head holds them.
struct SeriesAcc {
    labels: Labels,
    /// Committed samples, in time order.
    samples: Vec<(i64, f64)>,
    /// Appended in the current batch, not yet committed.
    pending: Vec<(i64, f64)>,
}

/// The series of one range, appended as promtool's head appends them.
#[derive(Default)]
struct RangeAcc {
    series: Vec<SeriesAcc>,
    by_labels: HashMap<Labels, usize>,
    /// Raw `name{labels}` text → series, so a repeated series costs no
    /// label work.
    by_text: HashMap<Vec<u8>, usize>,
    dirty: Vec<usize>,
    batch: usize,
}

impl RangeAcc {
    fn append(&mut self, i: usize, t: i64, v: f64) -> std::result::Result<(), String> {
        let s = &mut self.series[i];
        // Checked against what is committed, as the head's `appendable`.
        if let Some(&(lt, lv)) = s.samples.last() {
            if t < lt {
                return Err("add sample: out of order sample".into());
            }
            if t == lt && lv.to_bits() != v.to_bits() {
                return Err("add sample: duplicate sample for timestamp".into());
            }
        }
        if s.pending.is_empty() {
            self.dirty.push(i);
        }
        s.pending.push((t, v));
        self.batch += 1;
        if self.batch >= SAMPLES_PER_COMMIT {
            self.commit();
        }
        Ok(())
    }

    /// Applies the batch: a sample not after its series' last is dropped.
    fn commit(&mut self) {
        for &i in &self.dirty {
            let s = &mut self.series[i];
            for (t, v) in std::mem::take(&mut s.pending) {
                if s.samples.last().is_none_or(|&(lt, _)| t > lt) {
                    s.samples.push((t, v));
                }
            }
        }
        self.dirty.clear();
        self.batch = 0;
    }
}

/// Parses the input again, appending the samples in `[t, upper)`; notes
/// the earliest timestamp at or after `upper` in `next`.
fn collect_range(
    input: &[u8],
    t: i64,
    upper: i64,
    next: &mut i64,
) -> std::result::Result<RangeAcc, String> {
    let mut acc = RangeAcc::default();
    let mut p = OpenMetricsParser::new(input).map_err(|e| format!("parse: {e}"))?;
    while let Some(entry) = p.next() {
        let entry = entry.map_err(|e| format!("parse: {e}"))?;
        let Entry::Sample(s) = entry else {
            continue;
        };
        let labels_of =
            || Labels::from_pairs(std::iter::once(("__name__", s.name)).chain(s.labels.iter()));
        let Some(ts) = s.timestamp else {
            return Err(format!(
                "expected timestamp for series {}, got none",
                labels_of()
            ));
        };
        if ts < t {
            continue;
        }
        if ts >= upper {
            *next = (*next).min(ts);
            continue;
        }
        let i = match acc.by_text.get(s.series) {
            Some(&i) => i,
            None => {
                let labels = labels_of();
                let i = match acc.by_labels.get(&labels) {
                    Some(&i) => i,
                    None => {
                        acc.series.push(SeriesAcc {
                            labels: labels.clone(),
                            samples: Vec::new(),
                            pending: Vec::new(),
                        });
                        acc.by_labels.insert(labels, acc.series.len() - 1);
                        acc.series.len() - 1
                    }
                };
                acc.by_text.insert(s.series.to_vec(), i);
                i
            }
        };
        acc.append(i, ts, s.value)?;
    }
    acc.commit();
    Ok(acc)
}

/// Writes the range's series as one block; `None` when it holds no sample.
fn write_block(
    parent: &Path,
    range: RangeAcc,
    policy: CutPolicy,
) -> std::result::Result<Option<BlockMeta>, String> {
    let mut series = range.series;
    series.retain(|s| !s.samples.is_empty());
    let (Some(mint), Some(maxt)) = (
        series
            .iter()
            .filter_map(|s| s.samples.first())
            .map(|s| s.0)
            .min(),
        series
            .iter()
            .filter_map(|s| s.samples.last())
            .map(|s| s.0)
            .max(),
    ) else {
        return Ok(None);
    };
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    // Prometheus's head lists the empty string among its symbols (from the
    // all-postings key), so its blocks carry it: so do ours, which makes
    // the index identical byte for byte.
    let mut symbols: BTreeSet<&str> = BTreeSet::from([""]);
    for s in &series {
        for (n, v) in s.labels.iter() {
            symbols.insert(n);
            symbols.insert(v);
        }
    }
    let meta = BlockMeta::new(Ulid::now(), mint, maxt + 1);
    let mut b =
        BlockBuilder::new(parent, meta, symbols.iter().copied()).map_err(|e| e.to_string())?;
    for s in &series {
        let chunks = cut_chunks(&s.samples, policy)
            .map_err(|e| format!("encode chunk of {}: {e}", s.labels))?;
        b.add_series(&s.labels, &chunks)
            .map_err(|e| e.to_string())?;
    }
    b.finish().map_err(|e| e.to_string())
}

/// Encodes a series' samples into XOR chunks, cut where the head would cut.
fn cut_chunks(
    samples: &[(i64, f64)],
    policy: CutPolicy,
) -> std::result::Result<Vec<ChunkData<'static>>, tsdb::chunkenc::Error> {
    let mut out = Vec::new();
    let mut state = CutState::default();
    // The open chunk and its first and last timestamps.
    let mut open: Option<(XorChunk, i64, i64)> = None;
    let close = |c: XorChunk, mint: i64, maxt: i64| ChunkData {
        encoding: Encoding::Xor,
        bytes: std::borrow::Cow::Owned(c.into_bytes()),
        min_time: mint,
        max_time: maxt,
    };
    for &(t, v) in samples {
        let stats = open.as_ref().map(|(c, mint, maxt)| ChunkStats {
            encoding: Encoding::Xor,
            min_time: *mint,
            max_time: *maxt,
            num_samples: c.num_samples(),
            num_bytes: c.bytes().len(),
        });
        match policy.decide(&mut state, stats.as_ref(), t, Encoding::Xor) {
            Decision::Cut => {
                if let Some((c, mint, maxt)) = open.take() {
                    out.push(close(c, mint, maxt));
                }
                let mut c = XorChunk::new();
                c.append(t, v)?;
                open = Some((c, t, t));
            }
            Decision::Append => {
                if let Some((c, _, maxt)) = open.as_mut() {
                    c.append(t, v)?;
                    *maxt = t;
                }
            }
            // Samples come in strictly increasing time order.
            Decision::OutOfOrder => {}
        }
    }
    if let Some((c, mint, maxt)) = open {
        out.push(close(c, mint, maxt));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    #[test]
    fn block_durations_like_promtool() {
        assert_eq!(compatible_block_duration(0), 2 * H);
        assert_eq!(compatible_block_duration(H), 2 * H);
        assert_eq!(compatible_block_duration(5 * H), 2 * H);
        assert_eq!(compatible_block_duration(6 * H), 6 * H);
        assert_eq!(compatible_block_duration(24 * H), 18 * H);
        assert_eq!(compatible_block_duration(i64::MAX), 2 * H * 3i64.pow(9));
    }

    #[test]
    fn batches_drop_and_reject_like_the_head() {
        let mut acc = RangeAcc::default();
        acc.series.push(SeriesAcc {
            labels: Labels::from_pairs([("__name__", "a")]),
            samples: Vec::new(),
            pending: Vec::new(),
        });
        // Within a batch, out-of-order and duplicate samples are dropped.
        acc.append(0, 10, 1.0).unwrap();
        acc.append(0, 5, 2.0).unwrap();
        acc.append(0, 10, 3.0).unwrap();
        acc.commit();
        assert_eq!(acc.series[0].samples, [(10, 1.0)]);
        // Against committed samples they are errors, except exact repeats.
        assert_eq!(
            acc.append(0, 5, 1.0).unwrap_err(),
            "add sample: out of order sample"
        );
        assert_eq!(
            acc.append(0, 10, 2.0).unwrap_err(),
            "add sample: duplicate sample for timestamp"
        );
        acc.append(0, 10, 1.0).unwrap();
        acc.commit();
        assert_eq!(acc.series[0].samples, [(10, 1.0)]);
    }

    #[test]
    fn chunks_cut_like_the_head() {
        let policy = CutPolicy {
            chunk_range: 4 * H,
            samples_per_chunk: 120,
        };
        // 15s samples over a whole 4h range: 960 samples in 8 chunks.
        let s: Vec<(i64, f64)> = (0..960).map(|i| (i * 15_000, 1.0)).collect();
        let chunks = cut_chunks(&s, policy).unwrap();
        let n: Vec<u64> = chunks.iter().map(ChunkData::num_samples).collect();
        assert_eq!(n, [120; 8]);
        // Fewer than 30 samples: no prediction, one chunk.
        let s: Vec<(i64, f64)> = (0..29).map(|i| (i * 1000, 1.0)).collect();
        assert_eq!(cut_chunks(&s, policy).unwrap().len(), 1);
    }
}
