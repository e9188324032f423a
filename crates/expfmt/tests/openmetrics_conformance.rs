//! The OpenMetrics project's parser conformance cases, read in place from
//! `../shared/conformance/openmetrics/<case>/{metrics,test.json}`: every
//! case must be accepted or rejected as its `shouldParse` says. The number
//! of passing cases is recorded in `openmetrics_conformance.count` and may
//! only go up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use expfmt::Parser;
use expfmt::openmetrics::OpenMetricsParser;

/// The number of cases in the suite.
const CASES: usize = 211;

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/openmetrics")
}

/// Parses `input` to the end: the number of entries, or the first error.
fn parse(input: &[u8]) -> Result<usize, String> {
    let mut p = OpenMetricsParser::new(input).map_err(|e| e.to_string())?;
    let mut n = 0;
    while let Some(e) = p.next() {
        e.map_err(|e| e.to_string())?;
        n += 1;
    }
    Ok(n)
}

#[test]
fn openmetrics_conformance_suite() {
    let dir = suite_dir();
    assert!(
        dir.is_dir(),
        "OpenMetrics conformance suite not found at {}",
        dir.display()
    );
    let mut cases: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("test.json").is_file())
        .collect();
    cases.sort();

    let mut passed = 0;
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let spec: serde_json::Value =
            serde_json::from_slice(&fs::read(case.join("test.json")).unwrap()).unwrap();
        let should_parse = spec["shouldParse"].as_bool().expect("shouldParse");
        let file = spec["file"].as_str().unwrap_or("metrics");
        let input = fs::read(case.join(file)).unwrap();
        match (parse(&input), should_parse) {
            (Ok(_), true) | (Err(_), false) => passed += 1,
            (Ok(n), false) => failures.push(format!(
                "{name}: accepted ({n} entries) but must be rejected"
            )),
            (Err(e), true) => failures.push(format!("{name}: rejected but must parse: {e}")),
        }
    }
    for f in &failures {
        eprintln!("FAIL {f}");
    }
    eprintln!(
        "OpenMetrics conformance: {passed}/{} cases pass",
        cases.len()
    );

    let count_file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openmetrics_conformance.count");
    let recorded: usize = fs::read_to_string(&count_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(cases.len(), CASES, "the suite should have {CASES} cases");
    assert!(
        passed >= recorded,
        "conformance went down: {passed} pass, {recorded} recorded"
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
