//! Checkpoints (compacted copies of old segments) and replay on open.
//!
//! A checkpoint `checkpoint.NNNNNNNN` is a directory holding a WAL in the
//! same segment format, containing everything from segments `..=NNNNNNNN`
//! (and the previous checkpoint) that still matters: series the head keeps,
//! samples, histograms, tombstones and exemplars at or after `mint`, and the
//! latest metadata per kept series. Replay reads the last checkpoint, then
//! the segments after it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};

use model::Timestamp;

use super::segment::fsync_dir;
use super::{Compression, Error, Options, Reader};
use crate::record::{self, HeadSeriesRef, RecordType};

const PREFIX: &str = "checkpoint.";
const TMP_SUFFIX: &str = ".tmp";
/// Records are handed to the checkpoint writer in batches of this size.
const FLUSH_BYTES: usize = 1 << 20;
/// Batches of raw records queued between the replay reader thread and the
/// caller (each up to [`REPLAY_BATCH_BYTES`]).
const REPLAY_QUEUE_CAPACITY: usize = 8;
/// Size at which the replay reader hands a batch over.
const REPLAY_BATCH_BYTES: usize = 1 << 20;
/// Room a batch has past `REPLAY_BATCH_BYTES` for its last record.
const REPLAY_BATCH_SLACK: usize = 1 << 16;

/// What [`checkpoint()`] kept and dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckpointStats {
    /// Series read.
    pub total_series: usize,
    /// Series dropped because `keep` refused them.
    pub dropped_series: usize,
    /// Float and histogram samples read.
    pub total_samples: usize,
    /// Samples dropped because they are older than `mint`.
    pub dropped_samples: usize,
    /// Tombstones read.
    pub total_tombstones: usize,
    /// Tombstones dropped because their series left the head.
    pub dropped_tombstones: usize,
    /// Exemplars read.
    pub total_exemplars: usize,
    /// Exemplars dropped because they are older than `mint`.
    pub dropped_exemplars: usize,
    /// Metadata entries read.
    pub total_metadata: usize,
    /// Metadata entries dropped (superseded, or of dropped series).
    pub dropped_metadata: usize,
}

/// The directory of checkpoint `index` in `dir`.
pub fn checkpoint_dir(dir: &Path, index: u32) -> PathBuf {
    dir.join(format!("{PREFIX}{index:08}"))
}

fn list_checkpoints(dir: &Path) -> Result<Vec<(u32, PathBuf)>, Error> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(Error::io("list WAL directory", dir))? {
        let entry = entry.map_err(Error::io("list WAL directory", dir))?;
        let name = entry.file_name();
        let Some(digits) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            continue; // Temporary directories and strays.
        }
        let Ok(index) = digits.parse::<u32>() else {
            continue;
        };
        out.push((index, entry.path()));
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out)
}

/// The most recent checkpoint in `dir` and its index, if any.
pub fn last_checkpoint(dir: &Path) -> Result<Option<(PathBuf, u32)>, Error> {
    Ok(list_checkpoints(dir)?.pop().map(|(i, p)| (p, i)))
}

/// Deletes every checkpoint in `dir` with index below `max_index`.
pub fn delete_checkpoints(dir: &Path, max_index: u32) -> Result<(), Error> {
    for (index, path) in list_checkpoints(dir)? {
        if index >= max_index {
            break;
        }
        std::fs::remove_dir_all(&path).map_err(Error::io("delete checkpoint", &path))?;
    }
    Ok(())
}

fn delete_temp_checkpoints(dir: &Path) -> Result<(), Error> {
    for entry in std::fs::read_dir(dir).map_err(Error::io("list WAL directory", dir))? {
        let entry = entry.map_err(Error::io("list WAL directory", dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(PREFIX) && name.ends_with(TMP_SUFFIX) {
            let path = entry.path();
            std::fs::remove_dir_all(&path)
                .map_err(Error::io("delete temporary checkpoint", &path))?;
        }
    }
    Ok(())
}

/// Writes checkpoint `to` for the WAL in `dir` from the last checkpoint
/// (if any) and segments `from..=to`: series for which `keep` is true,
/// samples, histograms and exemplars at or after `mint`, tombstones ending
/// at or after `mint`, and the latest metadata of each kept series. Other
/// record types (m-map markers, unknown types) are dropped, as in
/// Prometheus.
///
/// The checkpoint is written to `checkpoint.NNNNNNNN.tmp`, fsynced, and
/// renamed into place (replacing one of the same index); the parent
/// directory is fsynced after the rename. A corruption in the input fails
/// the checkpoint: repairing would lose series records the head relies on.
/// Older checkpoints and segments are left to [`delete_checkpoints`] and
/// [`super::truncate()`].
pub fn checkpoint(
    dir: &Path,
    from: u32,
    to: u32,
    keep: impl Fn(HeadSeriesRef) -> bool,
    mint: Timestamp,
    compression: Compression,
) -> Result<CheckpointStats, Error> {
    tracing::info!(dir = %dir.display(), from, to, mint = mint.0, "creating WAL checkpoint");
    let mut readers = Vec::new();
    let mut from = from;
    if let Some((cp, index)) = last_checkpoint(dir)? {
        let next = index.saturating_add(1);
        if from > next {
            return Err(Error::CheckpointGap {
                dir: dir.to_path_buf(),
                from,
                last: index,
            });
        }
        from = next;
        readers.push(Reader::open(cp)?);
    }
    readers.push(Reader::open_range(dir, Some(from), Some(to))?);

    delete_temp_checkpoints(dir)?;
    let final_dir = checkpoint_dir(dir, to);
    let tmp = dir.join(format!("{PREFIX}{to:08}{TMP_SUFFIX}"));
    let result = write_checkpoint(dir, &tmp, &mut readers, &keep, mint, compression);
    let stats = match result {
        Ok(stats) => stats,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(Error::io("replace checkpoint", &final_dir))?;
    }
    std::fs::rename(&tmp, &final_dir).map_err(Error::io("rename checkpoint", &final_dir))?;
    fsync_dir(dir)?;
    Ok(stats)
}

fn write_checkpoint(
    dir: &Path,
    tmp: &Path,
    readers: &mut [Reader],
    keep: &impl Fn(HeadSeriesRef) -> bool,
    mint: Timestamp,
    compression: Compression,
) -> Result<CheckpointStats, Error> {
    std::fs::create_dir_all(tmp).map_err(Error::io("create checkpoint directory", tmp))?;
    let mut cp = super::Wal::open(
        tmp,
        Options {
            compression,
            ..Options::default()
        },
    )?;
    let mut stats = CheckpointStats::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut ends: Vec<usize> = Vec::new();
    let mut latest_metadata: HashMap<HeadSeriesRef, record::RefMetadata> = HashMap::new();
    let mut series = Vec::new();
    let mut samples = Vec::new();
    let mut hs = Vec::new();
    let mut fhs = Vec::new();
    let mut stones = Vec::new();
    let mut exemplars = Vec::new();
    let mut metadata = Vec::new();
    let decode_err = |source| Error::Record {
        dir: dir.to_path_buf(),
        source,
    };

    let flush =
        |cp: &mut super::Wal, buf: &mut Vec<u8>, ends: &mut Vec<usize>| -> Result<(), Error> {
            let mut recs = Vec::with_capacity(ends.len());
            let mut start = 0;
            for &end in ends.iter() {
                recs.push(&buf[start..end]);
                start = end;
            }
            if !recs.is_empty() {
                cp.log(&recs)?;
            }
            buf.clear();
            ends.clear();
            Ok(())
        };

    for reader in readers.iter_mut() {
        while let Some(rec) = reader.next_record()? {
            let start = buf.len();
            match RecordType::of(rec) {
                RecordType::Series => {
                    series.clear();
                    record::decode_series(rec, &mut series).map_err(decode_err)?;
                    let n = series.len();
                    series.retain(|s| keep(s.series));
                    stats.total_series += n;
                    stats.dropped_series += n - series.len();
                    if !series.is_empty() {
                        record::encode_series(&series, &mut buf);
                    }
                }
                RecordType::Samples => {
                    samples.clear();
                    record::decode_samples(rec, &mut samples).map_err(decode_err)?;
                    let n = samples.len();
                    samples.retain(|s| s.t >= mint);
                    stats.total_samples += n;
                    stats.dropped_samples += n - samples.len();
                    if !samples.is_empty() {
                        record::encode_samples(&samples, &mut buf);
                    }
                }
                t @ (RecordType::HistogramSamples | RecordType::CustomBucketsHistogramSamples) => {
                    hs.clear();
                    record::decode_histogram_samples(rec, &mut hs).map_err(decode_err)?;
                    let n = hs.len();
                    hs.retain(|s| s.t >= mint);
                    stats.total_samples += n;
                    stats.dropped_samples += n - hs.len();
                    if !hs.is_empty() {
                        if t == RecordType::HistogramSamples {
                            record::encode_histogram_samples(&hs, &mut buf);
                        } else {
                            record::encode_custom_buckets_histogram_samples(&hs, &mut buf);
                        }
                    }
                }
                t @ (RecordType::FloatHistogramSamples
                | RecordType::CustomBucketsFloatHistogramSamples) => {
                    fhs.clear();
                    record::decode_float_histogram_samples(rec, &mut fhs).map_err(decode_err)?;
                    let n = fhs.len();
                    fhs.retain(|s| s.t >= mint);
                    stats.total_samples += n;
                    stats.dropped_samples += n - fhs.len();
                    if !fhs.is_empty() {
                        if t == RecordType::FloatHistogramSamples {
                            record::encode_float_histogram_samples(&fhs, &mut buf);
                        } else {
                            record::encode_custom_buckets_float_histogram_samples(&fhs, &mut buf);
                        }
                    }
                }
                RecordType::Tombstones => {
                    stones.clear();
                    record::decode_tombstones(rec, &mut stones).map_err(decode_err)?;
                    let n = stones.len();
                    // Kept for every series still in the head, even when
                    // they end before `mint`: after a restart the head's
                    // memory-mapped chunks can bring back older samples of
                    // the series (when no block marks them as persisted,
                    // e.g. everything in the range was deleted), and the
                    // deletion must still hide them. Prometheus drops them.
                    stones.retain(|s| keep(s.series));
                    stats.total_tombstones += n;
                    stats.dropped_tombstones += n - stones.len();
                    if !stones.is_empty() {
                        record::encode_tombstones(&stones, &mut buf);
                    }
                }
                RecordType::Exemplars => {
                    exemplars.clear();
                    record::decode_exemplars(rec, &mut exemplars).map_err(decode_err)?;
                    let n = exemplars.len();
                    exemplars.retain(|e| e.t >= mint);
                    stats.total_exemplars += n;
                    stats.dropped_exemplars += n - exemplars.len();
                    if !exemplars.is_empty() {
                        record::encode_exemplars(&exemplars, &mut buf);
                    }
                }
                RecordType::Metadata => {
                    metadata.clear();
                    record::decode_metadata(rec, &mut metadata).map_err(decode_err)?;
                    let n = metadata.len();
                    let mut new = 0;
                    for m in metadata.drain(..) {
                        if keep(m.series) && latest_metadata.insert(m.series, m).is_none() {
                            new += 1;
                        }
                    }
                    stats.total_metadata += n;
                    stats.dropped_metadata += n - new;
                }
                RecordType::MmapMarkers | RecordType::Unknown => {}
            }
            if buf.len() > start {
                ends.push(buf.len());
            }
            if buf.len() > FLUSH_BYTES {
                flush(&mut cp, &mut buf, &mut ends)?;
            }
        }
    }
    flush(&mut cp, &mut buf, &mut ends)?;
    if !latest_metadata.is_empty() {
        let mut latest: Vec<_> = latest_metadata.into_values().collect();
        latest.sort_by_key(|m| m.series);
        record::encode_metadata(&latest, &mut buf);
        cp.log(&[&buf])?;
    }
    cp.close()?;
    fsync_dir(tmp)?;
    Ok(stats)
}

/// Where a replayed record comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplaySource {
    /// Checkpoint `index`, its segment `segment`.
    Checkpoint {
        /// The checkpoint's index (the last WAL segment it covers).
        index: u32,
        /// The segment within the checkpoint.
        segment: u32,
    },
    /// WAL segment `segment`.
    Segment {
        /// The segment index.
        segment: u32,
    },
}

struct Batch {
    source: ReplaySource,
    data: Vec<u8>,
    ends: Vec<usize>,
}

/// Reads the WAL in `dir` as the head does on open: the last checkpoint,
/// then every segment after it, calling `apply` with each record in order.
///
/// Reading, checksumming and decompressing run on a separate thread,
/// 8 batches of up to 1 MiB ahead of `apply`, which runs on the
/// caller's thread (Prometheus reads and decodes serially). A corruption in
/// a segment is returned after every record before it was applied; the
/// caller may then [`super::repair()`] it. The records of a corrupt checkpoint
/// must not be repaired away: the error names the checkpoint directory.
pub fn replay(dir: &Path, mut apply: impl FnMut(ReplaySource, &[u8])) -> Result<(), Error> {
    let mut plan: Vec<(Option<u32>, Reader)> = Vec::new();
    let mut first = None;
    if let Some((cp, index)) = last_checkpoint(dir)? {
        plan.push((Some(index), Reader::open(cp)?));
        first = Some(index.saturating_add(1));
    }
    plan.push((None, Reader::open_range(dir, first, None)?));

    let (tx, rx) = sync_channel::<Result<Batch, Error>>(REPLAY_QUEUE_CAPACITY);
    // Applied batches go back to the reader for reuse: a fresh megabyte
    // per batch costs page faults and zeroing on both threads.
    let (back, recycled) = channel::<Batch>();
    std::thread::scope(|s| {
        s.spawn(move || read_batches(plan, tx, recycled));
        for msg in rx {
            let batch = msg?;
            let mut start = 0;
            for &end in &batch.ends {
                apply(batch.source, &batch.data[start..end]);
                start = end;
            }
            let _ = back.send(batch);
        }
        Ok(())
    })
}

fn read_batches(
    plan: Vec<(Option<u32>, Reader)>,
    tx: SyncSender<Result<Batch, Error>>,
    recycled: Receiver<Batch>,
) {
    // A batch's source is set by its first record.
    let fresh = || match recycled.try_recv() {
        Ok(mut b) => {
            b.data.clear();
            b.ends.clear();
            b
        }
        Err(_) => Batch {
            source: ReplaySource::Segment { segment: 0 },
            data: Vec::with_capacity(REPLAY_BATCH_BYTES + REPLAY_BATCH_SLACK),
            ends: Vec::new(),
        },
    };
    // Sends a batch with records; false if the receiver is gone.
    let send = |b: Batch| b.ends.is_empty() || tx.send(Ok(b)).is_ok();
    for (cp, mut reader) in plan {
        let mut b = fresh();
        loop {
            if b.data.len() >= REPLAY_BATCH_BYTES && !send(std::mem::replace(&mut b, fresh())) {
                return;
            }
            // Records are read straight into the batch.
            let start = b.data.len();
            match reader.advance_into(&mut b.data) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    if send(b) {
                        let _ = tx.send(Err(e));
                    }
                    return;
                }
            }
            let segment = reader.position().segment;
            let source = match cp {
                Some(index) => ReplaySource::Checkpoint { index, segment },
                None => ReplaySource::Segment { segment },
            };
            if b.ends.is_empty() {
                b.source = source;
            } else if b.source != source {
                // The first record of a segment starts a batch of its own.
                let mut next = fresh();
                next.source = source;
                next.data.extend_from_slice(&b.data[start..]);
                b.data.truncate(start);
                if !send(std::mem::replace(&mut b, next)) {
                    return;
                }
            }
            b.ends.push(b.data.len());
        }
        if !send(b) {
            return;
        }
    }
}
