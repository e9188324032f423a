//! Writes an index file in Prometheus's format v2, byte for byte as
//! Prometheus 2.42's `index.Writer` lays it out (`docs/format/index.md`).
//!
//! Calls come in the file's order: [`IndexWriter::add_symbols`] once, then
//! [`IndexWriter::add_series`] in label order, then [`IndexWriter::close`],
//! which writes the label indices, the postings, the two offset tables and
//! the TOC from what the series added. The writer keeps the symbols and,
//! per label pair of every series, 12 bytes (name and value symbol
//! numbers, series reference) until `close`; Prometheus instead re-reads
//! its series section from disk in batches.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use model::Labels;

use super::enc::{Toc, put_uvarint, put_uvarint_str, put_varint, uvarint_len};
use super::{ChunkMeta, Error, FORMAT_V2, HEADER_LEN, MAGIC_INDEX, SERIES_ALIGNMENT, io_err};

/// Writes one index file. See the module documentation for the call order.
pub struct IndexWriter {
    path: PathBuf,
    w: BufWriter<File>,
    /// Bytes written so far (the file offset of the next byte).
    pos: u64,
    toc: Toc,
    /// The symbol table, once written; binary-searched for symbol numbers.
    symbols: Option<Vec<Box<str>>>,
    last_series: Option<Labels>,
    /// Every series reference, in order: the all-postings list.
    series: Vec<u32>,
    /// (name symbol, value symbol, series reference) of every label pair.
    pairs: Vec<(u32, u32, u32)>,
    /// Scratch: one entry's bytes.
    buf: Vec<u8>,
    /// Scratch: symbol numbers of the series being added.
    syms: Vec<(u32, u32)>,
}

impl std::fmt::Debug for IndexWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexWriter")
            .field("path", &self.path)
            .field("pos", &self.pos)
            .field("series", &self.series.len())
            .finish()
    }
}

impl IndexWriter {
    /// Creates the file (it must not exist) and writes the header.
    pub fn create(path: &Path) -> Result<IndexWriter, Error> {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(io_err("create", path))?;
        let mut w = IndexWriter {
            path: path.to_path_buf(),
            w: BufWriter::with_capacity(1 << 20, f),
            pos: 0,
            toc: Toc::default(),
            symbols: None,
            last_series: None,
            series: Vec::new(),
            pairs: Vec::new(),
            buf: Vec::with_capacity(256),
            syms: Vec::new(),
        };
        let mut header = [0u8; HEADER_LEN];
        header[..4].copy_from_slice(&MAGIC_INDEX.to_be_bytes());
        header[4] = FORMAT_V2;
        w.write(&header)?;
        Ok(w)
    }

    fn write(&mut self, b: &[u8]) -> Result<(), Error> {
        self.w.write_all(b).map_err(io_err("write", &self.path))?;
        self.pos += b.len() as u64;
        Ok(())
    }

    /// Writes the scratch buffer.
    fn write_buf(&mut self) -> Result<(), Error> {
        let buf = std::mem::take(&mut self.buf);
        let r = self.write(&buf);
        self.buf = buf;
        r
    }

    /// Zero bytes up to the next multiple of `align`.
    fn pad(&mut self, align: u64) -> Result<(), Error> {
        let rem = self.pos % align;
        if rem != 0 {
            const ZEROS: [u8; 16] = [0; 16];
            self.write(&ZEROS[..(align - rem) as usize])?;
        }
        Ok(())
    }

    fn invalid(&self, op: &'static str, reason: String) -> Error {
        Error::Invalid {
            op,
            path: self.path.clone(),
            offset: self.pos,
            reason,
        }
    }

    /// All symbols, once, sorted ascending, unique, before any series.
    pub fn add_symbols<'a>(
        &mut self,
        symbols: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), Error> {
        const OP: &str = "add symbols";
        if self.symbols.is_some() {
            return Err(self.invalid(OP, "symbols were already written".into()));
        }
        let mut list: Vec<Box<str>> = Vec::new();
        // Content after the length field: the count, then the entries.
        let mut len = 4u64;
        for s in symbols {
            if let Some(prev) = list.last()
                && **prev >= *s
            {
                return Err(self.invalid(
                    OP,
                    format!("symbol {s:?} after {prev:?}: symbols must be sorted and unique"),
                ));
            }
            len += (uvarint_len(s.len() as u64) + s.len()) as u64;
            list.push(s.into());
        }
        self.write_symbols(list, len)
    }

    fn write_symbols(&mut self, list: Vec<Box<str>>, len: u64) -> Result<(), Error> {
        const OP: &str = "add symbols";
        let len = u32::try_from(len).map_err(|_| {
            self.invalid(
                OP,
                format!("symbol table of {len} bytes exceeds the 4-byte length"),
            )
        })?;
        let count = u32::try_from(list.len())
            .map_err(|_| self.invalid(OP, format!("{} symbols are too many", list.len())))?;
        self.toc.symbols = self.pos;
        self.write(&len.to_be_bytes())?;
        self.write(&count.to_be_bytes())?;
        let mut crc = crc32c::crc32c(&count.to_be_bytes());
        for s in &list {
            self.buf.clear();
            put_uvarint_str(&mut self.buf, s);
            crc = crc32c::crc32c_append(crc, &self.buf);
            self.write_buf()?;
        }
        self.write(&crc.to_be_bytes())?;
        self.symbols = Some(list);
        self.toc.series = self.pos;
        Ok(())
    }

    /// Writes an empty symbol table if none was written.
    fn ensure_symbols(&mut self) -> Result<(), Error> {
        if self.symbols.is_none() {
            self.write_symbols(Vec::new(), 4)?;
        }
        Ok(())
    }

    fn symbol(&self, s: &str) -> Option<u32> {
        let list = self.symbols.as_deref()?;
        list.binary_search_by(|x| (**x).cmp(s))
            .ok()
            .and_then(|i| u32::try_from(i).ok())
    }

    /// Series in ascending label order (`model::Labels` `Ord`), chunks
    /// sorted by `min_time`. Returns the series reference written into
    /// postings (the entry's offset / 16).
    pub fn add_series(&mut self, labels: &Labels, chunks: &[ChunkMeta]) -> Result<u64, Error> {
        const OP: &str = "add series";
        self.ensure_symbols()?;
        if labels.is_empty() {
            return Err(self.invalid(OP, "a series needs at least one label".into()));
        }
        if let Some(last) = &self.last_series
            && labels <= last
        {
            return Err(self.invalid(
                OP,
                format!("series {labels} is not after {last}: series must be sorted and unique"),
            ));
        }
        let mut syms = std::mem::take(&mut self.syms);
        syms.clear();
        for (n, v) in labels.iter() {
            let (Some(ns), Some(vs)) = (self.symbol(n), self.symbol(v)) else {
                let missing = if self.symbol(n).is_none() { n } else { v };
                self.syms = syms;
                return Err(self.invalid(
                    OP,
                    format!("series {labels}: symbol {missing:?} is not in the symbol table"),
                ));
            };
            syms.push((ns, vs));
        }
        let mut prev: Option<&ChunkMeta> = None;
        for c in chunks {
            let bad = if c.max_time < c.min_time {
                Some("ends before it starts")
            } else if prev.is_some_and(|p| c.min_time < p.min_time) {
                Some("starts before the previous chunk")
            } else {
                None
            };
            if let Some(why) = bad {
                self.syms = syms;
                return Err(self.invalid(OP, format!("series {labels}: chunk {c:?} {why}")));
            }
            prev = Some(c);
        }

        self.pad(SERIES_ALIGNMENT)?;
        let Ok(series_ref) = u32::try_from(self.pos / SERIES_ALIGNMENT) else {
            self.syms = syms;
            return Err(self.invalid(
                OP,
                "series reference exceeds 32 bits: the index is too large".into(),
            ));
        };

        // The entry's content: labels, then chunk metas with deltas.
        let mut body = std::mem::take(&mut self.buf);
        body.clear();
        put_uvarint(&mut body, syms.len() as u64);
        for &(n, v) in &syms {
            put_uvarint(&mut body, u64::from(n));
            put_uvarint(&mut body, u64::from(v));
            self.pairs.push((n, v, series_ref));
        }
        put_uvarint(&mut body, chunks.len() as u64);
        if let Some((first, rest)) = chunks.split_first() {
            put_varint(&mut body, first.min_time);
            put_uvarint(
                &mut body,
                first.max_time.wrapping_sub(first.min_time) as u64,
            );
            put_uvarint(&mut body, first.chunk_ref);
            let mut t0 = first.max_time;
            let mut ref0 = first.chunk_ref;
            for c in rest {
                put_uvarint(&mut body, c.min_time.wrapping_sub(t0) as u64);
                put_uvarint(&mut body, c.max_time.wrapping_sub(c.min_time) as u64);
                put_varint(&mut body, c.chunk_ref.wrapping_sub(ref0) as i64);
                t0 = c.max_time;
                ref0 = c.chunk_ref;
            }
        }
        let crc = crc32c::crc32c(&body);
        let mut head = [0u8; 10];
        let mut hv = Vec::with_capacity(10);
        put_uvarint(&mut hv, body.len() as u64);
        head[..hv.len()].copy_from_slice(&hv);
        let r = self
            .write(&head[..hv.len()])
            .and_then(|()| self.write(&body))
            .and_then(|()| self.write(&crc.to_be_bytes()));
        self.buf = body;
        self.syms = syms;
        r?;
        self.series.push(series_ref);
        self.last_series = Some(labels.clone());
        Ok(u64::from(series_ref))
    }

    /// Writes label indices, postings, offset tables and the TOC; flushes
    /// and fsyncs the file and its directory.
    pub fn close(mut self) -> Result<(), Error> {
        self.ensure_symbols()?;
        // Sorting by symbol numbers sorts by strings: the table is sorted.
        // References were added ascending, so each list comes out sorted.
        let mut pairs = std::mem::take(&mut self.pairs);
        pairs.sort_unstable();

        // Label indices: one per label name, its values' symbol numbers.
        self.toc.label_indices = self.pos;
        let mut label_offsets: Vec<(u32, u64)> = Vec::new();
        let mut i = 0;
        while i < pairs.len() {
            let name = pairs[i].0;
            let end = i + pairs[i..].partition_point(|p| p.0 == name);
            self.pad(4)?;
            label_offsets.push((name, self.pos));
            self.buf.clear();
            self.buf.extend_from_slice(&[0; 4]); // length, set below
            self.buf.extend_from_slice(&1u32.to_be_bytes());
            self.buf.extend_from_slice(&[0; 4]); // count, set below
            let mut count = 0u32;
            let mut last = None;
            for p in &pairs[i..end] {
                if last != Some(p.1) {
                    self.buf.extend_from_slice(&p.1.to_be_bytes());
                    count += 1;
                    last = Some(p.1);
                }
            }
            self.finish_table("write label index", 8, count)?;
            i = end;
        }

        // Postings: the all-postings list, then one list per label pair.
        self.toc.postings = self.pos;
        self.pad(4)?;
        let mut postings_offsets: Vec<(Option<(u32, u32)>, u64)> = Vec::new();
        postings_offsets.push((None, self.pos));
        let all = std::mem::take(&mut self.series);
        self.write_postings(all.iter().copied())?;
        let mut i = 0;
        while i < pairs.len() {
            let key = (pairs[i].0, pairs[i].1);
            let end = i + pairs[i..].partition_point(|p| (p.0, p.1) == key);
            self.pad(4)?;
            postings_offsets.push((Some(key), self.pos));
            self.write_postings(pairs[i..end].iter().map(|p| p.2))?;
            i = end;
        }
        drop(pairs);

        // Label offset table (label name → label index).
        self.toc.label_indices_table = self.pos;
        self.buf.clear();
        self.buf.extend_from_slice(&[0; 8]); // length and count, set below
        let symbols = self.symbols.take().unwrap_or_default();
        for &(name, off) in &label_offsets {
            put_uvarint(&mut self.buf, 1);
            put_uvarint_str(&mut self.buf, sym(&symbols, name));
            put_uvarint(&mut self.buf, off);
        }
        self.finish_table("write label offset table", 4, label_offsets.len() as u32)?;

        // Postings offset table (label pair → postings list).
        self.toc.postings_table = self.pos;
        self.buf.clear();
        self.buf.extend_from_slice(&[0; 8]);
        let count = u32::try_from(postings_offsets.len()).map_err(|_| {
            self.invalid("write postings offset table", "too many label pairs".into())
        })?;
        for &(key, off) in &postings_offsets {
            let (n, v) = match key {
                None => ("", ""),
                Some((n, v)) => (sym(&symbols, n), sym(&symbols, v)),
            };
            put_uvarint(&mut self.buf, 2);
            put_uvarint_str(&mut self.buf, n);
            put_uvarint_str(&mut self.buf, v);
            put_uvarint(&mut self.buf, off);
        }
        self.finish_table("write postings offset table", 4, count)?;

        let toc = self.toc.encode();
        self.write(&toc)?;

        let path = self.path.clone();
        let f = self.w.into_inner().map_err(|e| Error::Io {
            op: "flush",
            path: path.clone(),
            source: e.into_error(),
        })?;
        f.sync_all().map_err(io_err("sync", &path))?;
        drop(f);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io_err("sync", dir))?;
        }
        Ok(())
    }

    /// Completes the table in the scratch buffer — a 4-byte length slot,
    /// content, with a 4-byte count at `count_at` — and writes it with its
    /// length and CRC (over everything after the length).
    fn finish_table(&mut self, op: &'static str, count_at: usize, count: u32) -> Result<(), Error> {
        let len = u32::try_from(self.buf.len() - 4).map_err(|_| {
            self.invalid(
                op,
                format!(
                    "section of {} bytes exceeds the 4-byte length",
                    self.buf.len()
                ),
            )
        })?;
        self.buf[..4].copy_from_slice(&len.to_be_bytes());
        self.buf[count_at..count_at + 4].copy_from_slice(&count.to_be_bytes());
        let crc = crc32c::crc32c(&self.buf[4..]);
        self.buf.extend_from_slice(&crc.to_be_bytes());
        self.write_buf()
    }

    /// Writes one postings list: length, count, big-endian references, CRC.
    fn write_postings(&mut self, refs: impl Iterator<Item = u32>) -> Result<(), Error> {
        self.buf.clear();
        self.buf.extend_from_slice(&[0; 8]);
        let mut n = 0u32;
        for r in refs {
            self.buf.extend_from_slice(&r.to_be_bytes());
            n += 1;
        }
        self.finish_table("write postings", 4, n)
    }
}

fn sym(symbols: &[Box<str>], i: u32) -> &str {
    symbols.get(i as usize).map_or("", |s| s)
}
