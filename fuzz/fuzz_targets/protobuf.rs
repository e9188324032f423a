//! Runs the protobuf parser to completion on arbitrary bytes, in both
//! histogram modes, touching every field of every entry. Input that parses
//! and collects cleanly must survive encode → parse → collect unchanged.

#![no_main]

use expfmt::protobuf::ProtobufParser;
use expfmt::{Entry, Format, HistogramValue, MetricFamily, Parser, encode_protobuf};
use libfuzzer_sys::fuzz_target;

fn drain(data: &[u8], classic: bool) -> usize {
    let mut p = ProtobufParser::new(data).with_classic_histograms(classic);
    let mut sink = 0usize;
    while let Some(e) = p.next() {
        match e {
            Ok(Entry::Sample(s)) => {
                sink = sink.wrapping_add((s.series.len() + s.name.len()) ^ s.value.to_bits() as usize);
                for (n, v) in s.labels.iter() {
                    sink = sink.wrapping_add(n.len() + v.len());
                }
                if let Some(x) = s.exemplar {
                    for (n, v) in x.labels.iter() {
                        sink = sink.wrapping_add(n.len() + v.len());
                    }
                }
            }
            Ok(Entry::Histogram(h)) => {
                sink = sink.wrapping_add(h.series.len() + h.exemplars.len());
                for (n, v) in h.labels.iter() {
                    sink = sink.wrapping_add(n.len() + v.len());
                }
                sink = sink.wrapping_add(match h.value {
                    HistogramValue::Int(i) => i.positive_buckets.len() + i.negative_spans.len(),
                    HistogramValue::Float(f) => f.positive_buckets.len() + f.negative_spans.len(),
                });
            }
            Ok(Entry::Help { metric, text }) => sink = sink.wrapping_add(metric.len() + text.len()),
            Ok(Entry::Unit { metric, unit }) => sink = sink.wrapping_add(metric.len() + unit.len()),
            Ok(Entry::Type { metric, .. }) => sink = sink.wrapping_add(metric.len()),
            Ok(Entry::Comment(c)) => sink = sink.wrapping_add(c.len()),
            Err(e) => {
                assert!(e.position.offset <= data.len());
                sink = sink.wrapping_add(1);
            }
        }
    }
    sink
}

fuzz_target!(|data: &[u8]| {
    std::hint::black_box(drain(data, false).wrapping_add(drain(data, true)));

    let mut p = ProtobufParser::new(data).with_classic_histograms(true);
    let Ok(first) = MetricFamily::collect(&mut p, Format::Protobuf) else {
        return;
    };
    let mut bytes = Vec::new();
    encode_protobuf(&first, &mut bytes);
    let mut p = ProtobufParser::new(&bytes).with_classic_histograms(true);
    let second = MetricFamily::collect(&mut p, Format::Protobuf).expect("re-encoded input parses");
    // Debug text compares NaNs as equal.
    assert_eq!(format!("{first:?}"), format!("{second:?}"));
});
