//! Protobuf wire format: a bounds-checked reader over a byte slice and the
//! few writer primitives the encoder needs.
//!
//! The reader never allocates and never trusts a length: every
//! length-delimited field is checked against the bytes that remain in its
//! enclosing message before it is sliced. Positions are absolute offsets into
//! the whole input, so errors can name the byte where they happened.

use std::borrow::Cow;

/// A malformed-input error at an absolute byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireError {
    pub(crate) offset: usize,
    pub(crate) message: Cow<'static, str>,
}

impl WireError {
    pub(crate) fn new(offset: usize, message: impl Into<Cow<'static, str>>) -> WireError {
        WireError {
            offset,
            message: message.into(),
        }
    }
}

/// The wire type of a field (the low three bits of its tag).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WireType {
    Varint,
    Fixed64,
    Len,
    StartGroup,
    EndGroup,
    Fixed32,
}

impl WireType {
    fn from_bits(bits: u64) -> Option<WireType> {
        Some(match bits {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            3 => WireType::StartGroup,
            4 => WireType::EndGroup,
            5 => WireType::Fixed32,
            _ => return None,
        })
    }

    pub(crate) fn bits(self) -> u8 {
        match self {
            WireType::Varint => 0,
            WireType::Fixed64 => 1,
            WireType::Len => 2,
            WireType::StartGroup => 3,
            WireType::EndGroup => 4,
            WireType::Fixed32 => 5,
        }
    }
}

/// A cursor over `buf[pos..end]`; offsets are absolute indexes into `buf`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf[start..end]`; the caller guarantees
    /// `start <= end <= buf.len()`.
    pub(crate) fn new(buf: &'a [u8], start: usize, end: usize) -> Reader<'a> {
        debug_assert!(start <= end && end <= buf.len());
        Reader {
            buf,
            pos: start,
            end,
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The whole underlying buffer.
    pub(crate) fn buf(&self) -> &'a [u8] {
        self.buf
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    /// A base-128 varint of at most ten bytes.
    pub(crate) fn varint(&mut self) -> Result<u64, WireError> {
        let start = self.pos;
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&b) = self.buf[..self.end].get(self.pos) else {
                return Err(WireError::new(
                    start,
                    "read varint: unexpected end of input",
                ));
            };
            self.pos += 1;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err(WireError::new(start, "read varint: longer than 10 bytes"))
    }

    pub(crate) fn fixed64(&mut self) -> Result<u64, WireError> {
        let bytes = self.take(8, "read fixed64: unexpected end of input")?;
        let mut a = [0u8; 8];
        a.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(a))
    }

    pub(crate) fn double(&mut self) -> Result<f64, WireError> {
        self.fixed64().map(f64::from_bits)
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if self.end - self.pos < n {
            return Err(WireError::new(self.pos, what));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// A field tag: (field number, wire type).
    pub(crate) fn tag(&mut self) -> Result<(u32, WireType), WireError> {
        let start = self.pos;
        let v = self.varint()?;
        let field = v >> 3;
        if field == 0 || field > u64::from(u32::MAX >> 3) {
            return Err(WireError::new(
                start,
                format!("read tag: invalid field number {field}"),
            ));
        }
        let Some(wt) = WireType::from_bits(v & 7) else {
            return Err(WireError::new(
                start,
                format!("read tag: invalid wire type {}", v & 7),
            ));
        };
        Ok((field as u32, wt))
    }

    /// A length prefix and the absolute range of the bytes it announces,
    /// which the reader then skips.
    pub(crate) fn len_delimited(&mut self) -> Result<(usize, usize), WireError> {
        let at = self.pos;
        let len = self.varint()?;
        let remaining = self.end - self.pos;
        if len > remaining as u64 {
            return Err(WireError::new(
                at,
                format!(
                    "read length-delimited field: length {len} exceeds the {remaining} bytes left"
                ),
            ));
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok((start, self.pos))
    }

    /// Skips the value of a field of wire type `wt` (groups included).
    pub(crate) fn skip(&mut self, wt: WireType) -> Result<(), WireError> {
        match wt {
            WireType::Varint => self.varint().map(drop),
            WireType::Fixed64 => self
                .take(8, "skip fixed64: unexpected end of input")
                .map(drop),
            WireType::Fixed32 => self
                .take(4, "skip fixed32: unexpected end of input")
                .map(drop),
            WireType::Len => self.len_delimited().map(drop),
            WireType::StartGroup => self.skip_group(),
            WireType::EndGroup => Err(WireError::new(self.pos, "skip field: unexpected end group")),
        }
    }

    /// Skips to the end of a group whose start tag was just read, without
    /// recursion.
    fn skip_group(&mut self) -> Result<(), WireError> {
        let mut depth = 1usize;
        while depth > 0 {
            if self.at_end() {
                return Err(WireError::new(
                    self.pos,
                    "skip group: unexpected end of input",
                ));
            }
            let (_, wt) = self.tag()?;
            match wt {
                WireType::StartGroup => depth += 1,
                WireType::EndGroup => depth -= 1,
                other => self.skip(other)?,
            }
        }
        Ok(())
    }

    /// Checks a field's wire type, naming the field on mismatch.
    pub(crate) fn expect(
        &self,
        at: usize,
        got: WireType,
        want: WireType,
        field: &'static str,
    ) -> Result<(), WireError> {
        if got == want {
            Ok(())
        } else {
            Err(WireError::new(
                at,
                format!("read {field}: wrong wire type {}", got.bits()),
            ))
        }
    }
}

/// Decodes a zigzag-encoded 64-bit value.
pub(crate) fn unzigzag64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Decodes a zigzag-encoded 32-bit value (the varint's low 32 bits).
pub(crate) fn unzigzag32(v: u64) -> i32 {
    let v = v as u32;
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

pub(crate) fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(crate) fn zigzag32(v: i32) -> u64 {
    u64::from(((v << 1) ^ (v >> 31)) as u32)
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn put_tag(out: &mut Vec<u8>, field: u32, wt: WireType) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wt.bits()));
}

pub(crate) fn put_varint_field(out: &mut Vec<u8>, field: u32, v: u64) {
    put_tag(out, field, WireType::Varint);
    put_varint(out, v);
}

pub(crate) fn put_double_field(out: &mut Vec<u8>, field: u32, v: f64) {
    put_tag(out, field, WireType::Fixed64);
    out.extend_from_slice(&v.to_bits().to_le_bytes());
}

pub(crate) fn put_bytes_field(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    put_tag(out, field, WireType::Len);
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Writes a length-delimited message whose body `body` writes: reserves one
/// length byte, writes the body after it, then widens the prefix if the body
/// turned out to be 128 bytes or longer.
pub(crate) fn put_message_with(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    let len_at = out.len();
    out.push(0);
    body(out);
    let len = out.len() - len_at - 1;
    let mut prefix = [0u8; 10];
    let mut n = 0;
    let mut v = len as u64;
    while v >= 0x80 {
        prefix[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    prefix[n] = v as u8;
    n += 1;
    out.splice(len_at..len_at + 1, prefix[..n].iter().copied());
}

/// Writes field `field` as an embedded message.
pub(crate) fn put_message_field(out: &mut Vec<u8>, field: u32, body: impl FnOnce(&mut Vec<u8>)) {
    put_tag(out, field, WireType::Len);
    put_message_with(out, body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_varint(bytes: &[u8], want: Result<u64, &str>) {
        let mut r = Reader::new(bytes, 0, bytes.len());
        match (r.varint(), want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want),
            (Err(e), Err(msg)) => assert!(e.message.contains(msg), "{e:?}"),
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn varints() {
        check_varint(&[0], Ok(0));
        check_varint(&[1], Ok(1));
        check_varint(&[0x96, 0x01], Ok(150));
        check_varint(
            &[0xff; 9].iter().copied().chain([1]).collect::<Vec<_>>(),
            Ok(u64::MAX),
        );
        check_varint(&[0x80], Err("unexpected end"));
        check_varint(&[], Err("unexpected end"));
        check_varint(&[0x80; 11], Err("longer than 10 bytes"));
    }

    #[track_caller]
    fn check_roundtrip(v: u64) {
        let mut out = Vec::new();
        put_varint(&mut out, v);
        let mut r = Reader::new(&out, 0, out.len());
        assert_eq!(r.varint(), Ok(v));
        assert!(r.at_end());
    }

    #[test]
    fn varint_roundtrip() {
        for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            check_roundtrip(v);
        }
    }

    #[test]
    fn zigzag() {
        for v in [0i64, 1, -1, 2, -2, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag64(zigzag64(v)), v);
        }
        for v in [0i32, 1, -1, i32::MAX, i32::MIN] {
            assert_eq!(unzigzag32(zigzag32(v)), v);
        }
        assert_eq!(zigzag64(-1), 1);
        assert_eq!(zigzag64(1), 2);
    }

    #[test]
    fn length_is_checked_against_remaining_input() {
        let bytes = [0x05, 1, 2];
        let mut r = Reader::new(&bytes, 0, 3);
        let e = r.len_delimited().unwrap_err();
        assert_eq!(e.offset, 0);
        assert!(e.message.contains("exceeds"), "{e:?}");
        // A huge length does not overflow.
        let bytes = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        let mut r = Reader::new(&bytes, 0, bytes.len());
        assert!(r.len_delimited().is_err());
    }

    #[test]
    fn message_prefix_widens() {
        for n in [0usize, 1, 127, 128, 20_000] {
            let mut out = vec![9];
            put_message_with(&mut out, |o| o.extend(std::iter::repeat_n(7u8, n)));
            let mut r = Reader::new(&out, 1, out.len());
            assert_eq!(r.len_delimited(), Ok((out.len() - n, out.len())));
        }
    }

    #[test]
    fn skips_groups() {
        // field 1 start group, field 2 varint 5, field 1 end group, then field 3 varint.
        let bytes = [0x0b, 0x10, 0x05, 0x0c, 0x18, 0x01];
        let mut r = Reader::new(&bytes, 0, bytes.len());
        let (f, wt) = r.tag().unwrap();
        assert_eq!((f, wt), (1, WireType::StartGroup));
        r.skip(wt).unwrap();
        assert_eq!(r.tag().unwrap(), (3, WireType::Varint));
        let bytes = [0x0b, 0x0b];
        let mut r = Reader::new(&bytes, 0, bytes.len());
        let (_, wt) = r.tag().unwrap();
        assert!(r.skip(wt).is_err());
    }
}
