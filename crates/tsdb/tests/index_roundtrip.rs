//! The block index round-trips: random series (label sets, chunk metas)
//! written with `IndexWriter` read back with `IndexReader` exactly —
//! symbols, label names and values, postings of every pair, selectors
//! against a brute-force model, series labels and chunk metas. Plus the
//! writer's rejections, each with its message.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use model::Labels;
use model::matcher::{MatchOp, Matcher};
use proptest::prelude::*;
use tsdb::index::{ChunkMeta, Error, IndexReader, IndexWriter};

/// Label values: short, long, unicode, many (more than 32 for one name so
/// the reader's sampled offsets are exercised).
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u32..80).prop_map(|i| format!("v{i}")),
        1 => Just("ü☃".to_string()),
        1 => Just("with space".to_string()),
        1 => Just("x".repeat(200)),
        1 => "[a-c]{1,3}",
    ]
}

fn name() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("__name__"),
        Just("a"),
        Just("b"),
        Just("job"),
        Just("zz"),
    ]
}

fn labels() -> impl Strategy<Value = Labels> {
    proptest::collection::btree_map(name(), value(), 1..5)
        .prop_map(|m| Labels::from_pairs(m.iter().map(|(n, v)| (*n, v.as_str()))))
}

fn chunk_metas() -> impl Strategy<Value = Vec<ChunkMeta>> {
    proptest::collection::vec(
        (
            prop_oneof![-1_000_000i64..1_000_000, Just(i64::MIN), Just(i64::MAX / 2)],
            prop_oneof![0i64..100_000, Just(0), Just(i64::MAX / 4)],
            any::<u64>(),
        ),
        0..6,
    )
    .prop_map(|v| {
        let mut metas: Vec<ChunkMeta> = v
            .into_iter()
            .map(|(min_time, len, chunk_ref)| ChunkMeta {
                min_time,
                max_time: min_time.saturating_add(len),
                chunk_ref,
            })
            .collect();
        metas.sort_by_key(|c| c.min_time);
        metas
    })
}

fn matcher() -> impl Strategy<Value = Matcher> {
    let op = prop_oneof![
        Just(MatchOp::Equal),
        Just(MatchOp::NotEqual),
        Just(MatchOp::RegexMatch),
        Just(MatchOp::RegexNoMatch),
    ];
    let pattern = prop_oneof![
        value(),
        Just(String::new()),
        Just(".*".to_string()),
        Just(".+".to_string()),
        Just("v1.*".to_string()),
        Just("v1|v2|a".to_string()),
        Just("|v3".to_string()),
        Just("v[0-9]".to_string()),
        Just(".*ü.*".to_string()),
        Just("(?i)V7.*".to_string()),
    ];
    (op, prop_oneof![name(), Just("missing")], pattern)
        .prop_map(|(op, n, v)| Matcher::new(op, n, &v).expect("valid matcher"))
}

fn write(dir: &std::path::Path, series: &BTreeMap<Labels, Vec<ChunkMeta>>) -> Vec<u64> {
    let path = dir.join("index");
    let mut symbols = BTreeSet::new();
    for l in series.keys() {
        for (n, v) in l.iter() {
            symbols.insert(n.to_string());
            symbols.insert(v.to_string());
        }
    }
    let mut w = IndexWriter::create(&path).unwrap();
    w.add_symbols(symbols.iter().map(String::as_str)).unwrap();
    let refs = series
        .iter()
        .map(|(l, c)| w.add_series(l, c).unwrap())
        .collect();
    w.close().unwrap();
    refs
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn round_trip(
        series in proptest::collection::btree_map(labels(), chunk_metas(), 0..120),
        selectors in proptest::collection::vec(proptest::collection::vec(matcher(), 0..4), 1..12),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let refs = write(tmp.path(), &series);
        let ix = IndexReader::open(&tmp.path().join("index")).unwrap();

        // Symbols: every name and value, sorted, once.
        let mut symbols = BTreeSet::new();
        let mut values: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for l in series.keys() {
            for (n, v) in l.iter() {
                symbols.insert(n);
                symbols.insert(v);
                values.entry(n).or_default().insert(v);
            }
        }
        let got: Vec<&str> = ix.symbols().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(got, symbols.iter().copied().collect::<Vec<_>>());
        prop_assert_eq!(ix.label_names().unwrap(), values.keys().map(|s| s.to_string()).collect::<Vec<_>>());
        for (n, vs) in &values {
            prop_assert_eq!(ix.label_values(n).unwrap(), vs.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            for v in vs {
                let want: Vec<u64> = series.keys().zip(&refs).filter(|(l, _)| l.get(n) == Some(v)).map(|(_, r)| *r).collect();
                prop_assert_eq!(ix.postings(n, v).unwrap(), want, "{}={}", n, v);
            }
            prop_assert!(ix.postings(n, "nope").unwrap().is_empty());
        }
        prop_assert!(ix.label_values("missing").unwrap().is_empty());
        prop_assert_eq!(ix.postings("", "").unwrap(), refs.clone());
        prop_assert_eq!(ix.num_series(), series.len());

        // Series: labels and chunk metas exact; references ascending.
        prop_assert!(refs.windows(2).all(|w| w[0] < w[1]));
        let mut metas = Vec::new();
        for ((l, c), &r) in series.iter().zip(&refs) {
            let got = ix.series(r, &mut metas).unwrap();
            prop_assert_eq!(&got, l);
            prop_assert_eq!(&metas, c);
        }

        // Selectors against the brute-force model.
        for ms in &selectors {
            let want: Vec<u64> = series.keys().zip(&refs)
                .filter(|(l, _)| ms.iter().all(|m| m.matches_labels(l)))
                .map(|(_, r)| *r)
                .collect();
            prop_assert_eq!(ix.postings_for_matchers(ms).unwrap(), want, "{:?}", ms);
        }
    }
}

#[test]
fn empty_index() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), &BTreeMap::new());
    let ix = IndexReader::open(&tmp.path().join("index")).unwrap();
    assert_eq!(ix.symbols().count(), 0);
    assert!(ix.label_names().unwrap().is_empty());
    assert!(ix.postings("", "").unwrap().is_empty());
    assert!(
        ix.postings_for_matchers(&[Matcher::equal("a", "")])
            .unwrap()
            .is_empty()
    );
    assert_eq!(ix.num_series(), 0);
    let err = ix.series(1, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, Error::BadRef { .. }), "{err}");
    // Header and empty symbol table, then label offset table and the
    // postings table with the empty all-postings list, then the TOC.
    assert!(ix.size_bytes() > 5 + 52);
}

/// Runs `f` on a fresh writer (symbols a, b, c, x, y) and returns the
/// error text of its first failing call.
#[track_caller]
fn check_rejects(f: impl FnOnce(&mut IndexWriter) -> Result<(), Error>, want: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("index");
    let mut w = IndexWriter::create(&path).unwrap();
    let err = w
        .add_symbols(["a", "b", "c", "x", "y"])
        .and_then(|()| f(&mut w))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(want) && err.contains(&path.display().to_string()),
        "{err:?} should name the file and contain {want:?}"
    );
}

fn l(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

const C: ChunkMeta = ChunkMeta {
    min_time: 10,
    max_time: 20,
    chunk_ref: 8,
};

#[test]
fn writer_rejects_bad_input() {
    check_rejects(|w| w.add_symbols(["z"]), "add symbols to index");
    check_rejects(|w| w.add_symbols(["z"]), "already written");
    check_rejects(
        |w| {
            w.add_series(&l(&[("b", "x")]), &[C])?;
            w.add_series(&l(&[("a", "x")]), &[C]).map(drop)
        },
        "is not after {b=\"x\"}",
    );
    check_rejects(
        |w| {
            w.add_series(&l(&[("a", "x")]), &[C])?;
            w.add_series(&l(&[("a", "x")]), &[C]).map(drop)
        },
        "must be sorted and unique",
    );
    check_rejects(
        |w| w.add_series(&l(&[("a", "nope")]), &[C]).map(drop),
        "symbol \"nope\" is not in the symbol table",
    );
    check_rejects(
        |w| w.add_series(&Labels::empty(), &[C]).map(drop),
        "at least one label",
    );
    check_rejects(
        |w| {
            let bad = ChunkMeta { max_time: 5, ..C };
            w.add_series(&l(&[("a", "x")]), &[bad]).map(drop)
        },
        "ends before it starts",
    );
    check_rejects(
        |w| {
            let later = ChunkMeta {
                min_time: 30,
                max_time: 40,
                ..C
            };
            w.add_series(&l(&[("a", "x")]), &[later, C]).map(drop)
        },
        "starts before the previous chunk",
    );

    let tmp = tempfile::tempdir().unwrap();
    let mut w = IndexWriter::create(&tmp.path().join("index")).unwrap();
    let err = w.add_symbols(["b", "a"]).unwrap_err().to_string();
    assert!(err.contains("symbol \"a\" after \"b\""), "{err}");
    let err = IndexWriter::create(&tmp.path().join("index"))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("create "), "{err}");
}

#[test]
fn writer_error_leaves_earlier_series_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("index");
    let mut w = IndexWriter::create(&path).unwrap();
    w.add_symbols(["a", "b", "x"]).unwrap();
    let r = w.add_series(&l(&[("a", "x")]), &[C]).unwrap();
    assert!(w.add_series(&l(&[("b", "missing")]), &[C]).is_err());
    let r2 = w.add_series(&l(&[("b", "x")]), &[]).unwrap();
    w.close().unwrap();
    let ix = IndexReader::open(&path).unwrap();
    assert_eq!(ix.postings("", "").unwrap(), [r, r2]);
    let mut metas = Vec::new();
    assert_eq!(ix.series(r, &mut metas).unwrap(), l(&[("a", "x")]));
    assert_eq!(metas, [C]);
    assert_eq!(ix.series(r2, &mut metas).unwrap(), l(&[("b", "x")]));
    assert!(metas.is_empty());
}

/// One name with 1000 values (the reader keeps every 32nd in memory):
/// every value is found, prefix and set fast paths agree with the model.
#[test]
fn many_values_per_name() {
    let tmp = tempfile::tempdir().unwrap();
    let mut series = BTreeMap::new();
    for i in 0..1000 {
        let l = Labels::from_pairs([
            ("__name__", "m"),
            ("id", format!("{i:04}").as_str()),
            ("odd", if i % 2 == 1 { "yes" } else { "no" }),
        ]);
        series.insert(l, vec![C]);
    }
    let refs = write(tmp.path(), &series);
    let ix = IndexReader::open(&tmp.path().join("index")).unwrap();
    let values = ix.label_values("id").unwrap();
    assert_eq!(values.len(), 1000);
    for (i, v) in values.iter().enumerate() {
        assert_eq!(ix.postings("id", v).unwrap(), [refs[i]], "id={v}");
    }
    assert!(ix.postings("id", "0000x").unwrap().is_empty());
    assert!(ix.postings("id", "").unwrap().is_empty());
    assert!(ix.postings("id", "9999").unwrap().is_empty());
    let re = |op, v: &str| Matcher::new(op, "id", v).unwrap();
    #[track_caller]
    fn check(ix: &IndexReader, refs: &[u64], ms: &[Matcher], want: impl Fn(usize) -> bool) {
        let want: Vec<u64> = (0..1000).filter(|&i| want(i)).map(|i| refs[i]).collect();
        assert_eq!(ix.postings_for_matchers(ms).unwrap(), want, "{ms:?}");
    }
    check(&ix, &refs, &[re(MatchOp::RegexMatch, "04.*")], |i| {
        (400..500).contains(&i)
    });
    check(
        &ix,
        &refs,
        &[re(MatchOp::RegexMatch, "0999|0031|0032|0033|nope")],
        |i| [31, 32, 33, 999].contains(&i),
    );
    check(
        &ix,
        &refs,
        &[
            re(MatchOp::RegexNoMatch, "0.*"),
            Matcher::equal("odd", "yes"),
        ],
        |_| false,
    );
    check(
        &ix,
        &refs,
        &[
            re(MatchOp::RegexMatch, ".*7"),
            Matcher::not_equal("odd", "yes"),
        ],
        |i| i % 10 == 7 && i % 2 == 0,
    );
    check(
        &ix,
        &refs,
        &[
            re(MatchOp::RegexMatch, "09.*5"),
            Matcher::equal("odd", "yes"),
        ],
        |i| (900..1000).contains(&i) && i % 10 == 5,
    );
}
