//! The crate graph keeps the invariants of ARCHITECTURE.md: the pure crates
//! stay pure (no async runtime, no I/O stacks) and the layering rules hold
//! (`promql` and `scrape` never reach `tsdb`, `rules` never reaches
//! `notifier`). Checked on `cargo metadata`'s resolved graph, transitively.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// (crate, crate it must never depend on, even transitively)
const FORBIDDEN: &[(&str, &str)] = &[
    ("promql", "tsdb"),
    ("storage", "tsdb"),
    ("storage", "tokio"),
    ("scrape", "tsdb"),
    ("rules", "notifier"),
    ("model", "expfmt"),
    ("model", "tokio"),
    ("expfmt", "tokio"),
    ("promql-syntax", "tokio"),
    ("tsdb", "tokio"),
    ("promql", "tokio"),
    ("model", "hyper"),
    ("expfmt", "hyper"),
];

/// Workspace crates allowed as dependencies of each pure crate.
const PURE: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("expfmt", &["model"]),
    ("promql-syntax", &["model"]),
    ("storage", &["model"]),
    ("promql", &["model", "storage", "promql-syntax"]),
    ("tsdb", &["model", "storage", "expfmt"]),
];

fn graph() -> (BTreeSet<String>, BTreeMap<String, BTreeSet<String>>) {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let name_of = |id: &str| -> String {
        v["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .unwrap()["name"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let members: BTreeSet<String> = v["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| name_of(id.as_str().unwrap()))
        .collect();
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for node in v["resolve"]["nodes"].as_array().unwrap() {
        let name = name_of(node["id"].as_str().unwrap());
        let entry = deps.entry(name).or_default();
        for d in node["deps"].as_array().unwrap() {
            // Only normal (non-dev, non-build) dependencies count.
            let normal = d["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null());
            if normal {
                entry.insert(name_of(d["pkg"].as_str().unwrap()));
            }
        }
    }
    (members, deps)
}

fn closure(deps: &BTreeMap<String, BTreeSet<String>>, root: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![root.to_string()];
    while let Some(n) = stack.pop() {
        for d in deps.get(&n).into_iter().flatten() {
            if seen.insert(d.clone()) {
                stack.push(d.clone());
            }
        }
    }
    seen
}

#[test]
fn crate_graph_keeps_the_invariants() {
    let (members, deps) = graph();
    assert!(members.contains("model") && members.contains("expfmt") && members.contains("ember"));
    let mut violations = Vec::new();
    for (krate, forbidden) in FORBIDDEN {
        if members.contains(*krate) && closure(&deps, krate).contains(*forbidden) {
            violations.push(format!("{krate} depends on {forbidden}"));
        }
    }
    for (krate, allowed) in PURE {
        if !members.contains(*krate) {
            continue;
        }
        for d in closure(&deps, krate) {
            if members.contains(&d) && !allowed.contains(&d.as_str()) {
                violations.push(format!("pure crate {krate} depends on workspace crate {d}"));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "dependency invariants broken:\n{}",
        violations.join("\n")
    );
}
