//! The protobuf parser on hostile input: arbitrary bytes, and valid
//! expositions with bytes flipped, inserted, removed or cut off. It must
//! end (with entries and at most one error, after which it stops), never
//! panic and never allocate beyond what the input can justify. A stand-in
//! for the fuzz target where cargo-fuzz is not at hand.

#![allow(clippy::unwrap_used)]

#[path = "roundtrip/gen.rs"]
mod generate;

use expfmt::protobuf::ProtobufParser;
use expfmt::{Entry, Format, MetricFamily, Parser, encode_protobuf};
use proptest::prelude::*;

/// Runs the parser to the end; returns (entries, whether it ended in an error).
fn drain(input: &[u8], classic: bool) -> (usize, bool) {
    let mut p = ProtobufParser::new(input).with_classic_histograms(classic);
    let mut entries = 0;
    let mut failed = false;
    while let Some(e) = p.next() {
        assert!(!failed, "an entry after an error");
        match e {
            Ok(Entry::Sample(s)) => {
                // Touch everything that borrows from the parser.
                let _ = s.labels.iter().count() + s.series.len() + s.name.len();
                if let Some(e) = s.exemplar {
                    let _ = e.labels.iter().count();
                }
            }
            Ok(Entry::Histogram(h)) => {
                let _ = h.labels.iter().count() + h.exemplars.len();
            }
            Ok(_) => {}
            Err(e) => {
                assert!(e.position.offset <= input.len(), "{e}");
                failed = true;
            }
        }
        entries += 1;
        // Each entry consumes input, except a family's few metadata
        // entries and a metric's synthesized series; this bounds them.
        assert!(entries <= 64 * (input.len() + 1), "runaway parser");
    }
    (entries, failed)
}

#[derive(Clone, Debug)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Cut(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Remove),
        any::<usize>().prop_map(Edit::Cut),
    ]
}

fn apply(bytes: &mut Vec<u8>, e: &Edit) {
    if bytes.is_empty() {
        return;
    }
    let at = |i: usize| i % bytes.len();
    match *e {
        Edit::Flip(i, b) => {
            let i = at(i);
            bytes[i] ^= b;
        }
        Edit::Insert(i, b) => {
            let i = at(i);
            bytes.insert(i, b);
        }
        Edit::Remove(i) => {
            let i = at(i);
            bytes.remove(i);
        }
        Edit::Cut(i) => {
            let i = at(i);
            bytes.truncate(i);
        }
    }
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok());
    ProptestConfig {
        cases: cases.unwrap_or(512),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        drain(&bytes, false);
        drain(&bytes, true);
        stable(&bytes)?;
    }

    #[test]
    fn edited_expositions(
        families in generate::families(),
        edits in proptest::collection::vec(edit(), 1..4),
    ) {
        let mut bytes = Vec::new();
        encode_protobuf(&families, &mut bytes);
        let (_, failed) = drain(&bytes, true);
        prop_assert!(!failed);
        for e in &edits {
            apply(&mut bytes, e);
        }
        drain(&bytes, false);
        drain(&bytes, true);
        stable(&bytes)?;
    }
}

/// Input that parses and collects cleanly comes back unchanged through
/// encode → parse → collect (the fuzz target's oracle).
fn stable(input: &[u8]) -> Result<(), TestCaseError> {
    let collect = |b: &[u8]| {
        let mut p = ProtobufParser::new(b).with_classic_histograms(true);
        MetricFamily::collect(&mut p, Format::Protobuf)
    };
    let Ok(first) = collect(input) else {
        return Ok(());
    };
    let mut bytes = Vec::new();
    encode_protobuf(&first, &mut bytes);
    let second = collect(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    // Debug text compares NaNs as equal.
    prop_assert_eq!(format!("{first:?}"), format!("{second:?}"));
    Ok(())
}

#[test]
fn huge_lengths_are_rejected_not_allocated() {
    // A family claiming 2^62 bytes, and a packed field claiming more than
    // its message holds.
    let huge = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0x0a];
    assert_eq!(drain(&huge, false), (1, true));
    // name "h", type HISTOGRAM, metric { histogram { positive_delta: packed, length 100 } }
    let body = [
        0x0a, 1, b'h', 0x18, 4, 0x22, 6, 0x3a, 4, 0x6a, 100, 0x02, 0x04,
    ];
    let mut input = vec![body.len() as u8];
    input.extend_from_slice(&body);
    assert_eq!(
        drain(&input, false),
        (3, true),
        "HELP, TYPE, then the error"
    );
}
