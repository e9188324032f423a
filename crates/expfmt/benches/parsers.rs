//! Parser throughput on a real node_exporter payload (captured from Debian's
//! `prometheus-node-exporter` 1.5, text and protobuf) and a synthetic 10k-series
//! payload. Reports bytes/s (criterion's MB/s) and, via elements/s, samples/s;
//! ns/sample is the inverse of the latter.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "common/synth.rs"]
mod synth;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use expfmt::{AnyParser, Entry, Format, MetricFamily, Parser, encode_openmetrics, encode_protobuf};

const NODE_TEXT: &[u8] = include_bytes!("data/node_exporter.txt");
const NODE_PROTOBUF: &[u8] = include_bytes!("data/node_exporter.pb");

/// Parses everything, returning (samples, checksum) so nothing is optimised away.
fn parse_all(format: Format, input: &[u8]) -> (u64, f64) {
    let mut p = AnyParser::new(format, input).expect("valid input");
    let mut n = 0u64;
    let mut sum = 0.0;
    while let Some(e) = p.next() {
        match e.expect("parses") {
            Entry::Sample(s) => {
                n += 1;
                sum += s.value + s.labels.len() as f64 + s.series.len() as f64;
            }
            Entry::Histogram(_) => n += 1,
            _ => {}
        }
    }
    (n, sum)
}

/// The families of a text payload, for re-encoding in another format.
fn families(text: &[u8]) -> Vec<MetricFamily> {
    let mut p = AnyParser::new(Format::Text, text).expect("valid input");
    MetricFamily::collect(&mut p, Format::Text).expect("parses")
}

fn bench_one(c: &mut Criterion, name: &str, format: Format, input: &[u8]) {
    let (samples, _) = parse_all(format, input);
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.bench_function("bytes", |b| {
        b.iter(|| black_box(parse_all(format, black_box(input))))
    });
    g.throughput(Throughput::Elements(samples));
    g.bench_function("samples", |b| {
        b.iter(|| black_box(parse_all(format, black_box(input))))
    });
    g.finish();
}

fn parsers(c: &mut Criterion) {
    let synth_text = synth::exposition(10_000, synth::Flavor::Text);
    let synth_om = synth::exposition(10_000, synth::Flavor::OpenMetrics);
    // The same payloads in the formats their source does not serve,
    // re-encoded by our encoders.
    // OpenMetrics names a counter family without `_total`, so node_exporter's
    // `go_memstats_alloc_bytes` gauge and `go_memstats_alloc_bytes_total`
    // counter cannot both be expressed; drop the counter (client_golang
    // writes an exposition a strict parser must reject here).
    let mut node = families(NODE_TEXT);
    let names: Vec<String> = node.iter().map(|f| f.name.clone()).collect();
    node.retain(|f| {
        f.name
            .strip_suffix("_total")
            .is_none_or(|base| !names.iter().any(|n| n == base))
    });
    let mut node_om = String::new();
    encode_openmetrics(&node, &mut node_om);
    let mut synth_pb = Vec::new();
    encode_protobuf(&families(synth_text.as_bytes()), &mut synth_pb);

    bench_one(c, "text/node_exporter", Format::Text, NODE_TEXT);
    bench_one(c, "text/synthetic_10k", Format::Text, synth_text.as_bytes());
    bench_one(
        c,
        "openmetrics/node_exporter",
        Format::OpenMetrics,
        node_om.as_bytes(),
    );
    bench_one(
        c,
        "openmetrics/synthetic_10k",
        Format::OpenMetrics,
        synth_om.as_bytes(),
    );
    bench_one(c, "protobuf/node_exporter", Format::Protobuf, NODE_PROTOBUF);
    bench_one(c, "protobuf/synthetic_10k", Format::Protobuf, &synth_pb);
}

criterion_group!(benches, parsers);
criterion_main!(benches);
