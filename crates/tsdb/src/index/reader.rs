//! Reads an index file (format v2) through a memory map.
//!
//! At open: header, TOC (CRC), symbol table (CRC, UTF-8, order), label
//! offset table (CRC) and postings offset table (CRC, order) are checked;
//! every 8th symbol's offset and, per label name, every 32nd value with
//! its entry's offset stay in memory (Prometheus keeps every 32nd of both).
//! Series entries and postings lists are checked (bounds and CRC) when
//! read. Nothing here panics on corrupt input: every read is
//! bounds-checked and bad data is an [`Error::Corrupt`] naming the file,
//! section and offset.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use model::Labels;
use model::matcher::Matcher;

use super::enc::{BigEndianPostings, Dec, Toc};
use super::matchers::{PostingsSource, postings_for_matchers};
use super::postings::{BoxPostings, EmptyPostings, collect, merge};
use super::{ChunkMeta, Error, FORMAT_V2, HEADER_LEN, MAGIC_INDEX, SERIES_ALIGNMENT, TOC_LEN};

/// Every `SAMPLE_EVERY`th value of a label name is kept in memory (as
/// Prometheus does).
const SAMPLE_EVERY: usize = 32;
/// Every `SYMBOL_SAMPLE_EVERY`th symbol's offset is kept in memory, as a
/// `u32` (half a byte per symbol). Prometheus keeps every 32nd; 8 decodes
/// series 2.5 times faster (`benches/index.rs`: 155 ms → 60 ms for 100k
/// series under load) for 4 more bytes per 32 symbols.
const SYMBOL_SAMPLE_EVERY: usize = 8;

const SYMBOLS: &str = "symbol table";
const SERIES: &str = "series";
const POSTINGS: &str = "postings";
const POSTINGS_TABLE: &str = "postings offset table";
const LABEL_TABLE: &str = "label offset table";

/// A memory-mapped index file.
pub struct IndexReader {
    path: PathBuf,
    map: memmap2::Mmap,
    toc: Toc,
    /// Where the TOC starts: no section may reach past it.
    toc_start: usize,
    /// End of the series section (the next section's start).
    series_end: usize,
    symbols: SymbolTable,
    /// Label names (without the all-postings `""`), ascending.
    names: Vec<NameOffsets>,
    /// Offset of the all-postings list, if the table has one.
    all: Option<u64>,
    num_series: usize,
}

impl std::fmt::Debug for IndexReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexReader")
            .field("path", &self.path)
            .field("size", &self.map.len())
            .field("symbols", &self.symbols.count)
            .field("names", &self.names.len())
            .field("series", &self.num_series)
            .finish()
    }
}

#[derive(Debug, Default)]
struct SymbolTable {
    /// File offset of the first symbol.
    base: usize,
    /// Offsets of symbols 0, 8, 16, ... relative to `base` (the table's
    /// length is a `u32`).
    samples: Vec<u32>,
    /// End of the entries (the CRC's offset).
    end: usize,
    count: u32,
}

/// The postings offset table entries of one label name, sampled.
#[derive(Debug)]
struct NameOffsets {
    name: Box<str>,
    /// Values 0, 32, 64, ... of the name with their entries' offsets.
    samples: Vec<(Box<str>, usize)>,
    /// Offset just past the name's last entry.
    end: usize,
}

fn corrupt(path: &Path, section: &'static str, offset: usize, reason: String) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        section,
        offset: offset as u64,
        reason,
    }
}

/// The content of the section at `off`: a 4-byte big-endian length, that
/// many bytes, a CRC32C of them; `limit` is where the section must end.
fn section<'a>(
    path: &Path,
    b: &'a [u8],
    name: &'static str,
    off: usize,
    limit: usize,
) -> Result<Dec<'a>, Error> {
    let limit = limit.min(b.len());
    let Some(lb) = off
        .checked_add(4)
        .filter(|&e| e <= limit)
        .map(|e| &b[off..e])
    else {
        return Err(corrupt(
            path,
            name,
            off,
            format!("section length at offset {off} runs past the end ({limit})"),
        ));
    };
    let len = u32::from_be_bytes([lb[0], lb[1], lb[2], lb[3]]) as usize;
    let start = off + 4;
    let end = start + len;
    if end.saturating_add(4) > limit {
        return Err(corrupt(
            path,
            name,
            off,
            format!("section of {len} bytes runs past the end ({limit})"),
        ));
    }
    let c = &b[end..end + 4];
    let want = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
    let got = crc32c::crc32c(&b[start..end]);
    if want != got {
        return Err(corrupt(
            path,
            name,
            end,
            format!("checksum mismatch: stored {want:#010x}, computed {got:#010x}"),
        ));
    }
    Ok(Dec::new(&b[start..end], start))
}

impl IndexReader {
    /// Maps the file and checks header, TOC, symbol table and offset
    /// tables.
    pub fn open(path: &Path) -> Result<IndexReader, Error> {
        let map = crate::chunks::map_file(path).map_err(|e| match e {
            crate::chunks::Error::Io { op, path, source } => Error::Io { op, path, source },
            other => Error::Io {
                op: "map",
                path: path.to_path_buf(),
                source: std::io::Error::other(other.to_string()),
            },
        })?;
        let b: &[u8] = &map;
        let Some(h) = b.first_chunk::<HEADER_LEN>() else {
            return Err(corrupt(
                path,
                "header",
                0,
                format!("file of {} bytes is shorter than the header", b.len()),
            ));
        };
        let magic = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        if magic != MAGIC_INDEX {
            return Err(corrupt(
                path,
                "header",
                0,
                format!("invalid magic number {magic:#010x}, want {MAGIC_INDEX:#010x}"),
            ));
        }
        if h[4] != FORMAT_V2 {
            return Err(corrupt(
                path,
                "header",
                4,
                format!("unsupported index format version {}, want 2", h[4]),
            ));
        }
        let toc_start = b.len().checked_sub(TOC_LEN).filter(|&s| s >= HEADER_LEN);
        let Some(toc_start) = toc_start else {
            return Err(corrupt(
                path,
                "table of contents",
                0,
                format!("file of {} bytes is too short for a TOC", b.len()),
            ));
        };
        let toc = read_toc(path, b, toc_start)?;
        let starts = toc.refs();
        let series_end = if toc.series == 0 {
            0
        } else {
            starts
                .iter()
                .map(|&r| r as usize)
                .filter(|&r| r > toc.series as usize)
                .chain([toc_start])
                .min()
                .unwrap_or(toc_start)
        };
        let symbols = read_symbols(path, b, toc.symbols as usize, toc_start)?;
        if toc.label_indices_table != 0 {
            check_label_table(path, b, toc.label_indices_table as usize, toc_start)?;
        }
        let (names, all) = if toc.postings_table == 0 {
            (Vec::new(), None)
        } else {
            read_postings_table(path, b, toc.postings_table as usize, toc_start)?
        };
        let mut r = IndexReader {
            path: path.to_path_buf(),
            map,
            toc,
            toc_start,
            series_end,
            symbols,
            names,
            all,
            num_series: 0,
        };
        if let Some(off) = r.all {
            r.num_series = r.postings_list(off)?.len() / 4;
        }
        Ok(r)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size.
    pub fn size_bytes(&self) -> u64 {
        self.map.len() as u64
    }

    /// The number of series (the length of the all-postings list).
    pub fn num_series(&self) -> usize {
        self.num_series
    }

    fn b(&self) -> &[u8] {
        &self.map
    }

    /// Bytes of the symbol table kept in memory (its sampled offsets).
    pub fn symbol_table_size(&self) -> u64 {
        (self.symbols.samples.len() * std::mem::size_of::<u32>()) as u64
    }

    /// The symbol table, in order.
    pub fn symbols(&self) -> impl Iterator<Item = Result<&str, Error>> + '_ {
        let start = self.symbols.base;
        let mut d = Dec::new(
            self.b().get(start..self.symbols.end).unwrap_or_default(),
            start,
        );
        let mut left = self.symbols.count;
        std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            left -= 1;
            let r = d
                .uvarint_str()
                .map_err(|e| e.into_error(&self.path, SYMBOLS));
            if r.is_err() {
                left = 0;
            }
            Some(r)
        })
    }

    /// Symbol number `i`.
    fn symbol(&self, i: u32, at: usize) -> Result<&str, Error> {
        let st = &self.symbols;
        let Some(&from) = st
            .samples
            .get(i as usize / SYMBOL_SAMPLE_EVERY)
            .filter(|_| i < st.count)
        else {
            return Err(corrupt(
                &self.path,
                SERIES,
                at,
                format!("symbol reference {i} out of range ({} symbols)", st.count),
            ));
        };
        let from = st.base + from as usize;
        let mut d = Dec::new(self.b().get(from..st.end).unwrap_or_default(), from);
        for _ in 0..i as usize % SYMBOL_SAMPLE_EVERY {
            d.uvarint_bytes()
                .map_err(|e| e.into_error(&self.path, SYMBOLS))?;
        }
        d.uvarint_str()
            .map_err(|e| e.into_error(&self.path, SYMBOLS))
    }

    /// Every label name, sorted, without the all-postings `""`.
    pub fn label_names(&self) -> Result<Vec<String>, Error> {
        Ok(self.names.iter().map(|n| n.name.to_string()).collect())
    }

    fn name(&self, name: &str) -> Option<&NameOffsets> {
        self.names
            .binary_search_by(|n| (*n.name).cmp(name))
            .ok()
            .and_then(|i| self.names.get(i))
    }

    /// Every value of label `name`, sorted.
    pub fn label_values(&self, name: &str) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        if let Some(n) = self.name(name) {
            self.scan_values(n, None, |v, _| {
                out.push(v.to_string());
                ControlFlow::Continue(())
            })?;
        }
        Ok(out)
    }

    /// Calls `f` with (value, postings offset) for the values of `n`,
    /// starting at the entry at `from` (the first when `None`), until `f`
    /// breaks or the name's entries end.
    fn scan_values<'s>(
        &'s self,
        n: &NameOffsets,
        from: Option<usize>,
        mut f: impl FnMut(&'s str, u64) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        let Some(from) = from.or_else(|| n.samples.first().map(|s| s.1)) else {
            return Ok(());
        };
        let mut d = Dec::new(self.b().get(from..n.end).unwrap_or_default(), from);
        let err = |e: super::enc::DecError| e.into_error(&self.path, POSTINGS_TABLE);
        while !d.is_empty() {
            d.uvarint().map_err(err)?;
            d.uvarint_bytes().map_err(err)?;
            let v = d.uvarint_str().map_err(err)?;
            let off = d.uvarint().map_err(err)?;
            if f(v, off).is_break() {
                break;
            }
        }
        Ok(())
    }

    /// The postings offset of `name="value"`, if the index has the pair.
    fn find(&self, name: &str, value: &str) -> Result<Option<u64>, Error> {
        if name.is_empty() && value.is_empty() {
            return Ok(self.all);
        }
        let Some(n) = self.name(name) else {
            return Ok(None);
        };
        let i = n.samples.partition_point(|(s, _)| **s <= *value);
        let Some(&(_, from)) = i.checked_sub(1).and_then(|i| n.samples.get(i)) else {
            return Ok(None);
        };
        let mut found = None;
        self.scan_values(n, Some(from), |v, off| match v.cmp(value) {
            std::cmp::Ordering::Less => ControlFlow::Continue(()),
            std::cmp::Ordering::Equal => {
                found = Some(off);
                ControlFlow::Break(())
            }
            std::cmp::Ordering::Greater => ControlFlow::Break(()),
        })?;
        Ok(found)
    }

    /// The big-endian references of the postings list at `off`, its CRC
    /// checked.
    fn postings_list(&self, off: u64) -> Result<&[u8], Error> {
        let at = usize::try_from(off).unwrap_or(usize::MAX);
        if self.toc.postings != 0 && off < self.toc.postings {
            return Err(corrupt(
                &self.path,
                POSTINGS,
                at,
                format!(
                    "postings offset {off} is before the postings section ({})",
                    self.toc.postings
                ),
            ));
        }
        let mut d = section(&self.path, self.b(), POSTINGS, at, self.toc_start)?;
        let n = d.be32().map_err(|e| e.into_error(&self.path, POSTINGS))? as usize;
        if d.remaining() != n.saturating_mul(4) {
            return Err(corrupt(
                &self.path,
                POSTINGS,
                at,
                format!(
                    "postings list of {n} entries does not fill its {} bytes",
                    d.remaining() + 4
                ),
            ));
        }
        let list = d
            .bytes(n * 4)
            .map_err(|e| e.into_error(&self.path, POSTINGS))?;
        // Cursors binary-search the list: it must be strictly ascending.
        let mut prev: Option<u32> = None;
        for (i, c) in list.chunks_exact(4).enumerate() {
            let v = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
            if prev.is_some_and(|p| p >= v) {
                return Err(corrupt(
                    &self.path,
                    POSTINGS,
                    at + 8 + i * 4,
                    format!("series reference {v} is not above the previous one"),
                ));
            }
            prev = Some(v);
        }
        Ok(list)
    }

    /// The series carrying `name="value"`, ascending; `("", "")` is every
    /// series.
    pub fn postings(&self, name: &str, value: &str) -> Result<Vec<u64>, Error> {
        match self.find(name, value)? {
            None => Ok(Vec::new()),
            Some(off) => Ok(self
                .postings_list(off)?
                .chunks_exact(4)
                .map(|c| u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect()),
        }
    }

    /// The series selected by `matchers`, ascending, with Prometheus's
    /// `PostingsForMatchers` semantics: an absent label matches as the
    /// empty value, `=~".*"` matches everything, no matchers select every
    /// series. Fast paths: literal values and alternations of literals are
    /// looked up; a regex with a literal prefix scans only that range of
    /// values.
    pub fn postings_for_matchers(&self, matchers: &[Matcher]) -> Result<Vec<u64>, Error> {
        Ok(collect(self.postings_cursor(matchers)?))
    }

    /// Like [`IndexReader::postings_for_matchers`], as a lazy cursor over
    /// the mapped lists.
    pub fn postings_cursor(&self, matchers: &[Matcher]) -> Result<BoxPostings<'_>, Error> {
        postings_for_matchers(&Source(self), matchers)
    }

    /// Decodes series `r` into its labels and `chunks` (cleared first).
    pub fn series(&self, r: u64, chunks: &mut Vec<ChunkMeta>) -> Result<Labels, Error> {
        chunks.clear();
        let bad = |reason| Error::BadRef {
            path: self.path.clone(),
            series_ref: r,
            reason,
        };
        let off = r
            .checked_mul(SERIES_ALIGNMENT)
            .and_then(|o| usize::try_from(o).ok())
            .ok_or_else(|| bad("reference overflows the file"))?;
        if self.toc.series == 0 || off < self.toc.series as usize || off >= self.series_end {
            return Err(bad("reference outside the series section"));
        }
        let err = |e: super::enc::DecError| e.into_error(&self.path, SERIES);
        let mut d = Dec::new(self.b().get(off..self.series_end).unwrap_or_default(), off);
        let len = d.uvarint().map_err(err)?;
        let body_at = d.offset();
        let body = usize::try_from(len)
            .ok()
            .filter(|&l| l.saturating_add(4) <= d.remaining())
            .ok_or_else(|| {
                corrupt(
                    &self.path,
                    SERIES,
                    off,
                    format!("series entry of {len} bytes runs past the series section"),
                )
            })?;
        let body = d.bytes(body).map_err(err)?;
        let want = d.be32().map_err(err)?;
        let got = crc32c::crc32c(body);
        if want != got {
            return Err(corrupt(
                &self.path,
                SERIES,
                body_at + body.len(),
                format!("checksum mismatch: stored {want:#010x}, computed {got:#010x}"),
            ));
        }
        let mut d = Dec::new(body, body_at);
        let n = d.uvarint().map_err(err)?;
        if n > (d.remaining() / 2) as u64 {
            return Err(corrupt(
                &self.path,
                SERIES,
                body_at,
                format!("{n} labels do not fit in the entry"),
            ));
        }
        let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let at = d.offset();
            let name = self.symbol(d.uvarint32().map_err(err)?, at)?;
            let value = self.symbol(d.uvarint32().map_err(err)?, at)?;
            if name.is_empty() || value.is_empty() {
                return Err(corrupt(
                    &self.path,
                    SERIES,
                    at,
                    format!("empty label name or value in {name:?}={value:?}"),
                ));
            }
            if pairs.last().is_some_and(|&(p, _)| p >= name) {
                return Err(corrupt(
                    &self.path,
                    SERIES,
                    at,
                    format!("label {name:?} is out of order or repeated"),
                ));
            }
            pairs.push((name, value));
        }
        let at = d.offset();
        let k = d.uvarint().map_err(err)?;
        if k > (d.remaining() / 3) as u64 {
            return Err(corrupt(
                &self.path,
                SERIES,
                at,
                format!("{k} chunks do not fit in the entry"),
            ));
        }
        chunks.reserve(k as usize);
        let mut t0 = 0i64;
        let mut ref0 = 0u64;
        for i in 0..k {
            let (min_time, chunk_ref);
            if i == 0 {
                min_time = d.varint().map_err(err)?;
                let dt = d.uvarint().map_err(err)?;
                chunk_ref = d.uvarint().map_err(err)?;
                t0 = min_time.wrapping_add(dt as i64);
            } else {
                min_time = t0.wrapping_add(d.uvarint().map_err(err)? as i64);
                let dt = d.uvarint().map_err(err)?;
                chunk_ref = ref0.wrapping_add(d.varint().map_err(err)? as u64);
                t0 = min_time.wrapping_add(dt as i64);
            }
            ref0 = chunk_ref;
            chunks.push(ChunkMeta {
                min_time,
                max_time: t0,
                chunk_ref,
            });
        }
        if !d.is_empty() {
            return Err(corrupt(
                &self.path,
                SERIES,
                d.offset(),
                format!("{} unexpected bytes after the chunks", d.remaining()),
            ));
        }
        Ok(Labels::from_sorted(pairs))
    }
}

/// The reader as a source of lists for selector evaluation.
struct Source<'a>(&'a IndexReader);

impl<'a> PostingsSource<'a> for Source<'a> {
    type Error = Error;

    fn all(&self) -> Result<BoxPostings<'a>, Error> {
        match self.0.all {
            None => Ok(Box::new(EmptyPostings)),
            Some(off) => Ok(Box::new(BigEndianPostings::new(self.0.postings_list(off)?))),
        }
    }

    fn matching(&self, m: &Matcher) -> Result<BoxPostings<'a>, Error> {
        let r = self.0;
        let Some(n) = r.name(m.name()) else {
            return Ok(Box::new(EmptyPostings));
        };
        let mut offs: Vec<u64> = Vec::new();
        if let Some(set) = m.set_matches() {
            // Fast path: look up each literal.
            for v in set {
                if let Some(off) = r.find(m.name(), v)? {
                    offs.push(off);
                }
            }
        } else if let Some(prefix) = m.prefix().filter(|p| !p.is_empty()) {
            // Fast path: scan only the values starting with the prefix.
            let i = n.samples.partition_point(|(s, _)| **s < *prefix);
            let from = i.checked_sub(1).and_then(|i| n.samples.get(i)).map(|s| s.1);
            r.scan_values(n, from, |v, off| {
                if v < prefix {
                    return ControlFlow::Continue(());
                }
                if !v.starts_with(prefix) {
                    return ControlFlow::Break(());
                }
                if m.matches(v) {
                    offs.push(off);
                }
                ControlFlow::Continue(())
            })?;
        } else {
            r.scan_values(n, None, |v, off| {
                if m.matches(v) {
                    offs.push(off);
                }
                ControlFlow::Continue(())
            })?;
        }
        let mut lists: Vec<BoxPostings<'a>> = Vec::with_capacity(offs.len());
        for off in offs {
            lists.push(Box::new(BigEndianPostings::new(r.postings_list(off)?)));
        }
        Ok(merge(lists))
    }
}

fn read_toc(path: &Path, b: &[u8], toc_start: usize) -> Result<Toc, Error> {
    const TOC: &str = "table of contents";
    let t = &b[toc_start..];
    let mut d = Dec::new(t, toc_start);
    let err = |e: super::enc::DecError| e.into_error(path, TOC);
    let toc = Toc {
        symbols: d.be64().map_err(err)?,
        series: d.be64().map_err(err)?,
        label_indices: d.be64().map_err(err)?,
        label_indices_table: d.be64().map_err(err)?,
        postings: d.be64().map_err(err)?,
        postings_table: d.be64().map_err(err)?,
    };
    let want = d.be32().map_err(err)?;
    let got = crc32c::crc32c(&t[..48]);
    if want != got {
        return Err(corrupt(
            path,
            TOC,
            toc_start + 48,
            format!("checksum mismatch: stored {want:#010x}, computed {got:#010x}"),
        ));
    }
    for (i, r) in toc.refs().into_iter().enumerate() {
        if r != 0 && (r < HEADER_LEN as u64 || r > toc_start as u64) {
            return Err(corrupt(
                path,
                TOC,
                toc_start + i * 8,
                format!(
                    "section offset {r} outside the file's sections [{HEADER_LEN}, {toc_start}]"
                ),
            ));
        }
    }
    Ok(toc)
}

fn read_symbols(path: &Path, b: &[u8], off: usize, limit: usize) -> Result<SymbolTable, Error> {
    if off == 0 {
        return Ok(SymbolTable::default());
    }
    let mut d = section(path, b, SYMBOLS, off, limit)?;
    let err = |e: super::enc::DecError| e.into_error(path, SYMBOLS);
    let count = d.be32().map_err(err)?;
    let base = d.offset();
    let mut samples =
        Vec::with_capacity((count as usize / SYMBOL_SAMPLE_EVERY + 1).min(d.remaining()));
    let mut prev: Option<&str> = None;
    for i in 0..count as usize {
        let at = d.offset();
        if i.is_multiple_of(SYMBOL_SAMPLE_EVERY) {
            // Below the section's u32 length.
            samples.push(u32::try_from(at - base).unwrap_or(u32::MAX));
        }
        let s = d.uvarint_str().map_err(err)?;
        if prev.is_some_and(|p| p >= s) {
            return Err(corrupt(
                path,
                SYMBOLS,
                at,
                format!("symbol {s:?} is out of order or repeated"),
            ));
        }
        prev = Some(s);
    }
    if !d.is_empty() {
        return Err(corrupt(
            path,
            SYMBOLS,
            d.offset(),
            format!("{} bytes after the last of {count} symbols", d.remaining()),
        ));
    }
    Ok(SymbolTable {
        base,
        samples,
        end: d.offset(),
        count,
    })
}

/// Checks the label offset table's CRC and entries (the reader does not
/// use the label indices: the postings offset table has the same facts).
fn check_label_table(path: &Path, b: &[u8], off: usize, limit: usize) -> Result<(), Error> {
    let mut d = section(path, b, LABEL_TABLE, off, limit)?;
    let err = |e: super::enc::DecError| e.into_error(path, LABEL_TABLE);
    let count = d.be32().map_err(err)?;
    for _ in 0..count {
        let keys = d.uvarint().map_err(err)?;
        for _ in 0..keys {
            d.uvarint_bytes().map_err(err)?;
        }
        d.uvarint().map_err(err)?;
    }
    if !d.is_empty() {
        return Err(corrupt(
            path,
            LABEL_TABLE,
            d.offset(),
            format!("{} bytes after the last of {count} entries", d.remaining()),
        ));
    }
    Ok(())
}

/// Reads the postings offset table: the sampled values of every name and
/// the all-postings offset.
fn read_postings_table(
    path: &Path,
    b: &[u8],
    off: usize,
    limit: usize,
) -> Result<(Vec<NameOffsets>, Option<u64>), Error> {
    let mut d = section(path, b, POSTINGS_TABLE, off, limit)?;
    let err = |e: super::enc::DecError| e.into_error(path, POSTINGS_TABLE);
    let count = d.be32().map_err(err)?;
    let mut names: Vec<NameOffsets> = Vec::new();
    let mut all = None;
    let mut prev: Option<(&str, &str)> = None;
    // Index of the current value within its name.
    let mut k = 0usize;
    for _ in 0..count {
        let at = d.offset();
        let keys = d.uvarint().map_err(err)?;
        if keys != 2 {
            return Err(corrupt(
                path,
                POSTINGS_TABLE,
                at,
                format!("entry has {keys} keys, want 2"),
            ));
        }
        let name = d.uvarint_str().map_err(err)?;
        let value = d.uvarint_str().map_err(err)?;
        let postings = d.uvarint().map_err(err)?;
        if prev.is_some_and(|p| p >= (name, value)) {
            return Err(corrupt(
                path,
                POSTINGS_TABLE,
                at,
                format!("entry {name:?}={value:?} is out of order or repeated"),
            ));
        }
        prev = Some((name, value));
        if name.is_empty() {
            if !value.is_empty() {
                return Err(corrupt(
                    path,
                    POSTINGS_TABLE,
                    at,
                    format!("entry with an empty name has value {value:?}"),
                ));
            }
            all = Some(postings);
            continue;
        }
        match names.last_mut() {
            Some(n) if *n.name == *name => {
                k += 1;
                if k.is_multiple_of(SAMPLE_EVERY) {
                    n.samples.push((value.into(), at));
                }
                n.end = d.offset();
            }
            _ => {
                k = 0;
                names.push(NameOffsets {
                    name: name.into(),
                    samples: vec![(value.into(), at)],
                    end: d.offset(),
                });
            }
        }
    }
    if !d.is_empty() {
        return Err(corrupt(
            path,
            POSTINGS_TABLE,
            d.offset(),
            format!("{} bytes after the last of {count} entries", d.remaining()),
        ));
    }
    for n in &mut names {
        n.samples.shrink_to_fit();
    }
    Ok((names, all))
}
