//! The borrowing parse path allocates nothing per sample: a counting global
//! allocator shows that parsing twice as many samples costs no more
//! allocations than the parser's fixed start-up (its reusable buffers).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../benches/common/synth.rs"]
mod synth;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use expfmt::{AnyParser, Entry, Format, Parser};

struct Counting;

thread_local! {
    // Per thread, so tests running in parallel do not count each other.
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn bump() {
    if ACTIVE.with(Cell::get) {
        ALLOCS.with(|a| a.set(a.get() + 1));
    }
}

#[allow(unsafe_code)]
// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Parses `input` to the end, touching every label; returns (samples, allocations).
fn count_allocs(format: Format, input: &[u8]) -> (usize, usize) {
    ALLOCS.with(|a| a.set(0));
    ACTIVE.with(|a| a.set(true));
    let mut samples = 0;
    let mut bytes = 0;
    {
        let mut p = AnyParser::new(format, input).expect("valid input");
        while let Some(e) = p.next() {
            if let Entry::Sample(s) = e.expect("parses") {
                samples += 1;
                bytes += s.name.len() + s.series.len();
                for (n, v) in s.labels.iter() {
                    bytes += n.len() + v.len();
                }
            }
        }
    }
    ACTIVE.with(|a| a.set(false));
    assert!(bytes > 0);
    (samples, ALLOCS.with(Cell::get))
}

#[track_caller]
fn check(format: Format, small: &[u8], large: &[u8]) {
    let (n1, a1) = count_allocs(format, small);
    let (n2, a2) = count_allocs(format, large);
    assert!(
        n2 >= 2 * n1 - 10 && n1 > 1000,
        "{format}: payloads too small ({n1}, {n2} samples)"
    );
    // Buffers grow geometrically, so a larger input may add a reallocation
    // or two, never one per sample.
    assert!(a1 <= 32, "{format}: {a1} allocations for {n1} samples");
    assert!(
        a2 <= a1 + 4,
        "{format}: {a1} allocations for {n1} samples but {a2} for {n2}"
    );
}

#[test]
fn text_parser_allocates_nothing_per_sample() {
    let small = synth::exposition(5_000, synth::Flavor::Text);
    let large = synth::exposition(10_000, synth::Flavor::Text);
    check(Format::Text, small.as_bytes(), large.as_bytes());
}

#[test]
fn openmetrics_parser_allocates_nothing_per_sample() {
    let small = synth::exposition(5_000, synth::Flavor::OpenMetrics);
    let large = synth::exposition(10_000, synth::Flavor::OpenMetrics);
    check(Format::OpenMetrics, small.as_bytes(), large.as_bytes());
}

#[test]
fn node_exporter_payload_parses_with_bounded_allocations() {
    let text = include_bytes!("../benches/data/node_exporter.txt");
    let (n, a) = count_allocs(Format::Text, text);
    assert!(n > 400, "node_exporter payload has {n} samples");
    assert!(a <= 32, "{a} allocations for {n} samples");
    let pb = include_bytes!("../benches/data/node_exporter.pb");
    let (n, a) = count_allocs(Format::Protobuf, pb);
    assert!(n > 400, "node_exporter protobuf payload has {n} samples");
    assert!(a <= 32, "{a} allocations for {n} samples");
}
