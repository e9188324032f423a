//! XOR chunk: property round trips, reopen-and-append, seek, golden bytes
//! and corrupt input.

#![allow(clippy::unwrap_used)]

use model::value::{NORMAL_NAN_BITS, STALE_NAN};
use proptest::prelude::*;
use tsdb::chunkenc::{Chunk, ChunkIter, Encoding, ValueType, XorChunk, XorIterator};

fn encode(samples: &[(i64, f64)]) -> XorChunk {
    let mut c = XorChunk::new();
    for &(t, v) in samples {
        c.append(t, v).unwrap();
    }
    c
}

fn decode(bytes: &[u8]) -> Vec<(i64, u64)> {
    let mut it = XorIterator::new(bytes).unwrap();
    let mut out = Vec::new();
    while it.next() == ValueType::Float {
        let (t, v) = it.at();
        out.push((t, v.to_bits()));
    }
    assert_eq!(it.err(), None);
    out
}

fn bits(samples: &[(i64, f64)]) -> Vec<(i64, u64)> {
    samples.iter().map(|&(t, v)| (t, v.to_bits())).collect()
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>(),
        2 => (0u32..1000).prop_map(f64::from),
        2 => (-1e6f64..1e6).prop_map(|v| (v * 100.0).round() / 100.0),
        1 => Just(f64::NAN),
        1 => Just(f64::from_bits(NORMAL_NAN_BITS)),
        1 => Just(STALE_NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(-0.0),
        1 => Just(0.0),
    ]
}

fn delta() -> impl Strategy<Value = i64> {
    prop_oneof![
        6 => Just(15_000i64),
        4 => 14_990i64..15_010,
        2 => 0i64..10,
        2 => 1i64..300_000,
        1 => 1i64..(1 << 40),
        1 => any::<i64>(),
    ]
}

fn samples() -> impl Strategy<Value = Vec<(i64, f64)>> {
    (
        any::<i64>(),
        proptest::collection::vec((delta(), value()), 0..300),
    )
        .prop_map(|(t0, rest)| {
            let mut t = t0;
            rest.into_iter()
                .map(|(d, v)| {
                    t = t.wrapping_add(d);
                    (t, v)
                })
                .collect()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip(s in samples()) {
        let c = encode(&s);
        prop_assert_eq!(c.num_samples(), s.len());
        prop_assert_eq!(decode(c.bytes()), bits(&s));
    }

    #[test]
    fn append_after_reopen_equals_one_shot(s in samples(), split in any::<prop::sample::Index>()) {
        let one_shot = encode(&s);
        let k = if s.is_empty() { 0 } else { split.index(s.len() + 1) };
        let first = encode(&s[..k]);
        let mut reopened = XorChunk::from_bytes(first.bytes().to_vec()).unwrap();
        for &(t, v) in &s[k..] {
            reopened.append(t, v).unwrap();
        }
        prop_assert_eq!(reopened.bytes(), one_shot.bytes());
    }

    #[test]
    fn seek_finds_first_at_or_after(n in 1usize..200, target in 0i64..3_100_000) {
        let s: Vec<(i64, f64)> = (0..n as i64).map(|i| (i * 15_000 + (i % 3), i as f64)).collect();
        let c = encode(&s);
        let mut it = c.iter();
        let want = s.iter().find(|&&(t, _)| t >= target);
        match want {
            Some(&(t, v)) => {
                prop_assert_eq!(it.seek(target), ValueType::Float);
                prop_assert_eq!(it.at(), (t, v));
                // Seeking backwards stays put.
                prop_assert_eq!(it.seek(0), ValueType::Float);
                prop_assert_eq!(it.at(), (t, v));
            }
            None => prop_assert_eq!(it.seek(target), ValueType::None),
        }
    }

    #[test]
    fn corrupt_bytes_never_panic(s in samples(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut b = encode(&s).into_bytes();
        for (i, x) in flips {
            let i = i.index(b.len());
            b[i] ^= x;
        }
        let mut it = ChunkIter::new(Encoding::Xor, &b).unwrap();
        let mut n = 0;
        while it.next() != ValueType::None { n += 1; }
        prop_assert!(n <= 65535);
        let _ = XorChunk::from_bytes(b);
    }
}

#[test]
fn truncation_at_every_offset_is_an_error_not_a_panic() {
    let s: Vec<(i64, f64)> = (0..120)
        .map(|i| (1_700_000_000_000 + i * 15_000 + i % 7, (i * i) as f64 / 3.0))
        .collect();
    let full = encode(&s).into_bytes();
    for cut in 0..full.len() {
        let b = &full[..cut];
        match XorIterator::new(b) {
            Err(_) => assert!(cut < 2),
            Ok(mut it) => {
                while it.next() != ValueType::None {}
                assert!(
                    it.err().is_some(),
                    "truncated at {cut} of {} went unnoticed",
                    full.len()
                );
            }
        }
        assert!(XorChunk::from_bytes(b.to_vec()).is_err());
    }
}

/// Golden bytes, derived by hand from the format (docs/format/chunks.md).
#[test]
fn golden_bytes() {
    #[track_caller]
    fn check(samples: &[(i64, f64)], want: &[u8]) {
        let c = encode(samples);
        assert_eq!(c.bytes(), want, "{samples:?}");
        assert_eq!(decode(want), bits(samples));
    }
    // Empty chunk: just the zero count.
    check(&[], &[0x00, 0x00]);
    // One sample: count 1, varint(1000) = zigzag 2000 = d0 0f, then 1.0's bits.
    check(
        &[(1000, 1.0)],
        &[0x00, 0x01, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0],
    );
    // Second sample same value: uvarint(15000) = 98 75, then a single 0 bit.
    check(
        &[(1000, 1.0), (16000, 1.0)],
        &[
            0x00, 0x02, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x98, 0x75, 0x00,
        ],
    );
    // Third sample, dod 0 and same value: two more 0 bits in the same byte.
    check(
        &[(1000, 1.0), (16000, 1.0), (31000, 1.0)],
        &[
            0x00, 0x03, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x98, 0x75, 0x00,
        ],
    );
    // 1.0 -> 2.0: xor = 0x7ff0000000000000: leading 1, trailing 52, 11 significant bits.
    // Bits: 1 1 | 00001 | 001011 | 11111111111 -> 1100 0010 0101 1111 1111 1111 (24 bits).
    check(
        &[(0, 1.0), (1, 2.0)],
        &[
            0x00, 0x02, 0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x01, 0xc2, 0x5f, 0xff,
        ],
    );
    // A dod of +1 takes the 14-bit bucket: 10 00000000000001, then value bit 0.
    // Bytes after the 2nd sample's bits (1 value bit): 0 | 10000000 | 0000000 1 | 0 ...
    check(
        &[(0, 0.0), (10, 0.0), (21, 0.0)],
        &[
            0x00, 0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0x40, 0x00, 0x80,
        ],
    );
}

#[test]
fn chunk_enum_dispatches() {
    let c = Chunk::from_bytes(Encoding::Xor, encode(&[(1, 1.0), (2, 2.0)]).into_bytes()).unwrap();
    assert_eq!(c.encoding(), Encoding::Xor);
    assert_eq!(c.num_samples(), 2);
    let mut it = c.iter();
    assert_eq!(it.next(), ValueType::Float);
    assert_eq!(it.at(), Some((1, 1.0)));
    assert_eq!(
        Encoding::from_byte(4),
        Err(tsdb::chunkenc::Error::UnknownEncoding(4))
    );
    assert_eq!(Encoding::from_byte(3).unwrap(), Encoding::FloatHistogram);
}
