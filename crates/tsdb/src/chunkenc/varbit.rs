//! Prometheus's variable-bit-width integer encodings (`varbit.go`), used by
//! the histogram chunks, and the shared bucket test `bit_range`.
//!
//! A value is written as a unary-ish prefix naming its bucket followed by the
//! value in that bucket's width:
//!
//! | prefix     | payload bits | signed range                      |
//! |------------|--------------|-----------------------------------|
//! | `0`        | 0            | 0                                 |
//! | `10`       | 3            | -3 ..= 4                          |
//! | `110`      | 6            | -31 ..= 32                        |
//! | `1110`     | 9            | -255 ..= 256                      |
//! | `11110`    | 12           | -2047 ..= 2048                    |
//! | `111110`   | 18           | -131071 ..= 131072                |
//! | `1111110`  | 25           | -16777215 ..= 16777216            |
//! | `11111110` | 56           | -(2^55 - 1) ..= 2^55              |
//! | `11111111` | 64           | everything else                   |
//!
//! The unsigned variant uses the same prefixes with ranges `0 ..= 2^w - 1`.

use super::Error;
use super::bstream::{BitReader, BitWriter};

/// Whether `x` fits the asymmetric signed range of an `nbits`-wide field:
/// `-(2^(nbits-1) - 1) ..= 2^(nbits-1)`. Prometheus's `bitRange`.
#[inline]
pub(crate) fn bit_range(x: i64, nbits: u32) -> bool {
    let half = 1i64 << (nbits - 1);
    -(half - 1) <= x && x <= half
}

/// Payload widths per prefix length (index = number of leading one bits).
const WIDTHS: [u32; 8] = [0, 3, 6, 9, 12, 18, 25, 56];

/// Writes a signed integer in varbit encoding.
pub(crate) fn put_varbit_int(w: &mut BitWriter, v: i64) {
    if v == 0 {
        w.write_bit(false);
        return;
    }
    for (ones, &width) in WIDTHS.iter().enumerate().skip(1) {
        if bit_range(v, width) {
            // `ones` one bits then a zero: the prefix value is 2^(ones+1) - 2.
            let prefix = (1u64 << (ones + 1)) - 2;
            w.write_bits(prefix, ones as u32 + 1);
            w.write_bits(v as u64, width);
            return;
        }
    }
    w.write_bits(0xff, 8);
    w.write_bits(v as u64, 64);
}

/// Writes an unsigned integer in varbit encoding.
pub(crate) fn put_varbit_uint(w: &mut BitWriter, v: u64) {
    if v == 0 {
        w.write_bit(false);
        return;
    }
    let used = 64 - v.leading_zeros();
    for (ones, &width) in WIDTHS.iter().enumerate().skip(1) {
        if used <= width {
            let prefix = (1u64 << (ones + 1)) - 2;
            w.write_bits(prefix, ones as u32 + 1);
            w.write_bits(v, width);
            return;
        }
    }
    w.write_bits(0xff, 8);
    w.write_bits(v, 64);
}

/// Reads the prefix and returns the payload width (64 for the escape).
#[inline]
fn read_width(r: &mut BitReader<'_>) -> Result<u32, Error> {
    for &width in &WIDTHS {
        if !r.read_bit()? {
            return Ok(width);
        }
    }
    Ok(64)
}

/// Reads a signed varbit integer.
pub(crate) fn read_varbit_int(r: &mut BitReader<'_>) -> Result<i64, Error> {
    let width = read_width(r)?;
    match width {
        0 => Ok(0),
        64 => Ok(r.read_bits(64)? as i64),
        w => {
            let bits = r.read_bits(w)?;
            // Values above 2^(w-1) are negatives in w-bit two's complement.
            if bits > (1u64 << (w - 1)) {
                Ok(bits as i64 - (1i64 << w))
            } else {
                Ok(bits as i64)
            }
        }
    }
}

/// Reads an unsigned varbit integer.
pub(crate) fn read_varbit_uint(r: &mut BitReader<'_>) -> Result<u64, Error> {
    match read_width(r)? {
        0 => Ok(0),
        w => r.read_bits(w),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[track_caller]
    fn check_int(v: i64, bits: usize) {
        let mut w = BitWriter::default();
        put_varbit_int(&mut w, v);
        let mut r = BitReader::new(w.bytes());
        assert_eq!(read_varbit_int(&mut r).unwrap(), v);
        assert_eq!(r.bits_read(), bits, "width of {v}");
    }

    #[test]
    fn bucket_edges() {
        check_int(0, 1);
        check_int(4, 5);
        check_int(-3, 5);
        check_int(-4, 9);
        check_int(5, 9);
        check_int(32, 9);
        check_int(33, 13);
        check_int(2048, 17);
        check_int(131072, 24);
        check_int(16777216, 32);
        check_int(1 << 55, 64);
        check_int((1 << 55) + 1, 72);
        check_int(i64::MIN, 72);
        check_int(i64::MAX, 72);
    }

    proptest! {
        #[test]
        fn round_trip(vs in proptest::collection::vec(any::<i64>(), 0..50),
                      us in proptest::collection::vec(any::<u64>(), 0..50),
                      small in proptest::collection::vec(-300i64..300, 0..50)) {
            let mut w = BitWriter::default();
            for &v in vs.iter().chain(&small) { put_varbit_int(&mut w, v); }
            for &u in &us { put_varbit_uint(&mut w, u); }
            let mut r = BitReader::new(w.bytes());
            for &v in vs.iter().chain(&small) { prop_assert_eq!(read_varbit_int(&mut r).unwrap(), v); }
            for &u in &us { prop_assert_eq!(read_varbit_uint(&mut r).unwrap(), u); }
        }
    }
}
