//! The protobuf wire format, by hand: a bounds-checked reader and a writer.
//!
//! Only what the remote protocols use: varints (plain and zig-zag), 64-bit
//! fixed (doubles), length-delimited fields and packed repeated scalars.
//! Unknown fields are skipped, as every protobuf decoder does.

use std::fmt;

/// Why a message could not be decoded. The text is what the HTTP
/// responses carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

fn err<T>(msg: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError(msg.into()))
}

/// Wire type of varint fields.
pub const VARINT: u8 = 0;
/// Wire type of 64-bit fixed fields.
pub const FIXED64: u8 = 1;
/// Wire type of length-delimited fields.
pub const LEN: u8 = 2;
/// Wire type of 32-bit fixed fields.
pub const FIXED32: u8 = 5;

/// A cursor over one message's bytes.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// Whether every byte was read.
    pub fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// A base-128 varint.
    pub fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else {
                return err("unexpected EOF");
            };
            self.pos += 1;
            if i == 9 && b > 1 {
                return err("proto: integer overflow");
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        err("proto: integer overflow")
    }

    /// The next field's number and wire type, `None` at the end.
    pub fn key(&mut self) -> Result<Option<(u32, u8)>, DecodeError> {
        if self.done() {
            return Ok(None);
        }
        let k = self.varint()?;
        let field = k >> 3;
        let wt = (k & 7) as u8;
        if field == 0 || field > u64::from(u32::MAX >> 3) {
            return err(format!("proto: illegal tag {field} (wire type {wt})"));
        }
        Ok(Some((field as u32, wt)))
    }

    /// A length-delimited payload.
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.varint()?;
        let rest = self.buf.len() - self.pos;
        if n > rest as u64 {
            return err("unexpected EOF");
        }
        let n = n as usize;
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// A UTF-8 string payload.
    pub fn string(&mut self) -> Result<String, DecodeError> {
        let b = self.bytes()?;
        match std::str::from_utf8(b) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => err("proto: invalid UTF-8 in string field"),
        }
    }

    /// Eight little-endian bytes.
    pub fn fixed64(&mut self) -> Result<u64, DecodeError> {
        let Some(b) = self.buf.get(self.pos..self.pos + 8) else {
            return err("unexpected EOF");
        };
        self.pos += 8;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A double (wire type 1).
    pub fn double(&mut self) -> Result<f64, DecodeError> {
        self.fixed64().map(f64::from_bits)
    }

    /// Skips a field of wire type `wt`.
    pub fn skip(&mut self, wt: u8) -> Result<(), DecodeError> {
        match wt {
            VARINT => self.varint().map(drop),
            FIXED64 => self.fixed64().map(drop),
            LEN => self.bytes().map(drop),
            FIXED32 => {
                if self.buf.len() - self.pos < 4 {
                    return err("unexpected EOF");
                }
                self.pos += 4;
                Ok(())
            }
            _ => err(format!("proto: illegal wireType {wt}")),
        }
    }

    /// Checks that field `field` has wire type `want`.
    pub fn expect(field: u32, wt: u8, want: u8) -> Result<(), DecodeError> {
        if wt == want {
            Ok(())
        } else {
            err(format!("proto: wrong wireType = {wt} for field {field}"))
        }
    }

    /// A repeated varint field, packed (wire type 2) or not (wire type 0);
    /// each value is passed through `conv`.
    pub fn repeated_varint<T>(
        &mut self,
        wt: u8,
        out: &mut Vec<T>,
        conv: impl Fn(u64) -> T,
    ) -> Result<(), DecodeError> {
        match wt {
            VARINT => out.push(conv(self.varint()?)),
            LEN => {
                let mut r = Reader::new(self.bytes()?);
                while !r.done() {
                    out.push(conv(r.varint()?));
                }
            }
            _ => return err(format!("proto: illegal wireType {wt} for repeated varint")),
        }
        Ok(())
    }

    /// A repeated double field, packed or not.
    pub fn repeated_double(&mut self, wt: u8, out: &mut Vec<f64>) -> Result<(), DecodeError> {
        match wt {
            FIXED64 => out.push(self.double()?),
            LEN => {
                let b = self.bytes()?;
                if !b.len().is_multiple_of(8) {
                    return err("proto: packed doubles not a multiple of 8 bytes");
                }
                let mut r = Reader::new(b);
                while !r.done() {
                    out.push(r.double()?);
                }
            }
            _ => return err(format!("proto: illegal wireType {wt} for repeated double")),
        }
        Ok(())
    }
}

/// Zig-zag decoding (`sint32`/`sint64`).
pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Zig-zag encoding.
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// A growing output buffer. Fields holding their type's default value are
/// omitted, as proto3 encoders do.
#[derive(Default)]
pub struct Writer {
    /// The bytes written so far.
    pub buf: Vec<u8>,
}

impl Writer {
    /// A base-128 varint.
    pub fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn key(&mut self, field: u32, wt: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wt));
    }

    /// A varint field (omitted when 0).
    pub fn uint(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.key(field, VARINT);
            self.varint(v);
        }
    }

    /// An `int64`/`int32`/enum field (omitted when 0).
    pub fn int(&mut self, field: u32, v: i64) {
        self.uint(field, v as u64);
    }

    /// A `sint32`/`sint64` field (omitted when 0).
    pub fn sint(&mut self, field: u32, v: i64) {
        self.uint(field, zigzag(v));
    }

    /// A `bool` field (omitted when false).
    pub fn bool(&mut self, field: u32, v: bool) {
        self.uint(field, u64::from(v));
    }

    /// A double field (omitted when +0.0).
    pub fn double(&mut self, field: u32, v: f64) {
        if v.to_bits() != 0 {
            self.double_always(field, v);
        }
    }

    /// A double field, written even when zero (a `oneof` member).
    pub fn double_always(&mut self, field: u32, v: f64) {
        self.key(field, FIXED64);
        self.buf.extend_from_slice(&v.to_bits().to_le_bytes());
    }

    /// A varint field written even when zero (a `oneof` member).
    pub fn uint_always(&mut self, field: u32, v: u64) {
        self.key(field, VARINT);
        self.varint(v);
    }

    /// A bytes/string field (omitted when empty).
    pub fn bytes(&mut self, field: u32, b: &[u8]) {
        if !b.is_empty() {
            self.bytes_always(field, b);
        }
    }

    /// A bytes/string field, written even when empty (repeated strings).
    pub fn bytes_always(&mut self, field: u32, b: &[u8]) {
        self.key(field, LEN);
        self.varint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    /// An embedded message written by `f` (always written: repeated
    /// elements must be, even when empty).
    pub fn message(&mut self, field: u32, f: impl FnOnce(&mut Writer)) {
        let mut sub = Writer::default();
        f(&mut sub);
        self.bytes_always(field, &sub.buf);
    }

    /// A packed repeated varint field (omitted when empty).
    pub fn packed_varint(&mut self, field: u32, vals: impl Iterator<Item = u64>) {
        let mut sub = Writer::default();
        for v in vals {
            sub.varint(v);
        }
        self.bytes(field, &sub.buf);
    }

    /// A packed repeated double field (omitted when empty).
    pub fn packed_double(&mut self, field: u32, vals: &[f64]) {
        let mut sub = Writer::default();
        for v in vals {
            sub.buf.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        self.bytes(field, &sub.buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for v in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut w = Writer::default();
            w.varint(v);
            assert_eq!(Reader::new(&w.buf).varint(), Ok(v));
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn truncated_and_overlong_fail() {
        assert!(Reader::new(&[0x80]).varint().is_err());
        assert!(Reader::new(&[0xff; 11]).varint().is_err());
        assert!(Reader::new(&[0x0a, 0x05, 1]).key().is_ok());
        let mut r = Reader::new(&[0x0a, 0x05, 1]);
        let _ = r.key();
        assert!(r.bytes().is_err());
    }
}
