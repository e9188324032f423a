//! Runs every upstream PromQL test script in place and checks that no file
//! passes fewer evals than recorded in `conformance_counts.txt`.

use std::collections::BTreeMap;
use std::path::PathBuf;

fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/promql")
}

fn recorded() -> BTreeMap<String, (usize, usize)> {
    let text = include_str!("conformance_counts.txt");
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 3, "bad line in conformance_counts.txt: {line}");
        let p: usize = f[1].parse().expect("passed count");
        let t: usize = f[2].parse().expect("total count");
        out.insert(f[0].to_owned(), (p, t));
    }
    out
}

#[test]
fn conformance() {
    let dir = suite_dir();
    assert!(
        dir.is_dir(),
        "conformance suite missing at {}",
        dir.display()
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read suite dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .test files in {}", dir.display());
    let rec = recorded();
    let verbose = std::env::var("PROMQLTEST_VERBOSE").ok();
    let (mut tp, mut tt) = (0, 0);
    let mut regressions = Vec::new();
    println!("{:<28} {:>7} {:>7}", "file", "passed", "total");
    for f in &files {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned();
        let text = std::fs::read_to_string(f).expect("read test file");
        let report = promqltest::run_file(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (p, t) = (report.passed(), report.evals.len());
        tp += p;
        tt += t;
        println!("{name:<28} {p:>7} {t:>7}");
        if let Some(v) = &verbose
            && (v == "all" || name.starts_with(v.as_str()))
        {
            for e in report.evals.iter().filter(|e| e.error.is_some()) {
                println!(
                    "  FAIL line {}: {}\n      {}",
                    e.line,
                    e.expr,
                    e.error.as_deref().unwrap_or("")
                );
            }
        }
        if let Some(&(rp, _)) = rec.get(&name)
            && p < rp
        {
            regressions.push(format!("{name}: {p} passed, {rp} recorded"));
        }
    }
    println!("{:<28} {tp:>7} {tt:>7}", "total");
    assert!(
        regressions.is_empty(),
        "conformance regressions: {regressions:?}"
    );
}
