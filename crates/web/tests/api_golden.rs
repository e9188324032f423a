//! Golden JSON: every request of the table (`common::cases`) against the
//! in-memory data set at a fixed time, compared byte for byte with
//! `tests/golden/<case>.json`. The same table runs against a live
//! Prometheus in `api_prometheus_compat.rs`, which is what makes these
//! bytes Prometheus's.
//!
//! `UPDATE_GOLDEN=1 cargo test -p web --test api_golden` rewrites the files.

mod common;

use std::path::PathBuf;

/// A fixed `t0`: 2023-11-14T22:13:00Z.
const T0: i64 = 1_700_000_000_000 - 20_000;

fn now() -> i64 {
    T0 + 600_000
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[tokio::test]
async fn api_responses_match_golden_files() {
    let router = common::router(T0, now, true);
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for case in common::cases() {
        let path = common::expand(case.path, T0);
        let body = common::expand(case.body, T0);
        let (status, got) = common::call(&router, case.method, &path, &body).await;
        let file = golden_dir().join(format!("{}.json", case.name));
        if update {
            std::fs::write(&file, format!("{got}\n")).expect("write golden");
        }
        let want = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", file.display()));
        if status != case.status {
            failures.push(format!(
                "{}: status {} (want {}): {got}",
                case.name,
                common::status_name(status),
                common::status_name(case.status)
            ));
        } else if want.strip_suffix('\n').unwrap_or(&want) != got {
            failures.push(format!(
                "{}: {path}\n  got:  {got}\n  want: {want}",
                case.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
