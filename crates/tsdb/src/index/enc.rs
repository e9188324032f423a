//! Byte-level helpers shared by the index writer and reader: Go's varint
//! encodings, a bounds-checked decoding cursor, the table of contents, and
//! a postings cursor over an on-disk list of big-endian 32-bit references.

use super::postings::Postings;

/// Appends `v` as an unsigned LEB128 varint (Go's `PutUvarint`).
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zig-zag encoded (Go's `PutVarint`).
pub(crate) fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Appends a string prefixed with its length as a uvarint.
pub(crate) fn put_uvarint_str(out: &mut Vec<u8>, s: &str) {
    put_uvarint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// The number of bytes `v` takes as a uvarint.
pub(crate) fn uvarint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// The table of contents: where each section starts (0 = absent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Toc {
    pub(crate) symbols: u64,
    pub(crate) series: u64,
    pub(crate) label_indices: u64,
    pub(crate) label_indices_table: u64,
    pub(crate) postings: u64,
    pub(crate) postings_table: u64,
}

impl Toc {
    /// The six references in file order.
    pub(crate) fn refs(&self) -> [u64; 6] {
        [
            self.symbols,
            self.series,
            self.label_indices,
            self.label_indices_table,
            self.postings,
            self.postings_table,
        ]
    }

    /// The 52 bytes of the TOC: six big-endian u64 and their CRC32C.
    pub(crate) fn encode(&self) -> [u8; super::TOC_LEN] {
        let mut out = [0u8; super::TOC_LEN];
        for (i, r) in self.refs().iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&r.to_be_bytes());
        }
        let crc = crc32c::crc32c(&out[..48]);
        out[48..].copy_from_slice(&crc.to_be_bytes());
        out
    }
}

/// A decoding cursor over a byte slice that knows its absolute position in
/// the file, so errors can name the offset. Every read is bounds-checked;
/// failures are a short reason.
#[derive(Clone, Debug)]
pub(crate) struct Dec<'a> {
    b: &'a [u8],
    i: usize,
    /// File offset of `b[0]`.
    base: usize,
}

/// Why and where a [`Dec`] read failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DecError {
    /// File offset of the field that could not be read.
    pub(crate) offset: usize,
    /// What is wrong.
    pub(crate) reason: &'static str,
}

impl DecError {
    /// The index error for this failure in `section` of `path`.
    pub(crate) fn into_error(self, path: &std::path::Path, section: &'static str) -> super::Error {
        super::Error::Corrupt {
            path: path.to_path_buf(),
            section,
            offset: self.offset as u64,
            reason: self.reason.to_string(),
        }
    }
}

pub(crate) type DecResult<T> = Result<T, DecError>;

impl<'a> Dec<'a> {
    pub(crate) fn new(b: &'a [u8], base: usize) -> Dec<'a> {
        Dec { b, i: 0, base }
    }

    /// The file offset of the next byte.
    pub(crate) fn offset(&self) -> usize {
        self.base + self.i
    }

    /// Bytes left.
    pub(crate) fn remaining(&self) -> usize {
        self.b.len() - self.i
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn fail<T>(&self, offset: usize, reason: &'static str) -> DecResult<T> {
        Err(DecError { offset, reason })
    }

    pub(crate) fn uvarint(&mut self) -> DecResult<u64> {
        let mut x = 0u64;
        for (k, &byte) in self.b[self.i..].iter().take(10).enumerate() {
            if byte < 0x80 {
                if k == 9 && byte > 1 {
                    return self.fail(self.offset(), "varint overflows 64 bits");
                }
                self.i += k + 1;
                return Ok(x | (u64::from(byte) << (7 * k)));
            }
            x |= u64::from(byte & 0x7f) << (7 * k);
        }
        if self.remaining() >= 10 {
            self.fail(self.offset(), "varint overflows 64 bits")
        } else {
            self.fail(self.offset(), "varint runs past the end")
        }
    }

    pub(crate) fn uvarint32(&mut self) -> DecResult<u32> {
        let at = self.offset();
        let v = self.uvarint()?;
        u32::try_from(v).or_else(|_| self.fail(at, "varint overflows 32 bits"))
    }

    pub(crate) fn varint(&mut self) -> DecResult<i64> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    pub(crate) fn bytes(&mut self, n: usize) -> DecResult<&'a [u8]> {
        if n > self.remaining() {
            return self.fail(self.offset(), "field runs past the end");
        }
        let out = &self.b[self.i..self.i + n];
        self.i += n;
        Ok(out)
    }

    pub(crate) fn be32(&mut self) -> DecResult<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn be64(&mut self) -> DecResult<u64> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    /// A uvarint length followed by that many bytes of UTF-8.
    pub(crate) fn uvarint_str(&mut self) -> DecResult<&'a str> {
        let at = self.offset();
        let b = self.uvarint_bytes()?;
        std::str::from_utf8(b).or_else(|_| self.fail(at, "string is not valid UTF-8"))
    }

    /// A uvarint length followed by that many bytes.
    pub(crate) fn uvarint_bytes(&mut self) -> DecResult<&'a [u8]> {
        let at = self.offset();
        let n = self.uvarint()?;
        match usize::try_from(n) {
            Ok(n) if n <= self.remaining() => self.bytes(n),
            _ => self.fail(at, "string runs past the end"),
        }
    }
}

/// A postings cursor over an on-disk list: `4 * n` bytes of big-endian
/// series references (its CRC already checked). Zero-copy: seeks binary
/// search the mapped bytes.
#[derive(Clone, Debug)]
pub(crate) struct BigEndianPostings<'a> {
    list: &'a [u8],
    /// Index of the current element; `None` before the start.
    pos: Option<usize>,
}

impl<'a> BigEndianPostings<'a> {
    /// `list.len()` must be a multiple of 4 (a trailing partial element is
    /// ignored).
    pub(crate) fn new(list: &'a [u8]) -> BigEndianPostings<'a> {
        BigEndianPostings { list, pos: None }
    }

    fn len(&self) -> usize {
        self.list.len() / 4
    }

    fn get(&self, i: usize) -> u64 {
        match self.list.get(i * 4..i * 4 + 4) {
            Some(b) => u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            None => u64::MAX,
        }
    }
}

impl Postings for BigEndianPostings<'_> {
    fn next(&mut self) -> bool {
        let p = self.pos.map_or(0, |p| (p + 1).min(self.len()));
        self.pos = Some(p);
        p < self.len()
    }

    fn seek(&mut self, v: u64) -> bool {
        let n = self.len();
        let from = self.pos.unwrap_or(0).min(n);
        if self.pos.is_some() && from < n && self.get(from) >= v {
            return true;
        }
        // Binary search for the first element >= v in [from, n).
        let (mut lo, mut hi) = (from, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.get(mid) < v {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        self.pos = Some(lo);
        lo < n
    }

    fn at(&self) -> u64 {
        match self.pos {
            Some(p) if p < self.len() => self.get(p),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            assert_eq!(b.len(), uvarint_len(v), "{v}");
            assert_eq!(Dec::new(&b, 0).uvarint(), Ok(v));
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX, -300] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(Dec::new(&b, 0).varint(), Ok(v));
        }
        assert!(Dec::new(&[0x80; 11], 0).uvarint().is_err());
        assert!(Dec::new(&[0x80, 0x80], 0).uvarint().is_err());
    }

    #[test]
    fn big_endian_postings_seek() {
        let vals = [2u32, 5, 9, 100];
        let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_be_bytes()).collect();
        let mut p = BigEndianPostings::new(&bytes);
        assert!(p.seek(3));
        assert_eq!(p.at(), 5);
        assert!(p.seek(1));
        assert_eq!(p.at(), 5);
        assert!(p.next());
        assert_eq!(p.at(), 9);
        assert!(p.seek(100));
        assert_eq!(p.at(), 100);
        assert!(!p.seek(101));
        assert!(!p.next());
    }
}
