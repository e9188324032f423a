//! Bit streams: an appending writer and a bounded reader.
//!
//! Bits are packed most-significant first, as Prometheus's `bstream` does, so
//! a stream written here is bit-for-bit what Prometheus writes for the same
//! calls. A stream of `n` bits occupies exactly `ceil(n / 8)` bytes; the
//! unused low bits of the last byte are zero.

use super::Error;

/// An appending bit writer over an owned byte vector.
///
/// The vector may start with bytes that are not part of the bit stream (a
/// chunk header); bits are only ever added after them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    /// Bits still free in the last byte (0 when it is full or there is none).
    free: u8,
}

impl BitWriter {
    /// A writer that appends to `bytes`, whose last byte has `free` unused
    /// low bits (0 = start a fresh byte with the next bit).
    pub(crate) fn from_parts(bytes: Vec<u8>, free: u8) -> BitWriter {
        BitWriter { bytes, free }
    }

    /// The bytes written so far (including any leading header bytes).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Mutable access to the bytes, for patching headers.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    /// Hands back the byte vector.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Makes room for `n` more bytes, growing the vector by a quarter (at
    /// least 8 bytes, at least `n`) rather than doubling: open head chunks
    /// are most of a head's memory and their final size is unknown, so
    /// doubling would leave a third of it unused on average.
    #[inline]
    fn room_for(&mut self, n: usize) {
        if self.bytes.capacity() - self.bytes.len() < n {
            self.bytes
                .reserve_exact((self.bytes.len() / 4).max(8).max(n));
        }
    }

    /// Appends a byte to the vector.
    #[inline]
    fn push(&mut self, b: u8) {
        self.room_for(1);
        self.bytes.push(b);
    }

    /// Appends one bit.
    #[inline]
    pub(crate) fn write_bit(&mut self, bit: bool) {
        if self.free == 0 {
            self.push(0);
            self.free = 8;
        }
        self.free -= 1;
        if let Some(last) = self.bytes.last_mut().filter(|_| bit) {
            *last |= 1 << self.free;
        }
    }

    /// Appends the `nbits` low bits of `v` (1 ..= 64), most significant first.
    #[inline]
    pub(crate) fn write_bits(&mut self, v: u64, nbits: u32) {
        debug_assert!((1..=64).contains(&nbits));
        // Left-align the payload so that its first bit is bit 63.
        let mut v = v << (64 - nbits);
        let mut nbits = nbits;
        if self.free > 0 {
            let free = u32::from(self.free);
            if let Some(last) = self.bytes.last_mut() {
                *last |= (v >> (64 - free)) as u8;
            }
            if nbits <= free {
                self.free = (free - nbits) as u8;
                return;
            }
            // The last byte is now full (free < 8, so the shift is in range).
            v <<= free;
            nbits -= free;
        }
        // The rest in whole bytes (the unused low bits of the new last byte
        // are zero).
        let n = nbits.div_ceil(8) as usize;
        self.free = (n as u32 * 8 - nbits) as u8;
        let len = self.bytes.len();
        if self.bytes.capacity() - len >= 8 {
            // All eight stored at once (a fixed-size store, not a copy of a
            // variable length), then the length cut back to the `n` bytes
            // the bits reach; the growth policy never sees the other ones.
            self.bytes.extend_from_slice(&v.to_be_bytes());
            self.bytes.truncate(len + n);
        } else {
            self.room_for(n);
            self.bytes.extend_from_slice(&v.to_be_bytes()[..n]);
        }
    }

    /// Appends a whole byte at the current bit position.
    #[inline]
    pub(crate) fn write_byte(&mut self, b: u8) {
        self.write_bits(u64::from(b), 8);
    }

    /// Appends `v` as an unsigned LEB128 varint, byte by byte through the
    /// bit stream (Go's `binary.PutUvarint`).
    pub(crate) fn write_uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.write_byte((v as u8) | 0x80);
            v >>= 7;
        }
        self.write_byte(v as u8);
    }

    /// Appends `v` as a zig-zag signed varint (Go's `binary.PutVarint`).
    pub(crate) fn write_varint(&mut self, v: i64) {
        self.write_uvarint(((v << 1) ^ (v >> 63)) as u64);
    }
}

/// A bounded bit reader over a borrowed byte slice.
///
/// Every read past the end returns [`Error::UnexpectedEof`]; nothing panics
/// on any input.
#[derive(Clone, Debug)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte of `data` to load into `buf`.
    pos: usize,
    /// Up to 64 bits loaded from `data`; the `valid` low bits are unread.
    buf: u64,
    valid: u32,
}

#[inline]
fn low_mask(n: u32) -> u64 {
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}

impl<'a> BitReader<'a> {
    /// A reader positioned at the first bit of `data`.
    pub(crate) fn new(data: &'a [u8]) -> BitReader<'a> {
        BitReader {
            data,
            pos: 0,
            buf: 0,
            valid: 0,
        }
    }

    /// How many bits have been consumed.
    pub(crate) fn bits_read(&self) -> usize {
        self.pos * 8 - self.valid as usize
    }

    /// How many bits are left to read.
    pub(crate) fn bits_left(&self) -> usize {
        self.data.len().saturating_sub(self.pos) * 8 + self.valid as usize
    }

    /// Loads the next (up to) 8 bytes; false at the end of the data.
    #[inline]
    fn refill(&mut self) -> bool {
        let rest = &self.data[self.pos.min(self.data.len())..];
        if let Some(chunk) = rest.first_chunk::<8>() {
            self.buf = u64::from_be_bytes(*chunk);
            self.valid = 64;
            self.pos += 8;
            true
        } else if rest.is_empty() {
            false
        } else {
            let mut buf = 0u64;
            for &b in rest {
                buf = (buf << 8) | u64::from(b);
            }
            self.buf = buf;
            self.valid = 8 * rest.len() as u32;
            self.pos += rest.len();
            true
        }
    }

    /// Reads one bit.
    #[inline]
    pub(crate) fn read_bit(&mut self) -> Result<bool, Error> {
        if self.valid == 0 && !self.refill() {
            return Err(Error::UnexpectedEof);
        }
        self.valid -= 1;
        Ok((self.buf >> self.valid) & 1 == 1)
    }

    /// Reads `nbits` bits (1 ..= 64) into the low bits of the result.
    #[inline]
    pub(crate) fn read_bits(&mut self, nbits: u32) -> Result<u64, Error> {
        debug_assert!((1..=64).contains(&nbits));
        if nbits <= self.valid {
            // Fast path: everything is in the buffer.
            self.valid -= nbits;
            return Ok((self.buf >> self.valid) & low_mask(nbits));
        }
        let hi_bits = self.valid;
        let hi = self.buf & low_mask(hi_bits);
        let rest = nbits - hi_bits;
        self.valid = 0;
        if !self.refill() || rest > self.valid {
            return Err(Error::UnexpectedEof);
        }
        self.valid -= rest;
        let lo = (self.buf >> self.valid) & low_mask(rest);
        Ok(hi.checked_shl(rest).unwrap_or(0) | lo)
    }

    /// Reads a whole byte.
    #[inline]
    pub(crate) fn read_byte(&mut self) -> Result<u8, Error> {
        Ok(self.read_bits(8)? as u8)
    }

    /// Reads an unsigned LEB128 varint of at most 10 bytes.
    pub(crate) fn read_uvarint(&mut self) -> Result<u64, Error> {
        let mut x = 0u64;
        let mut shift = 0u32;
        for i in 0..10 {
            let b = self.read_byte()?;
            if b < 0x80 {
                if i == 9 && b > 1 {
                    return Err(Error::Corrupt("varint overflows 64 bits"));
                }
                return Ok(x | (u64::from(b) << shift));
            }
            x |= u64::from(b & 0x7f) << shift;
            shift += 7;
        }
        Err(Error::Corrupt("varint overflows 64 bits"))
    }

    /// Reads a zig-zag signed varint.
    pub(crate) fn read_varint(&mut self) -> Result<i64, Error> {
        let ux = self.read_uvarint()?;
        let x = (ux >> 1) as i64;
        Ok(if ux & 1 != 0 { !x } else { x })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn bits_round_trip(items in proptest::collection::vec((any::<u64>(), 1u32..=64), 0..64)) {
            let mut w = BitWriter::default();
            let mut total = 0usize;
            for &(v, n) in &items {
                w.write_bits(v, n);
                total += n as usize;
            }
            prop_assert_eq!(w.bytes().len(), total.div_ceil(8));
            let mut r = BitReader::new(w.bytes());
            for &(v, n) in &items {
                prop_assert_eq!(r.read_bits(n).unwrap(), v & low_mask(n));
            }
            prop_assert_eq!(r.bits_read(), total);
        }

        #[test]
        fn single_bits_match_multi_bit_writes(bits in proptest::collection::vec(any::<bool>(), 0..200)) {
            let mut a = BitWriter::default();
            let mut b = BitWriter::default();
            for &bit in &bits {
                a.write_bit(bit);
                b.write_bits(u64::from(bit), 1);
            }
            prop_assert_eq!(a.bytes(), b.bytes());
        }

        #[test]
        fn varints_round_trip(u in any::<u64>(), i in any::<i64>(), pad in 0u32..8) {
            let mut w = BitWriter::default();
            if pad > 0 { w.write_bits(0, pad); }
            w.write_uvarint(u);
            w.write_varint(i);
            let mut r = BitReader::new(w.bytes());
            if pad > 0 { r.read_bits(pad).unwrap(); }
            prop_assert_eq!(r.read_uvarint().unwrap(), u);
            prop_assert_eq!(r.read_varint().unwrap(), i);
        }
    }

    #[test]
    fn reading_past_the_end_is_an_error() {
        let mut r = BitReader::new(&[0xff]);
        assert_eq!(r.read_bits(4).unwrap(), 0xf);
        assert!(matches!(r.read_bits(5), Err(Error::UnexpectedEof)));
        let mut r = BitReader::new(&[]);
        assert!(matches!(r.read_bit(), Err(Error::UnexpectedEof)));
    }
}
