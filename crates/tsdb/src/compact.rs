//! Compaction, as Prometheus's `LeveledCompactor` does it.
//!
//! [`plan`] picks what to merge next from the blocks' metadata: first any
//! run of blocks overlapping in time (vertical compaction, e.g. after
//! out-of-order data or a backfill); otherwise, leaving out the newest
//! block, the first aligned range of the next level (2h → 6h → 18h → …,
//! [`exponential_block_ranges`]) that is full or lies entirely before the
//! newest block; otherwise a large block with more than 5% of its series
//! under tombstones, rewritten alone.
//!
//! [`compact_blocks`] merges blocks into one: series are merged by label
//! in one pass over every source index; a series found in one source with
//! no tombstones over it keeps its chunks byte for byte, otherwise its
//! samples are decoded, merged by time (one sample per timestamp, the
//! earlier block winning), tombstoned samples dropped, and re-encoded.
//! [`write_head_block`] persists a range of the head: a series' chunks are
//! copied as the head stores them when they lie inside the range (the head
//! cuts chunks at range boundaries), otherwise its samples are re-encoded.
//! Both write through [`BlockBuilder`], so a crash leaves at most a
//! `*.tmp-for-creation` directory, which opening the database removes.
//! Source blocks are deleted by the caller only once the new block is
//! durable (its `parents` say which).

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use model::Labels;
use storage::vec::Value;
use storage::{Queryable, SampleIterator, Series, StorageError, ValueType};

use crate::Head;
use crate::block::Tombstones;
use crate::block::meta::{BlockDesc, HINT_FROM_OUT_OF_ORDER};
use crate::block::tombstones::{Interval, is_deleted};
use crate::block::writer::{ChunkData, encode_samples};
use crate::block::{Block, BlockBuilder, BlockMeta, Error, Ulid};
use crate::chunks::BlockChunkRef;
use crate::index::{ChunkMeta, IndexReader};

/// `steps` ranges starting at `min`, each `step_size` times the previous
/// (Prometheus's `ExponentialBlockRanges`; it uses 10 steps of 3).
pub fn exponential_block_ranges(min: i64, steps: usize, step_size: i64) -> Vec<i64> {
    let mut out = Vec::with_capacity(steps);
    let mut r = min;
    for _ in 0..steps {
        out.push(r);
        r = r.saturating_mul(step_size);
    }
    out
}

/// The start of the aligned range of width `tr` holding `t`.
fn range_start(t: i64, tr: i64) -> i64 {
    if t >= 0 {
        tr * (t / tr)
    } else {
        tr * ((t - tr + 1) / tr)
    }
}

/// Groups blocks (sorted by start) into aligned ranges of width `tr`;
/// blocks not fitting one range are left out.
fn split_by_range(ms: &[&BlockMeta], tr: i64) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < ms.len() {
        let t0 = range_start(ms[i].min_time, tr);
        if ms[i].max_time > t0 + tr {
            i += 1;
            continue;
        }
        let mut group = Vec::new();
        while i < ms.len() && ms[i].max_time <= t0 + tr {
            group.push(i);
            i += 1;
        }
        if !group.is_empty() {
            out.push(group);
        }
    }
    out
}

/// The first run of blocks overlapping in time (sorted by start).
fn select_overlapping(ms: &[&BlockMeta]) -> Vec<usize> {
    let mut out = Vec::new();
    let Some(first) = ms.first() else {
        return out;
    };
    let mut global_maxt = first.max_time;
    for (i, m) in ms.iter().enumerate().skip(1) {
        if m.min_time < global_maxt {
            if out.is_empty() {
                out.push(i - 1);
            }
            out.push(i);
        } else if !out.is_empty() {
            break;
        }
        global_maxt = global_maxt.max(m.max_time);
    }
    out
}

/// What to compact next among `metas`: the ULIDs to merge (empty for
/// nothing). `ranges` are the block ranges (first the head's 2h);
/// `overlapping` enables vertical compaction.
pub fn plan(metas: &[BlockMeta], ranges: &[i64], overlapping: bool) -> Vec<Ulid> {
    let mut ms: Vec<&BlockMeta> = metas.iter().collect();
    ms.sort_by_key(|m| m.min_time);
    if ms.is_empty() {
        return Vec::new();
    }
    if overlapping {
        let o = select_overlapping(&ms);
        if !o.is_empty() {
            return o.into_iter().map(|i| ms[i].ulid).collect();
        }
    }
    // Leave the newest block out: it was just cut from the head.
    ms.pop();
    if ranges.len() >= 2
        && let Some(last) = ms.last()
    {
        let high_time = last.min_time;
        for &tr in &ranges[1..] {
            for group in split_by_range(&ms, tr) {
                if group.iter().any(|&i| ms[i].compaction.failed) {
                    continue;
                }
                let (Some(&a), Some(&b)) = (group.first(), group.last()) else {
                    continue;
                };
                let (mint, maxt) = (ms[a].min_time, ms[b].max_time);
                if (maxt - mint == tr || maxt <= high_time) && group.len() > 1 {
                    return group.into_iter().map(|i| ms[i].ulid).collect();
                }
            }
        }
    }
    // Large blocks with many tombstones are rewritten on their own.
    let mid = ranges.get(ranges.len() / 2).copied().unwrap_or(i64::MAX);
    for m in ms.iter().rev() {
        let st = &m.stats;
        if m.max_time - m.min_time < mid {
            if st.num_tombstones > 0 && st.num_tombstones >= st.num_series {
                return vec![m.ulid];
            }
            break;
        }
        if st.num_tombstones as f64 / (st.num_series + 1) as f64 > 0.05 {
            return vec![m.ulid];
        }
    }
    Vec::new()
}

/// Drains a sample iterator.
pub(crate) fn collect_samples(
    it: &mut dyn SampleIterator,
) -> Result<Vec<(i64, Value)>, StorageError> {
    let mut out = Vec::new();
    loop {
        match it.next() {
            ValueType::None => break,
            ValueType::Float => {
                let (t, v) = it.at();
                out.push((t, Value::Float(v)));
            }
            ValueType::Histogram => {
                let mut h = model::Histogram::default();
                let t = it.at_histogram(&mut h);
                out.push((t, Value::Histogram(Arc::new(h))));
            }
            ValueType::FloatHistogram => {
                let mut h = model::FloatHistogram::default();
                let t = it.at_float_histogram(&mut h);
                out.push((t, Value::FloatHistogram(Arc::new(h))));
            }
        }
    }
    match it.err() {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn encode_err(labels: &Labels) -> impl FnOnce(crate::chunkenc::Error) -> Error + '_ {
    move |source| Error::Encode {
        series: labels.to_string(),
        source,
    }
}

fn read_err(e: StorageError) -> Error {
    Error::Invalid(format!("read source series: {e}"))
}

/// Persists the head's samples in `[mint, maxt)` as a level-1 block under
/// `parent`, leaving out the `deleted` intervals of series. `None` if the
/// range holds no sample.
pub fn write_head_block(
    parent: &Path,
    head: &Head,
    mint: i64,
    maxt: i64,
    deleted: &HashMap<Labels, Vec<Interval>>,
) -> Result<Option<BlockMeta>, Error> {
    write_head_block_observed(parent, head, (mint, maxt, false), deleted, &mut |_| {})
}

/// [`write_head_block`] of `(mint, maxt, out_of_order)` — the last marks
/// a block of out-of-order samples, as Prometheus's meta hint does —
/// handing each chunk written to `observe` (the database's chunk
/// statistics).
pub fn write_head_block_observed(
    parent: &Path,
    head: &Head,
    (mint, maxt, out_of_order): (i64, i64, bool),
    deleted: &HashMap<Labels, Vec<Interval>>,
    observe: &mut dyn FnMut(&ChunkData<'_>),
) -> Result<Option<BlockMeta>, Error> {
    let q = head
        .querier(i64::MIN, i64::MAX)
        .map_err(|e| Error::Invalid(e.to_string()))?;
    let hints = storage::LabelHints::default();
    let (names, _) = q.label_names(&hints, &[]).map_err(read_err)?;
    let mut symbols: BTreeSet<String> = BTreeSet::new();
    for n in names {
        let (values, _) = q.label_values(&n, &hints, &[]).map_err(read_err)?;
        symbols.extend(values);
        symbols.insert(n);
    }
    drop(q);
    let series = head.select_series(mint, maxt - 1, true, 0, &[]);
    let mut meta = BlockMeta::new(Ulid::now(), mint, maxt);
    if out_of_order {
        meta.compaction.hints = vec![HINT_FROM_OUT_OF_ORDER.to_string()];
    }
    let mut b = BlockBuilder::new(parent, meta, symbols.iter().map(String::as_str))?;
    for s in &series {
        // Fast path: the head's chunks lie inside the range and nothing is
        // deleted: copy them as they are (Prometheus does the same).
        if !deleted.contains_key(s.labels())
            && let Some(raw) = s.raw_chunks()
        {
            let raw = raw.map_err(read_err)?;
            let chunks: Vec<ChunkData<'_>> = raw
                .iter()
                .map(|c| ChunkData {
                    encoding: c.encoding,
                    bytes: Cow::Borrowed(&c.bytes),
                    min_time: c.mint,
                    max_time: c.maxt,
                })
                .collect();
            chunks.iter().for_each(&mut *observe);
            b.add_series(s.labels(), &chunks)?;
            continue;
        }
        let mut samples = collect_samples(&mut *s.iterator()).map_err(read_err)?;
        if let Some(ivs) = deleted.get(s.labels()) {
            samples.retain(|(t, _)| !is_deleted(ivs, *t));
        }
        let chunks = encode_samples(&samples).map_err(encode_err(s.labels()))?;
        chunks.iter().for_each(&mut *observe);
        b.add_series(s.labels(), &chunks)?;
    }
    b.finish()
}

/// One source series of a merge.
struct Source {
    labels: Labels,
    chunks: Vec<ChunkMeta>,
    deleted: Vec<Interval>,
    block: usize,
}

/// Walks one block's series in index (label) order.
struct Cursor<'a> {
    block: &'a Arc<Block>,
    index: &'a IndexReader,
    tombstones: Arc<Tombstones>,
    idx: usize,
    refs: Vec<u64>,
    pos: usize,
}

impl Cursor<'_> {
    fn next(&mut self) -> Result<Option<Source>, Error> {
        while let Some(&r) = self.refs.get(self.pos) {
            self.pos += 1;
            let mut chunks = Vec::new();
            let labels = self.block.live_series(
                self.index,
                r,
                &self.tombstones,
                i64::MIN,
                i64::MAX,
                &mut chunks,
            )?;
            if chunks.is_empty() {
                continue;
            }
            return Ok(Some(Source {
                labels,
                chunks,
                deleted: self.tombstones.get(r).to_vec(),
                block: self.idx,
            }));
        }
        Ok(None)
    }
}

/// Merges `blocks` into one new block under `parent` (see the module
/// docs). `None` when nothing is left (everything deleted); the sources
/// are then marked deletable.
pub fn compact_blocks(parent: &Path, blocks: &[Arc<Block>]) -> Result<Option<BlockMeta>, Error> {
    if blocks.is_empty() {
        return Ok(None);
    }
    let metas: Vec<BlockMeta> = blocks.iter().map(|b| b.meta()).collect();
    let ulid = Ulid::now();
    let mut meta = BlockMeta::new(ulid, i64::MAX, i64::MIN);
    let mut sources = BTreeSet::new();
    let mut level = 0;
    for m in &metas {
        meta.min_time = meta.min_time.min(m.min_time);
        meta.max_time = meta.max_time.max(m.max_time);
        sources.extend(m.compaction.sources.iter().copied());
        level = level.max(m.compaction.level);
        meta.compaction.parents.push(BlockDesc {
            ulid: m.ulid,
            min_time: m.min_time,
            max_time: m.max_time,
        });
    }
    meta.compaction.level = level + 1;
    meta.compaction.sources = sources.into_iter().collect();
    if metas.iter().all(BlockMeta::from_out_of_order) {
        meta.compaction.hints = vec![HINT_FROM_OUT_OF_ORDER.to_string()];
    }
    let (mint, maxt) = (meta.min_time, meta.max_time);

    // Symbols: the union of the sources' tables.
    let mut symbols: BTreeSet<&str> = BTreeSet::new();
    for b in blocks {
        let index = b.index()?;
        for sym in index.symbols() {
            symbols.insert(sym.map_err(|source| Error::Index {
                path: b.dir().join("index"),
                source,
            })?);
        }
    }
    let mut cursors = Vec::with_capacity(blocks.len());
    for (i, b) in blocks.iter().enumerate() {
        let index = b.index()?;
        let refs = index.postings("", "").map_err(|source| Error::Index {
            path: b.dir().join("index"),
            source,
        })?;
        cursors.push(Cursor {
            block: b,
            index,
            tombstones: b.tombstones(),
            idx: i,
            refs,
            pos: 0,
        });
    }
    let mut builder = BlockBuilder::new(parent, meta, symbols.iter().copied())?;
    let mut heads: Vec<Option<Source>> = Vec::with_capacity(cursors.len());
    for c in &mut cursors {
        heads.push(c.next()?);
    }
    // The smallest labels among the cursors' current series.
    while let Some(min) = heads.iter().flatten().map(|s| &s.labels).min().cloned() {
        let mut group = Vec::new();
        for (i, h) in heads.iter_mut().enumerate() {
            if h.as_ref().is_some_and(|s| s.labels == min) {
                if let Some(s) = h.take() {
                    group.push(s);
                }
                *h = cursors[i].next()?;
            }
        }
        merge_series(&mut builder, blocks, &min, &group, mint, maxt)?;
    }
    let res = builder.finish()?;
    if res.is_none() {
        for b in blocks {
            b.mark_deletable()?;
        }
    }
    Ok(res)
}

/// Writes one merged series.
fn merge_series(
    builder: &mut BlockBuilder,
    blocks: &[Arc<Block>],
    labels: &Labels,
    group: &[Source],
    mint: i64,
    maxt: i64,
) -> Result<(), Error> {
    let chunk_of = |s: &Source, c: &ChunkMeta| {
        let b = &blocks[s.block];
        b.chunks()?
            .chunk(BlockChunkRef(c.chunk_ref))
            .map_err(|source| Error::Chunks {
                path: b.dir().join("chunks"),
                source,
            })
    };
    // Fast path: one source, nothing deleted inside its chunks, chunks in
    // order: copy the bytes.
    if let [s] = group
        && s.deleted.is_empty()
        && s.chunks.windows(2).all(|w| w[0].max_time < w[1].min_time)
    {
        let mut out = Vec::with_capacity(s.chunks.len());
        for c in &s.chunks {
            let (encoding, bytes) = chunk_of(s, c)?;
            out.push(ChunkData {
                encoding,
                bytes: Cow::Borrowed(bytes),
                min_time: c.min_time,
                max_time: c.max_time,
            });
        }
        return builder.add_series(labels, &out);
    }
    let mut samples: Vec<(i64, Value)> = Vec::new();
    for s in group {
        for c in &s.chunks {
            let (enc, bytes) = chunk_of(s, c)?;
            crate::chunkenc::decode_range(
                enc,
                bytes,
                mint,
                maxt - 1,
                |t| is_deleted(&s.deleted, t),
                &mut samples,
            )
            .map_err(|e| Error::Corrupt {
                path: blocks[s.block].dir().join("chunks"),
                reason: format!("chunk {:#x} of {labels}: {e}", c.chunk_ref),
            })?;
        }
    }
    // Stable: on equal timestamps the earlier source wins.
    samples.sort_by_key(|s| s.0);
    samples.dedup_by_key(|s| s.0);
    let chunks = encode_samples(&samples).map_err(encode_err(labels))?;
    builder.add_series(labels, &chunks)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn m(id: u128, mint: i64, maxt: i64) -> BlockMeta {
        BlockMeta::new(Ulid(id), mint, maxt)
    }

    #[track_caller]
    fn check(metas: &[BlockMeta], want: &[u128]) {
        // As with the default 15d retention: ranges up to 36h.
        let ranges = exponential_block_ranges(2 * H, 3, 3);
        let got: Vec<u128> = plan(metas, &ranges, true).iter().map(|u| u.0).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn planning() {
        check(&[], &[]);
        // The newest block is never compacted with the others at once.
        check(&[m(1, 0, 2 * H), m(2, 2 * H, 4 * H)], &[]);
        // Three 2h blocks fill 6h, but the newest is left out...
        check(
            &[m(1, 0, 2 * H), m(2, 2 * H, 4 * H), m(3, 4 * H, 6 * H)],
            &[],
        );
        // ...unless the range lies before it.
        check(
            &[m(1, 0, 2 * H), m(2, 2 * H, 4 * H), m(3, 8 * H, 10 * H)],
            &[],
        );
        check(
            &[
                m(1, 0, 2 * H),
                m(2, 2 * H, 4 * H),
                m(3, 8 * H, 10 * H),
                m(4, 10 * H, 12 * H),
            ],
            &[1, 2],
        );
        // ...and once a later block exists the full range is taken.
        check(
            &[
                m(1, 0, 2 * H),
                m(2, 2 * H, 4 * H),
                m(3, 4 * H, 6 * H),
                m(4, 6 * H, 8 * H),
            ],
            &[1, 2, 3],
        );
        // 6h blocks make an 18h one.
        check(
            &[
                m(1, 0, 6 * H),
                m(2, 6 * H, 12 * H),
                m(3, 12 * H, 18 * H),
                m(4, 18 * H, 20 * H),
            ],
            &[1, 2, 3],
        );
        // Overlaps first.
        check(
            &[m(1, 0, 2 * H), m(2, H, 3 * H), m(3, 10 * H, 12 * H)],
            &[1, 2],
        );
        // Tombstones in a large block.
        let mut big = m(9, 0, 54 * H);
        big.stats.num_series = 100;
        big.stats.num_tombstones = 10;
        check(&[big.clone(), m(10, 54 * H, 56 * H)], &[9]);
        big.stats.num_tombstones = 5;
        check(&[big, m(10, 54 * H, 56 * H)], &[]);
    }

    #[test]
    fn ranges() {
        assert_eq!(
            exponential_block_ranges(2 * H, 4, 3),
            [2 * H, 6 * H, 18 * H, 54 * H]
        );
        assert_eq!(range_start(-1, 10), -10);
        assert_eq!(range_start(15, 10), 10);
    }
}
