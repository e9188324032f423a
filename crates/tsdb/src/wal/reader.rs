//! Reading records back, with exact corruption positions.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use super::segment::{self, Fragment, RESERVED_MASK, SNAPPY_FLAG, ZSTD_FLAG};
use super::{Corruption, CorruptionReason, Error, HEADER_SIZE, PAGE_SIZE};

/// A place in the log: a segment and a byte offset in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    /// Segment index.
    pub segment: u32,
    /// Byte offset in the segment.
    pub offset: u64,
}

/// Iterates the records of a range of segments, in order.
///
/// The end of a segment is clean when it falls between records, inside
/// zero padding, or after zero padding: a running writer leaves its last
/// page short, and zero-filled tails (preallocated or padded pages) read as
/// padding, as in Prometheus. Anything else — a bad checksum, a fragment
/// out of sequence, a record cut short — is a [`Corruption`] whose offset is
/// the start of the first record that could not be read. After an error,
/// `next_record` returns `Ok(None)`.
///
/// Stricter than Prometheus in four ways that its writer never trips: a
/// fragment may not run past its page, padding must start with a zero byte
/// (not merely zero type bits), a record may not continue into the next
/// segment, and a full fragment may not be empty (a header zeroed after its
/// type byte would otherwise read as a valid empty record).
pub struct Reader {
    dir: PathBuf,
    segments: Vec<(u32, PathBuf)>,
    /// Index into `segments` of the next segment to open.
    next_segment: usize,
    cur: Option<(u32, BufReader<File>)>,
    /// Offset in the current segment of the next unread byte.
    off: u64,
    rec: Vec<u8>,
    compressed: Vec<u8>,
    scratch: Box<[u8]>,
    snappy: snap::raw::Decoder,
    start: Position,
    end: u64,
    done: bool,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("dir", &self.dir)
            .field("position", &self.start)
            .finish_non_exhaustive()
    }
}

enum Step {
    Record,
    EndOfSegment,
}

impl Reader {
    /// A reader over every segment in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Reader, Error> {
        Reader::open_range(dir, None, None)
    }

    /// A reader over the segments of `dir` with index in `first..=last`
    /// (open-ended where `None`).
    pub fn open_range(
        dir: impl AsRef<Path>,
        first: Option<u32>,
        last: Option<u32>,
    ) -> Result<Reader, Error> {
        let dir = dir.as_ref().to_path_buf();
        let segments = segment::list(&dir)?
            .into_iter()
            .filter(|(i, _)| first.is_none_or(|f| *i >= f) && last.is_none_or(|l| *i <= l))
            .collect();
        Ok(Reader {
            dir,
            segments,
            next_segment: 0,
            cur: None,
            off: 0,
            rec: Vec::new(),
            compressed: Vec::new(),
            scratch: vec![0u8; PAGE_SIZE].into_boxed_slice(),
            snappy: snap::raw::Decoder::new(),
            start: Position::default(),
            end: 0,
            done: false,
        })
    }

    /// The directory read.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the record last returned by [`Reader::next_record`] starts.
    pub fn position(&self) -> Position {
        self.start
    }

    /// The offset just past the record last returned, in its segment.
    pub fn end_offset(&self) -> u64 {
        self.end
    }

    /// The next record, `None` at the clean end of the last segment. The
    /// slice is valid until the next call.
    pub fn next_record(&mut self) -> Result<Option<&[u8]>, Error> {
        Ok(if self.advance()? {
            Some(&self.rec)
        } else {
            None
        })
    }

    /// Moves to the next record: `true` if there is one (see
    /// [`Reader::record`]), `false` at the clean end of the last segment.
    pub fn advance(&mut self) -> Result<bool, Error> {
        let mut rec = std::mem::take(&mut self.rec);
        rec.clear();
        let r = self.advance_into(&mut rec);
        self.rec = rec;
        r
    }

    /// Like [`Reader::advance`], but appends the record to `out` (saving
    /// a copy when records are gathered in a buffer); on an error `out`
    /// is left as it was. [`Reader::record`] is then empty.
    pub fn advance_into(&mut self, out: &mut Vec<u8>) -> Result<bool, Error> {
        self.rec.clear();
        if self.done {
            return Ok(false);
        }
        loop {
            if self.cur.is_none() {
                let Some((index, path)) = self.segments.get(self.next_segment) else {
                    self.done = true;
                    return Ok(false);
                };
                let f = match File::open(path) {
                    Ok(f) => f,
                    Err(source) => {
                        self.done = true;
                        return Err(Error::Io {
                            op: "open segment",
                            path: path.clone(),
                            source,
                        });
                    }
                };
                self.cur = Some((*index, BufReader::with_capacity(16 * PAGE_SIZE, f)));
                self.next_segment += 1;
                self.off = 0;
            }
            let base = out.len();
            match self.read_record(out) {
                Ok(Step::Record) => return Ok(true),
                Ok(Step::EndOfSegment) => {
                    out.truncate(base);
                    self.cur = None;
                }
                Err(e) => {
                    out.truncate(base);
                    self.done = true;
                    return Err(e);
                }
            }
        }
    }

    /// The record [`Reader::advance`] moved to.
    pub fn record(&self) -> &[u8] {
        &self.rec
    }

    fn segment_index(&self) -> u32 {
        self.cur.as_ref().map_or(0, |c| c.0)
    }

    /// Reads up to `n` bytes into the scratch page; fewer only at EOF.
    fn fill(&mut self, n: usize) -> Result<usize, Error> {
        let index = self.segment_index();
        let Some((_, r)) = self.cur.as_mut() else {
            return Ok(0);
        };
        let mut got = 0;
        while got < n {
            match r.read(&mut self.scratch[got..n]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(Error::Io {
                        op: "read segment",
                        path: segment::segment_path(&self.dir, index),
                        source,
                    });
                }
            }
        }
        self.off += got as u64;
        Ok(got)
    }

    fn corrupt(&self, offset: u64, reason: CorruptionReason) -> Error {
        Error::Corruption(Corruption {
            dir: self.dir.clone(),
            segment: self.segment_index(),
            offset,
            reason,
        })
    }

    /// Reads the next record, appending it to `out`.
    fn read_record(&mut self, out: &mut Vec<u8>) -> Result<Step, Error> {
        self.compressed.clear();
        let mut in_record = false;
        let mut snappy = false;
        let mut rec_start = self.off;
        loop {
            let at = self.off;
            if self.fill(1)? == 0 {
                if in_record {
                    return Err(self.corrupt(rec_start, CorruptionReason::TornRecord));
                }
                return Ok(Step::EndOfSegment);
            }
            let b = self.scratch[0];
            if b == 0 {
                // Zero padding up to the end of the page.
                let k = (PAGE_SIZE - (self.off % PAGE_SIZE as u64) as usize) % PAGE_SIZE;
                let got = self.fill(k)?;
                if let Some(p) = self.scratch[..got].iter().position(|&c| c != 0) {
                    let start = if in_record { rec_start } else { at };
                    let bad = at + 1 + p as u64;
                    return Err(self.corrupt(start, CorruptionReason::Padding { at: bad }));
                }
                if got < k {
                    if in_record {
                        return Err(self.corrupt(rec_start, CorruptionReason::TornRecord));
                    }
                    return Ok(Step::EndOfSegment);
                }
                continue;
            }
            if !in_record {
                rec_start = at;
            }
            let Some(kind) = Fragment::from_bits(b).filter(|_| b & RESERVED_MASK == 0) else {
                return Err(self.corrupt(rec_start, CorruptionReason::Type { at, byte: b }));
            };
            if b & ZSTD_FLAG != 0 {
                if b & SNAPPY_FLAG != 0 {
                    return Err(self.corrupt(rec_start, CorruptionReason::Type { at, byte: b }));
                }
                return Err(Error::UnsupportedCompression {
                    dir: self.dir.clone(),
                    segment: self.segment_index(),
                    offset: at,
                });
            }
            if self.fill(HEADER_SIZE - 1)? < HEADER_SIZE - 1 {
                return Err(self.corrupt(rec_start, CorruptionReason::TornFragment { at }));
            }
            let len = u16::from_be_bytes([self.scratch[0], self.scratch[1]]);
            let crc = u32::from_be_bytes([
                self.scratch[2],
                self.scratch[3],
                self.scratch[4],
                self.scratch[5],
            ]);
            let in_page = (at % PAGE_SIZE as u64) as usize;
            if in_page + HEADER_SIZE + usize::from(len) > PAGE_SIZE {
                return Err(self.corrupt(rec_start, CorruptionReason::Length { at, len }));
            }
            let len = usize::from(len);
            if self.fill(len)? < len {
                return Err(self.corrupt(rec_start, CorruptionReason::TornFragment { at }));
            }
            let actual = crc32c::crc32c(&self.scratch[..len]);
            if actual != crc {
                return Err(self.corrupt(
                    rec_start,
                    CorruptionReason::Checksum {
                        at,
                        expected: crc,
                        actual,
                    },
                ));
            }
            if len == 0 && kind == Fragment::Full {
                return Err(self.corrupt(rec_start, CorruptionReason::EmptyRecord { at }));
            }
            let is_snappy = b & SNAPPY_FLAG != 0;
            let sequence = |context| CorruptionReason::Sequence {
                at,
                found: kind.name(),
                context,
            };
            match (in_record, kind) {
                (false, Fragment::Middle | Fragment::Last) => {
                    return Err(self.corrupt(rec_start, sequence("without a first fragment")));
                }
                (true, Fragment::Full | Fragment::First) => {
                    return Err(self.corrupt(rec_start, sequence("inside a split record")));
                }
                (true, _) if is_snappy != snappy => {
                    return Err(
                        self.corrupt(rec_start, sequence("with a different compression flag"))
                    );
                }
                _ => {}
            }
            snappy = is_snappy;
            if snappy {
                self.compressed.extend_from_slice(&self.scratch[..len]);
            } else {
                out.extend_from_slice(&self.scratch[..len]);
            }
            if matches!(kind, Fragment::Full | Fragment::Last) {
                if snappy {
                    self.decompress(out)
                        .map_err(|r| self.corrupt(rec_start, r))?;
                }
                self.start = Position {
                    segment: self.segment_index(),
                    offset: rec_start,
                };
                self.end = self.off;
                return Ok(Step::Record);
            }
            in_record = true;
        }
    }

    /// Decompresses the record gathered in `compressed`, appending it to
    /// `out`.
    fn decompress(&mut self, out: &mut Vec<u8>) -> Result<(), CorruptionReason> {
        let n = snap::raw::decompress_len(&self.compressed)
            .map_err(|e| CorruptionReason::Snappy(e.to_string()))?;
        // Snappy expands at most ~22x (a 3-byte copy yields 64 bytes);
        // claims beyond that are garbage and must not drive an allocation.
        if n > self.compressed.len().saturating_mul(32) {
            return Err(CorruptionReason::Snappy(format!(
                "claims {n} bytes from {} compressed bytes",
                self.compressed.len()
            )));
        }
        let base = out.len();
        out.resize(base + n, 0);
        let got = self
            .snappy
            .decompress(&self.compressed, &mut out[base..])
            .map_err(|e| CorruptionReason::Snappy(e.to_string()))?;
        out.truncate(base + got);
        Ok(())
    }
}
