//! Property tests for `Labels` and `labels::Builder` against a `BTreeMap`
//! model: sorted, unique, order-independent construction, and equality,
//! hashing and ordering that agree with the pairs.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};

use model::labels::Builder;
use model::{Labels, PackedLabels};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-c]{1,2}",
        "__[a-z]{1,3}",
        "[a-zA-Z_][a-zA-Z0-9_]{0,6}",
        ".{1,3}"
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-z0-9]{1,4}", ".{0,5}", "x{120,140}"]
}

fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((name(), value()), 0..8)
}

/// The model: the last value for each name wins, empty values are absent.
fn model_of(pairs: &[(String, String)]) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for (n, v) in pairs {
        if v.is_empty() {
            m.remove(n);
        } else {
            m.insert(n.clone(), v.clone());
        }
    }
    m
}

fn owned(l: &Labels) -> Vec<(String, String)> {
    l.iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

proptest! {
    #[test]
    fn from_pairs_is_sorted_unique_and_matches_the_model(p in pairs()) {
        // Later pairs win; an empty value removes the name.
        let m = model_of(&p);
        let l = Labels::from_pairs(p.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let got = owned(&l);
        prop_assert!(got.windows(2).all(|w| w[0].0 < w[1].0), "not sorted/unique: {:?}", got);
        prop_assert!(got.iter().all(|(_, v)| !v.is_empty()));
        prop_assert_eq!(got, m.iter().map(|(n, v)| (n.clone(), v.clone())).collect::<Vec<_>>());
        prop_assert_eq!(l.len(), m.len());
        prop_assert_eq!(l.is_empty(), m.is_empty());
        for (n, v) in &m {
            prop_assert_eq!(l.get(n), Some(v.as_str()));
        }
        prop_assert_eq!(l.get("not-a-generated-name!"), None);
    }

    #[test]
    fn construction_is_order_independent(p in pairs(), seed in any::<u64>()) {
        // Unique names, so the order of the input cannot matter.
        let m = model_of(&p);
        let mut shuffled: Vec<(&String, &String)> = m.iter().collect();
        let n = shuffled.len();
        let mut s = seed;
        for i in (1..n).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        let a = Labels::from_pairs(m.iter());
        let b = Labels::from_pairs(shuffled.iter().copied());
        let c = Labels::from_sorted(m.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(&a, &c);
        prop_assert_eq!(a.as_bytes(), b.as_bytes());
        prop_assert_eq!(a.stable_hash(), b.stable_hash());
        let h = RandomState::new();
        prop_assert_eq!(h.hash_one(&a), h.hash_one(&b));
        prop_assert_eq!(a.cmp(&b), std::cmp::Ordering::Equal);
    }

    #[test]
    fn packed_form_round_trips(p in pairs()) {
        let a = Labels::from_pairs(model_of(&p));
        let back = Labels::from_packed(a.as_bytes());
        prop_assert_eq!(back.as_ref(), Some(&a));
        prop_assert_eq!(back.map(|b| b.stable_hash()), Some(a.stable_hash()));
        // Borrowed in place, at the start of a longer buffer (a WAL record).
        let mut buf = a.as_bytes().to_vec();
        buf.extend_from_slice(b"\x01z\x01z trailing bytes");
        let (packed, end) = PackedLabels::prefix(&buf, a.len()).expect("prefix");
        prop_assert_eq!(end, a.as_bytes().len());
        prop_assert_eq!(packed, a.packed());
        prop_assert_eq!(packed.to_labels(), a.clone());
        prop_assert_eq!(packed.stable_hash(), a.stable_hash());
        prop_assert!(packed.iter().eq(a.iter()));
        if !a.is_empty() {
            prop_assert_eq!(PackedLabels::prefix(&buf[..end - 1], a.len()), None);
        }
    }

    #[test]
    fn equality_hash_and_order_follow_the_pairs(p in pairs(), q in pairs()) {
        let a = Labels::from_pairs(model_of(&p));
        let b = Labels::from_pairs(model_of(&q));
        let (pa, pb) = (owned(&a), owned(&b));
        prop_assert_eq!(a == b, pa == pb);
        prop_assert_eq!(a.as_bytes() == b.as_bytes(), pa == pb);
        if a == b {
            prop_assert_eq!(a.stable_hash(), b.stable_hash());
        }
        // Ord is the lexicographic order of the (name, value) pairs.
        prop_assert_eq!(a.cmp(&b), pa.cmp(&pb), "{} vs {}", a, b);
        prop_assert_eq!(a.partial_cmp(&b), Some(pa.cmp(&pb)));
    }

    #[test]
    fn builder_agrees_with_the_model(
        start in pairs(),
        ops in prop::collection::vec((name(), value(), any::<bool>()), 0..12),
    ) {
        let mut m = model_of(&start);
        let mut b = Builder::new();
        b.reset(&Labels::from_pairs(m.iter()));
        for (n, v, delete) in &ops {
            if *delete {
                b.del(n);
                m.remove(n);
            } else {
                b.set(n, v);
                if v.is_empty() { m.remove(n); } else { m.insert(n.clone(), v.clone()); }
            }
            prop_assert_eq!(b.get(n), m.get(n).map(String::as_str));
        }
        let want = Labels::from_pairs(m.iter());
        prop_assert_eq!(b.labels(), want.clone());
        let mut it: Vec<(&str, &str)> = b.iter().collect();
        it.dedup();
        prop_assert_eq!(it.len(), m.len());
        // retain keeps exactly the pairs the predicate accepts.
        b.retain(|n, _| n.len() % 2 == 0);
        m.retain(|n, _| n.len() % 2 == 0);
        prop_assert_eq!(b.labels(), Labels::from_pairs(m.iter()));
        prop_assert_eq!(want.to_builder().labels(), want);
    }
}

/// Only the exact packed form is taken: anything else would make equal
/// label sets unequal bytes.
#[test]
fn packed_form_rejects_what_is_not_canonical() {
    let ok = Labels::from_pairs([("a", "1"), ("b", "2")]);
    assert_eq!(ok.as_bytes(), b"\x01a\x011\x01b\x012");
    assert!(Labels::from_packed(b"").is_some_and(|l| l.is_empty()));
    for bad in [
        &b"\x81\x00a\x011"[..],                          // non-minimal length
        b"\x01b\x011\x01a\x012",                         // names out of order
        b"\x01a\x011\x01a\x012",                         // repeated name
        b"\x01a\x02\xff\xfe",                            // invalid UTF-8
        b"\x01a\x051",                                   // truncated value
        b"\x01a",                                        // name without value
        b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", // varint too long
    ] {
        assert_eq!(Labels::from_packed(bad), None, "{bad:?}");
    }
    // Not all ASCII: each string is checked on its own (multi-byte
    // lengths, UTF-8 values, and bad bytes next to good ones).
    let long = "v".repeat(200);
    for good in [
        Labels::from_pairs([("a", "café"), ("b", "ü")]),
        Labels::from_pairs([("a", long.as_str()), ("z", "1")]),
    ] {
        assert_eq!(Labels::from_packed(good.as_bytes()), Some(good.clone()));
    }
    assert_eq!(Labels::from_packed(b"\x01a\x02\xc3\xa9\x01b\x01\xff"), None);
    assert_eq!(Labels::from_packed(b"\x01\xff\x02\xc3\xa9"), None);
    // A prefix is checked like a whole label set, up to where it ends.
    assert_eq!(PackedLabels::prefix(b"\x01b\x011\x01a\x012", 2), None);
    assert_eq!(
        PackedLabels::prefix(b"\x01a\x02\xc3\xa9\x01b\x01\xff", 2),
        None
    );
    let (first, end) =
        PackedLabels::prefix(b"\x01a\x02\xc3\xa9\x01b\x01\xff", 1).expect("one pair");
    assert_eq!(
        (first.to_labels(), end),
        (Labels::from_pairs([("a", "é")]), 5)
    );
}
