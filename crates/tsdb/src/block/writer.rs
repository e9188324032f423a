//! Writing a block: [`BlockBuilder`] takes series in label order with
//! their chunks, writes chunk segments and the index into
//! `<parent>/<ulid>.tmp-for-creation/`, and on [`BlockBuilder::finish`]
//! writes `meta.json` and an empty `tombstones`, fsyncs, and renames the
//! directory to `<parent>/<ulid>`. Dropped unfinished, it removes its
//! temporary directory. [`encode_samples`] turns decoded samples back into
//! chunks the way Prometheus's compactor does (at most 120 samples each, a
//! new chunk when the kind changes or a histogram needs one).

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use model::Labels;
use storage::vec::Value;

use super::meta::BlockMeta;
use super::tombstones::Tombstones;
use super::{Error, TMP_FOR_CREATION, fsync_dir};
use crate::chunkenc::{self, Chunk, Encoding, HistogramAppend};
use crate::chunks::BlockWriter as ChunkWriter;
use crate::index::{ChunkMeta, IndexWriter};

/// Samples per chunk when re-encoding (Prometheus's compactor uses 120).
pub const SAMPLES_PER_CHUNK: usize = 120;

/// A chunk to write: its encoding, bytes and time range (inclusive).
#[derive(Clone, Debug)]
pub struct ChunkData<'a> {
    /// Encoding.
    pub encoding: Encoding,
    /// Encoded bytes.
    pub bytes: Cow<'a, [u8]>,
    /// First sample's time.
    pub min_time: i64,
    /// Last sample's time.
    pub max_time: i64,
}

impl ChunkData<'_> {
    /// Number of samples (the 2-byte count every encoding starts with).
    pub fn num_samples(&self) -> u64 {
        match self.bytes.get(..2) {
            Some(b) => u64::from(u16::from_be_bytes([b[0], b[1]])),
            None => 0,
        }
    }
}

/// Writes one block (see the module docs).
pub struct BlockBuilder {
    parent: PathBuf,
    tmp: PathBuf,
    meta: BlockMeta,
    chunks: Option<ChunkWriter>,
    index: Option<IndexWriter>,
    last: Option<Labels>,
    metas: Vec<ChunkMeta>,
    done: bool,
}

impl std::fmt::Debug for BlockBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockBuilder")
            .field("tmp", &self.tmp)
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

impl BlockBuilder {
    /// Starts a block described by `meta` (its ULID, range and lineage;
    /// statistics are counted here) under `parent`. `symbols`: every label
    /// name and value the series will use, sorted and unique.
    pub fn new<'s>(
        parent: &Path,
        meta: BlockMeta,
        symbols: impl IntoIterator<Item = &'s str>,
    ) -> Result<BlockBuilder, Error> {
        let tmp = parent.join(format!("{}{TMP_FOR_CREATION}", meta.ulid));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| Error::io("remove", &tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        let chunks_dir = tmp.join("chunks");
        let chunks = ChunkWriter::new(&chunks_dir).map_err(|source| Error::Chunks {
            path: chunks_dir.clone(),
            source,
        })?;
        let index_path = tmp.join("index");
        let index_err = |source| Error::Index {
            path: index_path.clone(),
            source,
        };
        let mut index = IndexWriter::create(&index_path).map_err(index_err)?;
        index.add_symbols(symbols).map_err(index_err)?;
        let mut meta = meta;
        meta.stats = Default::default();
        Ok(BlockBuilder {
            parent: parent.to_path_buf(),
            tmp,
            meta,
            chunks: Some(chunks),
            index: Some(index),
            last: None,
            metas: Vec::new(),
            done: false,
        })
    }

    /// Statistics so far.
    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    /// Adds a series (labels strictly after the previous series') with its
    /// chunks in time order. A series without chunks is skipped.
    pub fn add_series(&mut self, labels: &Labels, chunks: &[ChunkData<'_>]) -> Result<(), Error> {
        if chunks.is_empty() {
            return Ok(());
        }
        if let Some(last) = &self.last
            && labels <= last
        {
            return Err(Error::Invalid(format!(
                "series {labels} added after {last}: series must come in label order"
            )));
        }
        let (Some(cw), Some(iw)) = (self.chunks.as_mut(), self.index.as_mut()) else {
            return Err(Error::Invalid("block builder already finished".into()));
        };
        self.metas.clear();
        for c in chunks {
            let r = cw
                .write_chunk(c.encoding, &c.bytes)
                .map_err(|source| Error::Chunks {
                    path: self.tmp.join("chunks"),
                    source,
                })?;
            self.metas.push(ChunkMeta {
                min_time: c.min_time,
                max_time: c.max_time,
                chunk_ref: r.0,
            });
            let n = c.num_samples();
            let st = &mut self.meta.stats;
            st.num_samples += n;
            match c.encoding {
                Encoding::Xor => st.num_float_samples += n,
                _ => st.num_histogram_samples += n,
            }
            st.num_chunks += 1;
        }
        iw.add_series(labels, &self.metas)
            .map_err(|source| Error::Index {
                path: self.tmp.join("index"),
                source,
            })?;
        self.meta.stats.num_series += 1;
        self.last = Some(labels.clone());
        Ok(())
    }

    /// Completes the block and moves it into place. With no series nothing
    /// is kept and `None` is returned.
    pub fn finish(mut self) -> Result<Option<BlockMeta>, Error> {
        self.done = true;
        let (Some(cw), Some(iw)) = (self.chunks.take(), self.index.take()) else {
            return Err(Error::Invalid("block builder already finished".into()));
        };
        if self.meta.stats.num_series == 0 {
            drop((cw, iw));
            std::fs::remove_dir_all(&self.tmp).map_err(|e| Error::io("remove", &self.tmp, e))?;
            return Ok(None);
        }
        cw.close().map_err(|source| Error::Chunks {
            path: self.tmp.join("chunks"),
            source,
        })?;
        iw.close().map_err(|source| Error::Index {
            path: self.tmp.join("index"),
            source,
        })?;
        self.meta.write(&self.tmp)?;
        Tombstones::new().write(&self.tmp)?;
        fsync_dir(&self.tmp)?;
        let dest = self.parent.join(self.meta.ulid.to_string());
        std::fs::rename(&self.tmp, &dest).map_err(|e| Error::io("rename", &self.tmp, e))?;
        fsync_dir(&self.parent)?;
        Ok(Some(self.meta.clone()))
    }
}

impl Drop for BlockBuilder {
    fn drop(&mut self) {
        if !self.done {
            self.chunks = None;
            self.index = None;
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Encodes sorted samples into chunks of at most [`SAMPLES_PER_CHUNK`]
/// samples; a change of kind starts a new chunk, as does a histogram that
/// cannot join the open one (counter reset, layout change).
pub fn encode_samples(
    samples: &[(i64, Value)],
) -> Result<Vec<ChunkData<'static>>, chunkenc::Error> {
    let mut out = Vec::new();
    let mut cur: Option<(Chunk, i64, i64, usize)> = None;
    let mut prev: Option<Chunk> = None;
    let flush = |cur: &mut Option<(Chunk, i64, i64, usize)>,
                 prev: &mut Option<Chunk>,
                 out: &mut Vec<ChunkData<'static>>| {
        if let Some((c, mint, maxt, _)) = cur.take() {
            out.push(ChunkData {
                encoding: c.encoding(),
                bytes: Cow::Owned(c.bytes().to_vec()),
                min_time: mint,
                max_time: maxt,
            });
            *prev = Some(c);
        }
    };
    for (t, v) in samples {
        let t = *t;
        let enc = match v {
            Value::Float(_) => Encoding::Xor,
            Value::Histogram(_) => Encoding::Histogram,
            Value::FloatHistogram(_) => Encoding::FloatHistogram,
        };
        let start_new = match &cur {
            None => true,
            Some((c, _, _, n)) => c.encoding() != enc || *n >= SAMPLES_PER_CHUNK,
        };
        if start_new {
            flush(&mut cur, &mut prev, &mut out);
            cur = Some((Chunk::new(enc), t, t, 0));
        }
        let Some((chunk, _, maxt, n)) = cur.as_mut() else {
            continue;
        };
        let replaced: Option<Chunk> = match (chunk, v) {
            (Chunk::Xor(c), Value::Float(f)) => {
                c.append(t, *f)?;
                None
            }
            (Chunk::Histogram(c), Value::Histogram(h)) => {
                let p = match &prev {
                    Some(Chunk::Histogram(p)) if *n == 0 => Some(p),
                    _ => None,
                };
                match c.append(p, t, h)? {
                    HistogramAppend::NewChunk(nc) => Some(Chunk::Histogram(nc)),
                    _ => None,
                }
            }
            (Chunk::FloatHistogram(c), Value::FloatHistogram(h)) => {
                let p = match &prev {
                    Some(Chunk::FloatHistogram(p)) if *n == 0 => Some(p),
                    _ => None,
                };
                match c.append(p, t, h)? {
                    HistogramAppend::NewChunk(nc) => Some(Chunk::FloatHistogram(nc)),
                    _ => None,
                }
            }
            // The encoding was chosen from the value above.
            _ => None,
        };
        match replaced {
            Some(nc) => {
                flush(&mut cur, &mut prev, &mut out);
                cur = Some((nc, t, t, 1));
            }
            None => {
                *maxt = t;
                *n += 1;
            }
        }
    }
    flush(&mut cur, &mut prev, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_cuts_at_120_and_on_kind_change() {
        let mut s: Vec<(i64, Value)> = (0..250).map(|i| (i * 10, Value::Float(i as f64))).collect();
        s.push((
            5000,
            Value::Histogram(std::sync::Arc::new(model::Histogram::default())),
        ));
        let chunks = encode_samples(&s).unwrap();
        let sizes: Vec<u64> = chunks.iter().map(ChunkData::num_samples).collect();
        assert_eq!(sizes, [120, 120, 10, 1]);
        assert_eq!((chunks[1].min_time, chunks[1].max_time), (1200, 2390));
        assert_eq!(chunks[3].encoding, Encoding::Histogram);
    }
}
