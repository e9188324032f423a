//! `ember tool tsdb analyze [--limit=20] [--extended] [<db path>] [<block id>]`:
//! promtool 2.42's report on one block (the last one by default): series
//! and label counts, then the label pairs and names most involved in churn
//! (the part of the block's range each series does not cover, summed per
//! pair or name, in block ranges), the most common pairs, the names with
//! the longest and the most values, the metric names with the most series;
//! `--extended` adds the histogram of chunk fullness (samples out of 120).
//!
//! promtool sorts each list by count with Go's unstable sort over a map,
//! so ties come in random order; we break ties by key. Prometheus 3.x
//! prints `Total Series:` instead of `Series:`, adds `--match`, and
//! replaced the fullness histogram with per-encoding ones; we print 2.42's.

use std::collections::HashMap;
use std::path::PathBuf;

use std::io::Write;

use tsdb::chunks::BlockChunkRef;
use tsdb::index::{ChunkMeta, IndexReader};

use super::{DEFAULT_DB_PATH, Failure, Result, check_db_dir, open_blocks, stdout};

/// Arguments of `tsdb analyze`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// How many items to show in each list.
    #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
    limit: i64,
    /// Run extended analysis.
    #[arg(long)]
    extended: bool,
    /// Database path (default is data/).
    #[arg(value_name = "db path", default_value = DEFAULT_DB_PATH)]
    path: PathBuf,
    /// Block to analyze (default is the last block).
    #[arg(value_name = "block id")]
    block_id: Option<String>,
}

fn index_err(e: tsdb::index::Error) -> Failure {
    Failure::Message(e.to_string())
}

/// Prints the report.
pub(super) fn run(args: Args) -> Result<()> {
    check_db_dir(&args.path)?;
    let blocks = open_blocks(&args.path)?;
    let id = args.block_id.unwrap_or_default();
    let block = if id.is_empty() {
        blocks.last()
    } else {
        blocks.iter().find(|b| b.meta().ulid.to_string() == id)
    };
    let Some(block) = block else {
        return Err(Failure::Message(format!("block {id} not found")));
    };
    let meta = block.meta();
    let ir = block.index().map_err(|e| Failure::Message(e.to_string()))?;
    let mut out = stdout();
    let limit = args.limit;
    let range = meta.max_time.wrapping_sub(meta.min_time);
    writeln!(out, "Block ID: {}", meta.ulid)?;
    writeln!(
        out,
        "Duration: {}",
        super::gofmt::format_duration_ns(range.wrapping_mul(1_000_000))
    )?;
    writeln!(out, "Series: {}", meta.stats.num_series)?;
    let names = ir.label_names().map_err(index_err)?;
    writeln!(out, "Label names: {}", names.len())?;

    let mut labels_uncovered: HashMap<String, u64> = HashMap::new();
    let mut pairs_uncovered: HashMap<String, u64> = HashMap::new();
    let mut pairs_count: HashMap<String, u64> = HashMap::new();
    let mut entries = 0u64;
    let mut chunks: Vec<ChunkMeta> = Vec::new();
    let all = ir.postings("", "").map_err(index_err)?;
    for &r in &all {
        let labels = ir.series(r, &mut chunks).map_err(index_err)?;
        // The part of the block's range this series does not cover
        // (unsigned, wrapping, as promtool computes it).
        let covered = match (chunks.first(), chunks.last()) {
            (Some(f), Some(l)) => l.max_time.wrapping_sub(f.min_time) as u64,
            _ => 0,
        };
        let uncovered = (range as u64).wrapping_sub(covered);
        for (n, v) in labels.iter() {
            let key = format!("{n}={v}");
            let e = labels_uncovered.entry(n.to_string()).or_default();
            *e = e.wrapping_add(uncovered);
            let e = pairs_uncovered.entry(key.clone()).or_default();
            *e = e.wrapping_add(uncovered);
            *pairs_count.entry(key).or_default() += 1;
            entries += 1;
        }
    }
    writeln!(
        out,
        "Postings (unique label pairs): {}",
        pairs_uncovered.len()
    )?;
    writeln!(out, "Postings entries (total label pairs): {entries}")?;

    let in_ranges = |m: &HashMap<String, u64>| -> Vec<(String, u64)> {
        m.iter()
            .map(|(k, &v)| (k.clone(), (v as f64 / range as f64) as u64))
            .collect()
    };
    print_section(
        &mut out,
        "Label pairs most involved in churning",
        in_ranges(&pairs_uncovered),
        limit,
    )?;
    print_section(
        &mut out,
        "Label names most involved in churning",
        in_ranges(&labels_uncovered),
        limit,
    )?;
    print_section(
        &mut out,
        "Most common label pairs",
        pairs_count.into_iter().collect(),
        limit,
    )?;
    let mut lengths = Vec::with_capacity(names.len());
    let mut cardinalities = Vec::with_capacity(names.len());
    for n in &names {
        let values = ir.label_values(n).map_err(index_err)?;
        lengths.push((n.clone(), values.iter().map(|v| v.len() as u64).sum()));
        cardinalities.push((n.clone(), values.len() as u64));
    }
    print_section(
        &mut out,
        "Label names with highest cumulative label value length",
        lengths,
        limit,
    )?;
    print_section(&mut out, "Highest cardinality labels", cardinalities, limit)?;
    let mut metrics = Vec::new();
    for v in ir.label_values("__name__").map_err(index_err)? {
        let n = ir.postings("__name__", &v).map_err(index_err)?.len() as u64;
        metrics.push((v, n));
    }
    print_section(&mut out, "Highest cardinality metric names", metrics, limit)?;
    if args.extended {
        compaction_analysis(&mut out, block, ir, &all)?;
    }
    out.flush()?;
    Ok(())
}

/// One list: a blank line, the title, then up to `limit` rows `count key`,
/// largest count first (ties by key).
fn print_section(
    out: &mut impl Write,
    title: &str,
    mut items: Vec<(String, u64)>,
    limit: i64,
) -> std::io::Result<()> {
    writeln!(out, "\n{title}:")?;
    items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let n = usize::try_from(limit.max(0)).unwrap_or(usize::MAX);
    for (k, v) in items.iter().take(n) {
        writeln!(out, "{v} {k}")?;
    }
    Ok(())
}

/// `--extended`: how full the chunks are, in ten buckets of 12 samples.
fn compaction_analysis(
    out: &mut impl Write,
    block: &tsdb::block::Block,
    ir: &IndexReader,
    all: &[u64],
) -> Result<()> {
    const MAX_SAMPLES_PER_CHUNK: u64 = 120;
    const BUCKETS: usize = 10;
    let cr = block
        .chunks()
        .map_err(|e| Failure::Message(e.to_string()))?;
    let mut histogram = [0u64; BUCKETS];
    let mut total = 0u64;
    let mut chunks: Vec<ChunkMeta> = Vec::new();
    for &r in all {
        ir.series(r, &mut chunks).map_err(index_err)?;
        for c in &chunks {
            let (_, bytes) = cr
                .chunk(BlockChunkRef(c.chunk_ref))
                .map_err(|e| Failure::Message(e.to_string()))?;
            let n = bytes
                .get(..2)
                .map_or(0, |b| u64::from(u16::from_be_bytes([b[0], b[1]])));
            let size = n.min(MAX_SAMPLES_PER_CHUNK);
            // ceil(10 * size / 120) - 1, as promtool computes it.
            let bucket = (BUCKETS as u64 * size).div_ceil(MAX_SAMPLES_PER_CHUNK);
            histogram[(bucket.max(1) - 1) as usize] += 1;
            total += 1;
        }
    }
    writeln!(out, "\nCompaction analysis:")?;
    writeln!(
        out,
        "Fullness: Amount of samples in chunks (100% is 120 samples)"
    )?;
    for (i, count) in histogram.iter().enumerate() {
        let pct = (100 * count).checked_div(total).unwrap_or(0);
        writeln!(out, "{:>7}%: {}", (i + 1) * 10, "#".repeat(pct as usize))?;
    }
    Ok(())
}
