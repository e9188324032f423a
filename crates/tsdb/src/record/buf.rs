//! Byte-level helpers shared by the record encoders and decoders: big-endian
//! fixed-width integers and Go's `encoding/binary` varints.

use super::{DecodeError, Reason};

/// Appends `v` as an unsigned LEB128 varint (Go's `binary.PutUvarint`).
#[inline]
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zig-zag encoded (Go's `binary.PutVarint`).
#[inline]
pub(crate) fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Appends `v` as 8 bytes, big-endian.
#[inline]
pub(crate) fn put_be64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a uvarint length followed by the bytes of `s`.
#[inline]
pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_uvarint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// A read cursor over one record. Every read checks the remaining length and
/// reports the byte offset of the failure.
pub(crate) struct Dec<'a> {
    b: &'a [u8],
    pos: usize,
    record: &'static str,
}

impl<'a> Dec<'a> {
    pub(crate) fn new(b: &'a [u8], record: &'static str) -> Dec<'a> {
        Dec { b, pos: 0, record }
    }

    pub(crate) fn err(&self, reason: Reason) -> DecodeError {
        DecodeError {
            record: self.record,
            offset: self.pos,
            reason,
        }
    }

    /// Bytes not yet read.
    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.b.len()
    }

    #[inline]
    pub(crate) fn byte(&mut self) -> Result<u8, DecodeError> {
        let Some(&v) = self.b.get(self.pos) else {
            return Err(self.err(Reason::Truncated));
        };
        self.pos += 1;
        Ok(v)
    }

    #[inline]
    pub(crate) fn be64(&mut self) -> Result<u64, DecodeError> {
        let Some(bytes) = self.b.get(self.pos..self.pos + 8) else {
            return Err(self.err(Reason::Truncated));
        };
        let mut a = [0u8; 8];
        a.copy_from_slice(bytes);
        self.pos += 8;
        Ok(u64::from_be_bytes(a))
    }

    #[inline]
    pub(crate) fn be64_f64(&mut self) -> Result<f64, DecodeError> {
        self.be64().map(f64::from_bits)
    }

    /// Go's `binary.Uvarint`: at most 10 bytes, the 10th at most 1.
    #[inline(always)]
    pub(crate) fn uvarint(&mut self) -> Result<u64, DecodeError> {
        // Fast paths: one or two bytes (sample deltas mostly are).
        match self.b.get(self.pos..self.pos + 2) {
            Some(&[b0, _]) if b0 < 0x80 => {
                self.pos += 1;
                Ok(u64::from(b0))
            }
            Some(&[b0, b1]) if b1 < 0x80 => {
                self.pos += 2;
                Ok(u64::from(b0 & 0x7f) | (u64::from(b1) << 7))
            }
            _ => self.uvarint_long(),
        }
    }

    #[inline(never)]
    fn uvarint_long(&mut self) -> Result<u64, DecodeError> {
        let mut v: u64 = 0;
        let mut shift = 0u32;
        for i in 0..10 {
            let Some(&b) = self.b.get(self.pos + i) else {
                return Err(DecodeError {
                    record: self.record,
                    offset: self.pos,
                    reason: Reason::Truncated,
                });
            };
            if b < 0x80 {
                if i == 9 && b > 1 {
                    break;
                }
                self.pos += i + 1;
                return Ok(v | (u64::from(b) << shift));
            }
            v |= u64::from(b & 0x7f) << shift;
            shift += 7;
        }
        Err(self.err(Reason::Varint))
    }

    #[inline]
    pub(crate) fn varint(&mut self) -> Result<i64, DecodeError> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// A uvarint that must fit in 32 bits (Go's `Decbuf.Uvarint32`).
    pub(crate) fn uvarint32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let start = self.pos;
        let v = self.uvarint()?;
        u32::try_from(v).map_err(|_| DecodeError {
            record: self.record,
            offset: start,
            reason: Reason::Range { what, value: v },
        })
    }

    /// A count of elements that each take at least `min_size` bytes: larger
    /// counts than the rest of the record can hold are rejected before any
    /// allocation.
    pub(crate) fn count(
        &mut self,
        what: &'static str,
        min_size: usize,
    ) -> Result<usize, DecodeError> {
        let start = self.pos;
        let n = self.uvarint()?;
        if n > (self.remaining() / min_size.max(1)) as u64 {
            return Err(DecodeError {
                record: self.record,
                offset: start,
                reason: Reason::Range { what, value: n },
            });
        }
        Ok(n as usize)
    }

    /// The bytes not yet read (see [`Dec::skip`]).
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.b[self.pos..]
    }

    /// Moves the read position `n` bytes on (at most [`Dec::remaining`]).
    pub(crate) fn skip(&mut self, n: usize) {
        debug_assert!(n <= self.remaining());
        self.pos += n;
    }

    /// A uvarint-length-prefixed byte string.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        let n = self.uvarint()?;
        if n > self.remaining() as u64 {
            self.pos = start;
            return Err(self.err(Reason::Truncated));
        }
        let s = &self.b[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    /// A uvarint-length-prefixed UTF-8 string.
    pub(crate) fn str(&mut self) -> Result<&'a str, DecodeError> {
        let start = self.pos;
        let b = self.bytes()?;
        std::str::from_utf8(b).map_err(|_| DecodeError {
            record: self.record,
            offset: start,
            reason: Reason::Utf8,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_go() {
        #[track_caller]
        fn check(v: i64, bytes: &[u8]) {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out, bytes, "encode {v}");
            let mut d = Dec::new(&out, "test");
            assert_eq!(d.varint().expect("decode"), v);
            assert!(d.is_empty());
        }
        check(0, &[0]);
        check(-1, &[1]);
        check(1, &[2]);
        check(63, &[0x7e]);
        check(-64, &[0x7f]);
        check(64, &[0x80, 0x01]);
        check(
            i64::MAX,
            &[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        );
        check(
            i64::MIN,
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        );
    }

    #[test]
    fn varints_decode_with_bytes_after_them() {
        // The one- and two-byte fast paths need a following byte to look at.
        for v in [0u64, 1, 0x7f, 0x80, 0x3fff, 0x4000, 1 << 35, u64::MAX] {
            let mut out = Vec::new();
            put_uvarint(&mut out, v);
            let n = out.len();
            out.extend_from_slice(&[0x80, 0x7f]);
            let mut d = Dec::new(&out, "test");
            assert_eq!(d.uvarint().expect("decode"), v);
            assert_eq!(d.remaining(), 2, "{v} takes {n} bytes");
        }
    }

    #[test]
    fn bad_varints_are_errors() {
        let mut d = Dec::new(&[0x80, 0x80], "test");
        assert_eq!(d.uvarint().map_err(|e| e.reason), Err(Reason::Truncated));
        let over = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        let mut d = Dec::new(&over, "test");
        assert_eq!(d.uvarint().map_err(|e| e.reason), Err(Reason::Varint));
        let long = [0x80; 11];
        let mut d = Dec::new(&long, "test");
        assert_eq!(d.uvarint().map_err(|e| e.reason), Err(Reason::Varint));
    }
}
