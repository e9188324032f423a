//! Remote read with `STREAMED_XOR_CHUNKS` against a running `ember server`:
//! samples remote-written in come back as framed `ChunkedReadResponse`s
//! (uvarint length, CRC32C, message) whose XOR chunks hold at most 120
//! samples each and decode (with the TSDB's decoder) to exactly the samples
//! written, with the external labels added; `SAMPLES` answers the same.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use remote::prompb::{
    self, LabelMatcher, Message, Query, ReadRequest, ReadResponse, TimeSeries, WriteRequest,
};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// POSTs `body`; returns status, content type and body.
fn post(port: u16, path: &str, ct: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: x\r\nContent-Type: {ct}\r\nContent-Encoding: snappy\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let ct = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(|_| l[14..].to_string())
        })
        .unwrap_or_default();
    (status, ct, raw[split + 4..].to_vec())
}

fn label(n: &str, v: &str) -> prompb::Label {
    prompb::Label {
        name: n.into(),
        value: v.into(),
    }
}

#[test]
fn streamed_xor_chunks_return_every_written_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.join("prometheus.yml"),
        "global:\n  external_labels:\n    replica: r1\n",
    )
    .unwrap();
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_ember"))
            .arg("server")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("ember.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let ready = || {
        TcpStream::connect(("127.0.0.1", port)).is_ok_and(|mut s| {
            let _ = write!(s, "GET /-/ready HTTP/1.0\r\n\r\n");
            let mut o = String::new();
            let _ = s.read_to_string(&mut o);
            o.starts_with("HTTP/1.0 200") || o.starts_with("HTTP/1.1 200")
        })
    };
    while !ready() {
        assert!(Instant::now() < deadline, "ember did not become ready");
        std::thread::sleep(Duration::from_millis(100));
    }

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let t0 = now - 400_000;
    // 300 samples (three chunks), 5 samples, and an irregular series.
    type Series = (Vec<prompb::Label>, Vec<(i64, f64)>);
    let series: Vec<Series> = vec![
        (
            vec![label("__name__", "stream_a"), label("job", "x")],
            (0..300).map(|i| (t0 + i * 1000, i as f64 * 1.5)).collect(),
        ),
        (
            vec![label("__name__", "stream_b"), label("job", "y")],
            (0..5).map(|i| (t0 + i * 15_000, -(i as f64))).collect(),
        ),
        (
            vec![label("__name__", "stream_c")],
            (0..130)
                .map(|i| (t0 + i * i * 7, (i as f64).sqrt()))
                .collect(),
        ),
    ];
    let wr = WriteRequest {
        timeseries: series
            .iter()
            .map(|(l, s)| TimeSeries {
                labels: l.clone(),
                samples: s
                    .iter()
                    .map(|(t, v)| prompb::Sample {
                        value: *v,
                        timestamp: *t,
                    })
                    .collect(),
                ..TimeSeries::default()
            })
            .collect(),
        metadata: Vec::new(),
    };
    let (status, _, body) = post(
        port,
        "/api/v1/write",
        "application/x-protobuf",
        &remote::compress(&wr.encode()),
    );
    assert_eq!(status, 204, "{}", String::from_utf8_lossy(&body));

    let query = Query {
        start_timestamp_ms: t0 - 1000,
        end_timestamp_ms: now,
        matchers: vec![LabelMatcher {
            kind: 2,
            name: "__name__".into(),
            value: "stream_.*".into(),
        }],
        hints: None,
    };
    let req = ReadRequest {
        queries: vec![query.clone(), query],
        accepted_response_types: vec![
            prompb::RESPONSE_STREAMED_XOR_CHUNKS,
            prompb::RESPONSE_SAMPLES,
        ],
    };
    let (status, ct, body) = post(
        port,
        "/api/v1/read",
        "application/x-protobuf",
        &remote::compress(&req.encode()),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        ct,
        "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse"
    );
    let frames = remote::stream::read_frames(&body).unwrap();
    assert_eq!(frames.len(), 6, "one frame per series per query");
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.query_index, (i / 3) as i64);
        assert_eq!(f.chunked_series.len(), 1);
        let cs = &f.chunked_series[0];
        let (labels, want) = &series[i % 3];
        let mut want_labels = labels.clone();
        want_labels.push(label("replica", "r1"));
        want_labels.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(cs.labels, want_labels);
        let mut got = Vec::new();
        for c in &cs.chunks {
            assert_eq!(c.kind, prompb::chunk_encoding::XOR);
            let mut it = tsdb::chunkenc::XorIterator::new(&c.data).unwrap();
            let mut n = 0;
            while it.next() == tsdb::chunkenc::ValueType::Float {
                got.push(it.at());
                n += 1;
            }
            assert!(it.err().is_none());
            assert!((1..=120).contains(&n), "{n} samples in a chunk");
            assert_eq!(c.min_time_ms, got[got.len() - n].0);
            assert_eq!(c.max_time_ms, got[got.len() - 1].0);
        }
        assert_eq!(&got, want, "series {i}");
    }
    assert_eq!(frames[0].chunked_series[0].chunks.len(), 3);

    // SAMPLES, the default, answers the same samples.
    let req = ReadRequest {
        accepted_response_types: vec![],
        ..req
    };
    let (status, ct, body) = post(
        port,
        "/api/v1/read",
        "application/x-protobuf",
        &remote::compress(&req.encode()),
    );
    assert_eq!((status, ct.as_str()), (200, "application/x-protobuf"));
    let resp =
        ReadResponse::decode(&snap::raw::Decoder::new().decompress_vec(&body).unwrap()).unwrap();
    assert_eq!(resp.results.len(), 2);
    for (ts, (_, want)) in resp.results[0].timeseries.iter().zip(&series) {
        let got: Vec<(i64, f64)> = ts.samples.iter().map(|s| (s.timestamp, s.value)).collect();
        assert_eq!(&got, want);
    }
}
