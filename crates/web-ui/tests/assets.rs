//! The embedded assets are complete and consistent: everything the page and
//! the modules reference is embedded, everything in `assets/` is embedded,
//! content types are right, and the route prefix is injected safely.

use std::collections::BTreeSet;
use std::path::PathBuf;

use web_ui::{asset, asset_paths, index_html};

fn assets_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets")
}

/// The quoted strings following `marker` in `text` (up to the closing quote).
fn quoted_after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(marker) {
        rest = &rest[i + marker.len()..];
        let Some(q) = rest.chars().next() else { break };
        if q != '"' && q != '\'' {
            continue;
        }
        let body = &rest[1..];
        if let Some(end) = body.find(q) {
            out.push(&body[..end]);
        }
    }
    out
}

#[test]
fn index_references_exist() {
    let html = index_html("");
    let refs: Vec<&str> = quoted_after(&html, "href=")
        .into_iter()
        .chain(quoted_after(&html, "src="))
        .filter(|r| r.starts_with("assets/"))
        .collect();
    assert!(
        refs.len() >= 3,
        "expected stylesheet, script and icon: {refs:?}"
    );
    for r in refs {
        let path = r.trim_start_matches("assets/");
        assert!(asset(path).is_some(), "index.html references missing {r}");
    }
}

#[test]
fn module_imports_exist() {
    let mut js = 0;
    for path in asset_paths().filter(|p| p.ends_with(".js")) {
        js += 1;
        let body = asset(path).map(|a| a.body).unwrap_or_default();
        let text = std::str::from_utf8(body).unwrap_or_else(|e| panic!("{path}: {e}"));
        for import in quoted_after(text, "from ") {
            let target = import
                .strip_prefix("./")
                .unwrap_or_else(|| panic!("{path}: non-relative import {import}"));
            assert!(asset(target).is_some(), "{path} imports missing {import}");
        }
        let lines = text.lines().count();
        assert!(
            lines <= 800,
            "{path} has {lines} lines; split it by concern"
        );
    }
    assert!(js >= 10);
}

#[test]
fn every_shipped_file_is_embedded() {
    let embedded: BTreeSet<&str> = asset_paths().collect();
    for entry in std::fs::read_dir(assets_dir()).expect("assets dir") {
        let entry = entry.expect("dir entry");
        if !entry.file_type().expect("file type").is_file() {
            continue; // tests/ is not shipped
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "index.html" {
            continue;
        }
        assert!(
            embedded.contains(name.as_str()),
            "assets/{name} is not embedded in lib.rs"
        );
    }
}

#[test]
fn content_types() {
    for path in asset_paths() {
        let a = asset(path).expect("listed asset");
        let want = match path.rsplit('.').next() {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("svg") => "image/svg+xml",
            other => panic!("unexpected extension {other:?} for {path}"),
        };
        assert_eq!(a.content_type, want, "{path}");
        assert!(!a.body.is_empty(), "{path} is empty");
    }
}

#[test]
fn unknown_and_template_paths_are_not_served() {
    assert!(asset("index.html").is_none());
    assert!(asset("nope.js").is_none());
    assert!(asset("../Cargo.toml").is_none());
    assert!(asset("tests/format.test.mjs").is_none());
    assert!(asset("").is_none());
}

#[test]
fn etags_identify_contents() {
    let tags: BTreeSet<&str> = asset_paths()
        .map(|p| asset(p).expect("asset").etag)
        .collect();
    assert_eq!(tags.len(), asset_paths().count(), "etags must differ");
    assert_eq!(
        asset("app.js").map(|a| a.etag),
        asset("app.js").map(|a| a.etag)
    );
}

#[test]
fn prefix_injection() {
    let root = index_html("");
    assert!(root.contains(r#"<base href="/">"#), "{root}");
    assert!(root.contains(r#"<meta name="ember-prefix" content="">"#));
    assert!(!root.contains("{{"), "placeholder left in the page");
    assert_eq!(index_html("/"), root);

    let sub = index_html("/prom/");
    assert!(sub.contains(r#"<base href="/prom/">"#), "{sub}");
    assert!(sub.contains(r#"<meta name="ember-prefix" content="/prom">"#));
    assert_eq!(index_html("prom"), sub);

    let evil = index_html(r#"/a"><script>alert(1)</script>"#);
    assert!(!evil.contains("<script>alert"), "{evil}");
    assert!(evil.contains("&quot;&gt;&lt;script&gt;"));
}
