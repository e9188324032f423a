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
        match e {
            Ok(Entry::Sample(s)) => {
                sink += s.series.len() + s.name.len() + s.value.to_bits() as usize;
                for (n, v) in s.labels.iter() {
                    sink += n.len() + v.len();
                }
                if let Some(x) = s.exemplar {
                    for (n, v) in x.labels.iter() {
                        sink += n.len() + v.len();
                    }
                }
            }
            Ok(Entry::Help { metric, text }) => sink += metric.len() + text.len(),
            Ok(Entry::Unit { metric, unit }) => sink += metric.len() + unit.len(),
            Ok(Entry::Type { metric, .. }) => sink += metric.len(),
            Ok(_) => {}
            Err(e) => {
                assert!(e.position.offset <= data.len());
                assert!(e.position.line >= 1 && e.position.column >= 1);
                break;
            }
        }
    }
    assert!(p.next().is_none());
    std::hint::black_box(sink);
});
