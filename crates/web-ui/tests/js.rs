//! Runs the UI's JavaScript unit tests (`assets/tests/*.test.mjs`) with
//! Node's built-in test runner. Node is required: every machine of the
//! project has it, so its absence is a failure, not a skip.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn javascript_unit_tests_pass() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no *.test.mjs files in {}",
        dir.display()
    );

    let mut node = Command::new("node");
    // The shipped modules are `.js` files without a package.json: Node 22
    // detects their ES module syntax by itself, Node 20 and 21 need the flag
    // (accepted since 20.10, the default since 20.19).
    if let Some(major) = node_major()
        && (20..22).contains(&major)
    {
        node.arg("--experimental-detect-module");
    }
    let out = match node.arg("--test").args(&files).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`node` was not found on PATH. The web UI's JavaScript tests need Node.js 20 or \
             newer (install it, e.g. `apt-get install nodejs`); they run with \
             `node --test crates/web-ui/assets/tests/*.test.mjs`."
        ),
        Err(e) => panic!("cannot run node: {e}"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "JavaScript tests failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("# fail 0"),
        "unexpected test runner output:\n{stdout}\n{stderr}"
    );
}

/// The major version of `node`, if it runs.
fn node_major() -> Option<u32> {
    let out = Command::new("node").arg("--version").output().ok()?;
    let v = String::from_utf8_lossy(&out.stdout);
    v.trim()
        .trim_start_matches('v')
        .split('.')
        .next()?
        .parse()
        .ok()
}
