//! Runs the OpenMetrics parser to completion on arbitrary bytes, touching
//! every field of every entry.

#![no_main]

use expfmt::openmetrics::OpenMetricsParser;
use expfmt::{Entry, Parser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut p) = OpenMetricsParser::new(data) else {
        return;
    };
    let mut sink = 0usize;
    while let Some(e) = p.next() {
        let n = match e {
            Ok(Entry::Sample(s)) => {
                let mut n = (s.series.len() + s.name.len()) ^ s.value.to_bits() as usize;
                let exemplar = s.exemplar.iter().flat_map(|x| x.labels.iter());
                for (k, v) in s.labels.iter().chain(exemplar) {
                    n = n.wrapping_add(k.len() + v.len());
                }
                n
            }
            Ok(Entry::Help { metric, text }) => metric.len() + text.len(),
            Ok(Entry::Unit { metric, unit }) => metric.len() + unit.len(),
            Ok(Entry::Type { metric, .. }) => metric.len(),
            Ok(_) => 0,
            Err(e) => {
                // Positions must point into the input.
                assert!(e.position.offset <= data.len());
                assert!(e.position.line >= 1 && e.position.column >= 1);
                break;
            }
        };
        sink = sink.wrapping_add(n);
    }
    // The parser is fused after an error or the end.
    assert!(p.next().is_none());
    std::hint::black_box(sink);
});
