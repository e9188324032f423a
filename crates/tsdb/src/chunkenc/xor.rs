//! The XOR chunk: Gorilla-style float samples, byte-compatible with
//! Prometheus's `EncXOR` (`xor.go`).
//!
//! Layout: a 2-byte big-endian sample count, then a bit stream:
//! sample 0 is `varint(t)` and the 64 value bits; sample 1 is
//! `uvarint(t1 - t0)` and the value XOR; every later sample is the
//! delta-of-delta of its timestamp in one of five buckets (`0`;
//! `10`+14 bits; `110`+17; `1110`+20; `1111`+64) and the value XOR.
//! See `docs/format/chunks.md`.

use super::bstream::{BitReader, BitWriter};
use super::varbit::bit_range;
use super::{Error, ValueType};

/// Size of the sample-count header.
pub(crate) const HEADER_SIZE: usize = 2;

/// Writes `new` as the XOR against `cur`, reusing the previous
/// leading/trailing zero window when it still fits (Prometheus's
/// `xorWrite`). `leading == 0xff` means "no window yet".
#[inline]
pub(crate) fn xor_write(
    w: &mut BitWriter,
    new: f64,
    cur: f64,
    leading: &mut u8,
    trailing: &mut u8,
) {
    let delta = new.to_bits() ^ cur.to_bits();
    if delta == 0 {
        w.write_bit(false);
        return;
    }
    // Control bits and payload go in as few writes as fit in 64 bits.
    let new_leading = (delta.leading_zeros() as u8).min(31);
    let new_trailing = delta.trailing_zeros() as u8;
    if *leading != 0xff && new_leading >= *leading && new_trailing >= *trailing {
        // Reuse the window: `10` + the significant bits.
        let sig = 64 - u32::from(*leading) - u32::from(*trailing);
        let bits = delta >> *trailing;
        if sig <= 62 {
            w.write_bits((0b10 << sig) | bits, sig + 2);
        } else {
            w.write_bits(0b10, 2);
            w.write_bits(bits, sig);
        }
        return;
    }
    *leading = new_leading;
    *trailing = new_trailing;
    // New window: `11` + 5 bits leading + 6 bits significant (64 -> 0).
    let sig = 64 - u32::from(new_leading) - u32::from(new_trailing);
    let head = (0b11 << 11) | (u64::from(new_leading) << 6) | u64::from(sig & 63);
    w.write_bits(head, 13);
    w.write_bits(delta >> new_trailing, sig);
}

/// Reads a value written by [`xor_write`], updating `value` and the window.
///
/// A reuse control (`10`) before any window was set is read as the window
/// (0, 0), which is what Prometheus's reader does; the state then follows.
#[inline]
pub(crate) fn xor_read(
    r: &mut BitReader<'_>,
    value: &mut f64,
    leading: &mut u8,
    trailing: &mut u8,
) -> Result<(), Error> {
    if !r.read_bit()? {
        return Ok(());
    }
    let (trail, sig) = if !r.read_bit()? {
        if *leading == 0xff {
            *leading = 0;
            *trailing = 0;
        }
        (*trailing, 64 - u32::from(*leading) - u32::from(*trailing))
    } else {
        let lead = r.read_bits(5)? as u8;
        let mut sig = r.read_bits(6)? as u32;
        if sig == 0 {
            sig = 64;
        }
        if u32::from(lead) + sig > 64 {
            return Err(Error::Corrupt("XOR window wider than 64 bits"));
        }
        let trail = (64 - u32::from(lead) - sig) as u8;
        *leading = lead;
        *trailing = trail;
        (trail, sig)
    };
    let bits = r.read_bits(sig)?;
    *value = f64::from_bits(value.to_bits() ^ (bits << trail));
    Ok(())
}

/// Appender state: what the encoder must remember about the last sample.
#[derive(Clone, Copy, Debug, PartialEq)]
struct State {
    t: i64,
    v: f64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
}

impl State {
    const EMPTY: State = State {
        t: i64::MIN,
        v: 0.0,
        t_delta: 0,
        leading: 0xff,
        trailing: 0,
    };
}

/// An XOR chunk under construction (or reopened for appending).
#[derive(Clone, Debug)]
pub struct XorChunk {
    w: BitWriter,
    state: State,
}

impl Default for XorChunk {
    fn default() -> Self {
        XorChunk::new()
    }
}

impl XorChunk {
    /// An empty chunk.
    pub fn new() -> XorChunk {
        let mut bytes = Vec::with_capacity(128);
        bytes.extend_from_slice(&[0, 0]);
        XorChunk {
            w: BitWriter::from_parts(bytes, 0),
            state: State::EMPTY,
        }
    }

    /// Reopens encoded chunk bytes for appending, as Prometheus does when it
    /// takes an appender on an existing chunk: all samples are decoded to
    /// rebuild the encoder state, so later appends produce the same bytes
    /// as a one-shot encode. Bytes past the end of the bit stream are
    /// dropped.
    pub fn from_bytes(mut bytes: Vec<u8>) -> Result<XorChunk, Error> {
        let mut it = XorIterator::new(&bytes)?;
        while it.next() != ValueType::None {}
        if let Some(e) = it.err() {
            return Err(e.clone());
        }
        let state = if it.read == 0 {
            State::EMPTY
        } else {
            State {
                t: it.t,
                v: it.v,
                t_delta: it.t_delta,
                leading: it.leading,
                trailing: it.trailing,
            }
        };
        let bits = HEADER_SIZE * 8 + it.r.bits_read();
        bytes.truncate(bits.div_ceil(8));
        let free = (bytes.len() * 8 - bits) as u8;
        Ok(XorChunk {
            w: BitWriter::from_parts(bytes, free),
            state,
        })
    }

    /// The encoded bytes (header included), as stored on disk.
    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    /// Hands back the encoded bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.w.into_bytes()
    }

    /// Timestamp of the newest sample, `None` when empty. Fast path: from
    /// the encoder state, without touching the bytes (`i64::MIN` marks an
    /// empty chunk; no sample has that timestamp).
    pub fn last_t(&self) -> Option<i64> {
        (self.state.t != i64::MIN).then_some(self.state.t)
    }

    /// Number of samples.
    pub fn num_samples(&self) -> usize {
        num_samples(self.bytes())
    }

    /// An iterator over the samples.
    pub fn iter(&self) -> XorIterator<'_> {
        XorIterator::from_valid(self.bytes())
    }

    /// Appends a sample. Timestamps are expected to increase; the encoding
    /// itself wraps like Prometheus's. Fails only when the chunk already
    /// holds 65535 samples.
    pub fn append(&mut self, t: i64, v: f64) -> Result<(), Error> {
        let num = self.num_samples();
        let mut t_delta = 0u64;
        match num {
            0 => {
                self.w.write_varint(t);
                self.w.write_bits(v.to_bits(), 64);
            }
            1 => {
                t_delta = t.wrapping_sub(self.state.t) as u64;
                self.w.write_uvarint(t_delta);
                xor_write(
                    &mut self.w,
                    v,
                    self.state.v,
                    &mut self.state.leading,
                    &mut self.state.trailing,
                );
            }
            n if n >= usize::from(u16::MAX) => return Err(Error::ChunkFull),
            _ => {
                t_delta = t.wrapping_sub(self.state.t) as u64;
                let dod = t_delta.wrapping_sub(self.state.t_delta) as i64;
                // Control bits and value in one write.
                let field = |ctl: u64, n: u32| (ctl << n) | (dod as u64 & ((1 << n) - 1));
                if dod == 0 {
                    self.w.write_bit(false);
                } else if bit_range(dod, 14) {
                    self.w.write_bits(field(0b10, 14), 16);
                } else if bit_range(dod, 17) {
                    self.w.write_bits(field(0b110, 17), 20);
                } else if bit_range(dod, 20) {
                    self.w.write_bits(field(0b1110, 20), 24);
                } else {
                    self.w.write_bits(0b1111, 4);
                    self.w.write_bits(dod as u64, 64);
                }
                xor_write(
                    &mut self.w,
                    v,
                    self.state.v,
                    &mut self.state.leading,
                    &mut self.state.trailing,
                );
            }
        }
        self.state.t = t;
        self.state.v = v;
        self.state.t_delta = t_delta;
        let n = (num + 1) as u16;
        self.w.bytes_mut()[..2].copy_from_slice(&n.to_be_bytes());
        Ok(())
    }
}

/// The sample count in a chunk's 2-byte header (0 if too short).
pub(crate) fn num_samples(bytes: &[u8]) -> usize {
    match bytes.first_chunk::<2>() {
        Some(h) => usize::from(u16::from_be_bytes(*h)),
        None => 0,
    }
}

/// Iterates the samples of an XOR chunk; bounded on corrupt input.
#[derive(Clone, Debug)]
pub struct XorIterator<'a> {
    r: BitReader<'a>,
    total: u16,
    read: u16,
    t: i64,
    v: f64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
    err: Option<Error>,
}

impl<'a> XorIterator<'a> {
    /// An iterator over encoded chunk bytes (header included).
    pub fn new(bytes: &'a [u8]) -> Result<XorIterator<'a>, Error> {
        if bytes.len() < HEADER_SIZE {
            return Err(Error::TooShort {
                len: bytes.len(),
                need: HEADER_SIZE,
            });
        }
        Ok(XorIterator::from_valid(bytes))
    }

    fn from_valid(bytes: &'a [u8]) -> XorIterator<'a> {
        XorIterator {
            r: BitReader::new(bytes.get(HEADER_SIZE..).unwrap_or_default()),
            total: num_samples(bytes) as u16,
            read: 0,
            t: i64::MIN,
            v: 0.0,
            t_delta: 0,
            leading: 0xff,
            trailing: 0,
            err: None,
        }
    }

    /// The error that stopped iteration, if any.
    pub fn err(&self) -> Option<&Error> {
        self.err.as_ref()
    }

    /// The current sample.
    pub fn at(&self) -> (i64, f64) {
        (self.t, self.v)
    }

    /// The current timestamp.
    pub fn at_t(&self) -> i64 {
        self.t
    }

    /// Advances to the first sample with timestamp `>= t` (staying put if
    /// the current one already qualifies).
    pub fn seek(&mut self, t: i64) -> ValueType {
        if self.err.is_some() {
            return ValueType::None;
        }
        while self.read == 0 || t > self.t {
            if self.next() == ValueType::None {
                return ValueType::None;
            }
        }
        ValueType::Float
    }

    /// Advances to the next sample.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> ValueType {
        if self.err.is_some() || self.read == self.total {
            return ValueType::None;
        }
        match self.step() {
            Ok(()) => {
                self.read += 1;
                ValueType::Float
            }
            Err(e) => {
                self.err = Some(e);
                ValueType::None
            }
        }
    }

    #[inline]
    fn step(&mut self) -> Result<(), Error> {
        match self.read {
            0 => {
                self.t = self.r.read_varint()?;
                self.v = f64::from_bits(self.r.read_bits(64)?);
                return Ok(());
            }
            1 => {
                self.t_delta = self.r.read_uvarint()?;
                self.t = self.t.wrapping_add(self.t_delta as i64);
            }
            _ => {
                // Fast path: dod == 0 is a single zero bit.
                let dod = if !self.r.read_bit()? {
                    0
                } else {
                    let width = if !self.r.read_bit()? {
                        14
                    } else if !self.r.read_bit()? {
                        17
                    } else if !self.r.read_bit()? {
                        20
                    } else {
                        64
                    };
                    let bits = self.r.read_bits(width)?;
                    if width < 64 && bits > (1u64 << (width - 1)) {
                        bits as i64 - (1i64 << width)
                    } else {
                        bits as i64
                    }
                };
                self.t_delta = self.t_delta.wrapping_add(dod as u64);
                self.t = self.t.wrapping_add(self.t_delta as i64);
            }
        }
        xor_read(
            &mut self.r,
            &mut self.v,
            &mut self.leading,
            &mut self.trailing,
        )
    }
}
