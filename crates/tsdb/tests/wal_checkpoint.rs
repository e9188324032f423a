//! Checkpoints, truncation and replay.

use model::{Labels, MetricType, Timestamp};
use tsdb::record::{
    self, HeadSeriesRef, RecordType, RefMetadata, RefSample, RefSeries, RefTombstone,
};
use tsdb::wal::{self, Compression, Options, ReplaySource, Wal};

fn series(r: u64) -> RefSeries {
    RefSeries {
        series: HeadSeriesRef(r),
        labels: Labels::from_pairs([("__name__", "m"), ("id", &r.to_string())]),
    }
}

fn samples(refs: &[u64], t: i64) -> Vec<u8> {
    let s: Vec<RefSample> = refs
        .iter()
        .map(|&r| RefSample {
            series: HeadSeriesRef(r),
            t: Timestamp(t),
            v: r as f64,
        })
        .collect();
    let mut out = Vec::new();
    record::encode_samples(&s, &mut out);
    out
}

fn metadata(r: u64, help: &str) -> Vec<u8> {
    let mut out = Vec::new();
    record::encode_metadata(
        &[RefMetadata {
            series: HeadSeriesRef(r),
            kind: MetricType::Gauge,
            unit: String::new(),
            help: help.into(),
        }],
        &mut out,
    );
    out
}

/// Everything replay yields: (source, type, decoded summary).
fn replay_all(dir: &std::path::Path) -> Vec<(ReplaySource, RecordType, String)> {
    let mut out = Vec::new();
    wal::replay(dir, |src, rec| {
        let t = RecordType::of(rec);
        let summary = match t {
            RecordType::Series => {
                let mut v = Vec::new();
                record::decode_series(rec, &mut v).expect("series");
                format!("{:?}", v.iter().map(|s| s.series.0).collect::<Vec<_>>())
            }
            RecordType::Samples => {
                let mut v = Vec::new();
                record::decode_samples(rec, &mut v).expect("samples");
                format!(
                    "{:?}",
                    v.iter().map(|s| (s.series.0, s.t.0)).collect::<Vec<_>>()
                )
            }
            RecordType::Metadata => {
                let mut v = Vec::new();
                record::decode_metadata(rec, &mut v).expect("metadata");
                format!(
                    "{:?}",
                    v.iter()
                        .map(|m| (m.series.0, m.help.clone()))
                        .collect::<Vec<_>>()
                )
            }
            RecordType::Tombstones => {
                let mut v = Vec::new();
                record::decode_tombstones(rec, &mut v).expect("tombstones");
                format!(
                    "{:?}",
                    v.iter().map(|s| (s.series.0, s.maxt.0)).collect::<Vec<_>>()
                )
            }
            _ => String::new(),
        };
        out.push((src, t, summary));
    })
    .expect("replay");
    out
}

#[test]
fn checkpoint_truncate_and_replay() {
    for compression in [Compression::None, Compression::Snappy] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        let mut w = Wal::open(
            dir,
            Options {
                compression,
                ..Options::default()
            },
        )
        .expect("open");
        let mut rec = Vec::new();
        record::encode_series(&[series(1), series(2), series(3)], &mut rec);
        w.log(&[
            &rec,
            &samples(&[1, 2, 3], 100),
            &metadata(1, "old"),
            &metadata(2, "two"),
        ])
        .expect("log segment 0");
        w.next_segment().expect("rotate");
        let mut stones = Vec::new();
        record::encode_tombstones(
            &[
                RefTombstone {
                    series: HeadSeriesRef(1),
                    mint: Timestamp(0),
                    maxt: Timestamp(120),
                },
                RefTombstone {
                    series: HeadSeriesRef(3),
                    mint: Timestamp(0),
                    maxt: Timestamp(180),
                },
            ],
            &mut stones,
        );
        w.log(&[
            &samples(&[1, 2, 3], 200),
            &stones,
            &metadata(1, "new"),
            &[99u8, 1, 2],
        ])
        .expect("log segment 1");
        w.next_segment().expect("rotate");
        w.log(&[&samples(&[1, 3], 300)]).expect("log segment 2");
        w.close().expect("close");

        let stats = wal::checkpoint(
            dir,
            0,
            1,
            |r| r != HeadSeriesRef(2),
            Timestamp(150),
            compression,
        )
        .expect("checkpoint");
        assert_eq!((stats.total_series, stats.dropped_series), (3, 1));
        assert_eq!((stats.total_samples, stats.dropped_samples), (6, 3));
        // Tombstones of live series are kept even when they end before
        // `mint` (series 1's ends at 120): chunks_head can bring older
        // samples back after a restart.
        assert_eq!((stats.total_tombstones, stats.dropped_tombstones), (2, 0));
        assert_eq!((stats.total_metadata, stats.dropped_metadata), (3, 2));
        let (cp, index) = wal::last_checkpoint(dir)
            .expect("list")
            .expect("a checkpoint");
        assert_eq!(index, 1);
        assert_eq!(cp, wal::checkpoint_dir(dir, 1));
        assert!(!dir.join("checkpoint.00000001.tmp").exists());
        assert_eq!(wal::truncate(dir, 2).expect("truncate"), 2);

        let cp1 = ReplaySource::Checkpoint {
            index: 1,
            segment: 0,
        };
        let seg2 = ReplaySource::Segment { segment: 2 };
        let got = replay_all(dir);
        let want = vec![
            (cp1, RecordType::Series, "[1, 3]".to_string()),
            (
                cp1,
                RecordType::Samples,
                "[(1, 200), (2, 200), (3, 200)]".to_string(),
            ),
            (
                cp1,
                RecordType::Tombstones,
                "[(1, 120), (3, 180)]".to_string(),
            ),
            (cp1, RecordType::Metadata, "[(1, \"new\")]".to_string()),
            (
                seg2,
                RecordType::Samples,
                "[(1, 300), (3, 300)]".to_string(),
            ),
        ];
        assert_eq!(got, want);

        // The next checkpoint starts from the last one.
        let err = wal::checkpoint(dir, 5, 6, |_| true, Timestamp(0), compression).expect_err("gap");
        assert!(
            err.to_string()
                .contains("does not follow the last checkpoint 1"),
            "{err}"
        );
        wal::checkpoint(
            dir,
            2,
            2,
            |r| r != HeadSeriesRef(3),
            Timestamp(250),
            compression,
        )
        .expect("checkpoint 2");
        wal::delete_checkpoints(dir, 2).expect("delete old checkpoints");
        assert!(!wal::checkpoint_dir(dir, 1).exists());
        assert_eq!(wal::truncate(dir, 3).expect("truncate"), 1);
        let cp2 = ReplaySource::Checkpoint {
            index: 2,
            segment: 0,
        };
        let got = replay_all(dir);
        let want = vec![
            (cp2, RecordType::Series, "[1]".to_string()),
            (cp2, RecordType::Tombstones, "[(1, 120)]".to_string()),
            (cp2, RecordType::Samples, "[(1, 300), (3, 300)]".to_string()),
            (cp2, RecordType::Metadata, "[(1, \"new\")]".to_string()),
        ];
        assert_eq!(got, want);

        // A writer reopened after truncation continues after the last segment.
        let mut w = Wal::open(dir, Options::default()).expect("reopen");
        assert_eq!(w.segment_index(), 3);
        w.log(&[&samples(&[1], 400)]).expect("log");
        w.close().expect("close");
        let got = replay_all(dir);
        assert_eq!(
            got.last().map(|g| g.0),
            Some(ReplaySource::Segment { segment: 3 })
        );
    }
}

#[test]
fn replay_stops_at_corruption_after_applying_the_prefix() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let mut w = Wal::open(dir, Options::default()).expect("open");
    for t in 0..100 {
        w.log(&[&samples(&[1], t)]).expect("log");
    }
    drop(w);
    let path = wal::segment_path(dir, 0);
    let mut bytes = std::fs::read(&path).expect("read");
    let n = bytes.len();
    bytes[n - 3] ^= 0x55;
    std::fs::write(&path, &bytes).expect("write");
    let mut applied = 0;
    let err = wal::replay(dir, |_, _| applied += 1).expect_err("corruption");
    assert_eq!(applied, 99);
    let wal::Error::Corruption(c) = err else {
        panic!("not a corruption: {err}");
    };
    wal::repair(&c).expect("repair");
    let mut applied = 0;
    wal::replay(dir, |_, _| applied += 1).expect("replay after repair");
    assert_eq!(applied, 99);
}

#[test]
fn replay_of_an_empty_or_missing_wal() {
    let tmp = tempfile::tempdir().expect("tempdir");
    wal::replay(tmp.path(), |_, _| panic!("no records")).expect("empty dir");
    assert!(wal::replay(&tmp.path().join("missing"), |_, _| {}).is_err());
}
