//! `ember tool check config` agrees with Debian's `promtool check config`
//! (Prometheus 2.42) on every file in `tests/check_config/`.
//!
//! A file named `*.good.yml` is one promtool accepts (exit 0), `*.bad.yml`
//! one it rejects (exit 1); the test first checks promtool still says so.
//! For each file, both tools run from that directory on the relative name,
//! and must agree on:
//!
//! - the exit code;
//! - stdout, byte for byte (`Checking`, `SUCCESS`, `WARNING` lines, rule
//!   file checks);
//! - for rejected files, the error on stderr. promtool prints
//!   `  FAILED: parsing YAML file <f>: <error>`, where a decoder type error
//!   reads `yaml: unmarshal errors:\n  line N: <message>` (all such errors,
//!   one a line) and other errors have no place; Ember prints type errors
//!   the same way (the first only: its decoder stops there) and names the
//!   place of the others, `line N, column C: <message>`. After removing
//!   those prefixes the first message must be **equal**, and when promtool
//!   names a line Ember must name the same line. Where promtool reports a
//!   single type error, the whole stderr must be equal. Where Prometheus 3.x words an error
//!   differently from 2.42, [`WORDING`] gives 3.x's message instead.
//!
//! Files where 3.x (which Ember follows) and 2.42 disagree on the verdict
//! are listed in [`X3`], each with the reason and Ember's expected exit
//! code and message (their names start with `x3_`).
//!
//! promtool is installed by the test command (see README.md); a missing
//! promtool fails the test rather than skipping it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

const PROMTOOL: &str = "/usr/bin/promtool";

/// Files whose verdict differs between 2.42 and 3.x: (file, Ember's exit
/// code, text Ember's error contains, why).
const X3: &[(&str, i32, &str, &str)] = &[
    (
        "x3_external_label_utf8.bad.yml",
        0,
        "",
        "3.x validates label names as UTF-8 by default",
    ),
    (
        "x3_static_label_utf8.bad.yml",
        0,
        "",
        "3.x validates label names as UTF-8 by default",
    ),
    (
        "x3_relabel_target_utf8.bad.yml",
        0,
        "",
        "3.x accepts any UTF-8 target_label",
    ),
    (
        "x3_relabel_labelmap_utf8.bad.yml",
        0,
        "",
        "3.x accepts any UTF-8 labelmap replacement",
    ),
    (
        "x3_alert_relabel_labelmap_utf8.bad.yml",
        0,
        "",
        "3.x accepts any UTF-8 labelmap replacement",
    ),
    (
        "x3_global_sample_limit.bad.yml",
        0,
        "",
        "global limits arrived in 2.45",
    ),
    (
        "x3_scrape_protocols.bad.yml",
        0,
        "",
        "scrape_protocols / fallback_scrape_protocol arrived in 2.49 / 3.0",
    ),
    (
        "x3_scrape_config_files.bad.yml",
        0,
        "",
        "scrape_config_files arrived in 2.43",
    ),
    (
        "x3_kubernetes_sd.bad.yml",
        0,
        "",
        "Debian's 2.42 is built without Kubernetes SD",
    ),
    ("x3_otlp.bad.yml", 0, "", "the otlp section arrived in 2.47"),
    (
        "x3_native_histograms.bad.yml",
        0,
        "",
        "scrape_native_histograms / native_histogram_bucket_limit are 3.x fields",
    ),
    (
        "x3_oauth2_no_secret.bad.yml",
        0,
        "",
        "3.x no longer requires an OAuth2 client secret",
    ),
    (
        "x3_validation_legacy.bad.yml",
        1,
        "\"service.name\" is invalid 'target_label' for replace action",
        "metric_name_validation_scheme is a 3.x field; with legacy names the target is invalid",
    ),
    (
        "x3_api_version_v1.good.yml",
        1,
        "expected Alertmanager api version to be one of [v2] but got v1",
        "3.x dropped Alertmanager API v1",
    ),
    (
        "x3_queue_max_shards_zero.good.yml",
        1,
        "remote write queue max_shards must be positive",
        "queue_config validation arrived after 2.42",
    ),
    (
        "x3_tls_cert_without_key.bad.yml",
        1,
        "exactly one of key or key_file must be configured when a client certificate is configured",
        "3.x's common library rejects this while loading, with its own words (2.42: promtool's `client cert file \"a.crt\" specified without client key file`)",
    ),
];

/// Files both reject, where Ember prints 3.x's wording: (file, message).
const WORDING: &[(&str, &str)] = &[
    // 3.x lists only v2.
    (
        "alertmanager_bad_api_version.bad.yml",
        "expected Alertmanager api version to be one of [v2] but got v3",
    ),
    // 3.x's common library added proxy_from_environment.
    (
        "proxy_connect_header_no_url.bad.yml",
        "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured",
    ),
    // 3.x added azuread and google_iam.
    (
        "remote_write_auth_header.bad.yml",
        "authorization header must be changed via the basic_auth, authorization, oauth2, sigv4, azuread or google_iam parameter",
    ),
    // The YAML reader reports duplicate keys itself, before knowing the
    // Go type (Go: `field scrape_interval already set in type
    // config.ScrapeConfig`).
    (
        "duplicate_key.bad.yml",
        "mapping key \"scrape_interval\" already defined",
    ),
    // Go names its internal type (`config.plain`); we say what was expected.
    (
        "global_scalar.bad.yml",
        "cannot unmarshal !!int `5` into a mapping",
    ),
    (
        "top_level_list.bad.yml",
        "cannot unmarshal !!seq into a mapping",
    ),
    // The regex text is model::regex's (3.x compiles `^(?s:...)$`).
    (
        "relabel_bad_regex.bad.yml",
        "parse regexp \"(a\": missing closing ): `^(?s:(a)$`",
    ),
];

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(dir: &Path, cmd: &str, args: &[&str]) -> Outcome {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("start {cmd}: {e}"));
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The first error's line (if named) and message, prefixes removed.
fn key_message(stderr: &str, file: &str) -> (Option<u64>, String) {
    let s = stderr.trim_end_matches('\n');
    let s = s.strip_prefix("  FAILED: ").unwrap_or(s);
    let prefix = format!("parsing YAML file {file}: ");
    let s = s.strip_prefix(&prefix).unwrap_or(s);
    if let Some(rest) = s.strip_prefix("yaml: unmarshal errors:\n  line ") {
        let (line, msg) = rest.split_once(": ").unwrap_or(("", rest));
        let msg = msg.lines().next().unwrap_or("");
        return (line.parse().ok(), msg.to_owned());
    }
    if let Some(rest) = s.strip_prefix("line ")
        && let Some((line, rest)) = rest.split_once(", column ")
        && let Some((_, msg)) = rest.split_once(": ")
    {
        return (line.parse().ok(), msg.to_owned());
    }
    (None, s.to_owned())
}

fn compare(dir: &Path, file: &str) -> Option<String> {
    let ember = env!("CARGO_BIN_EXE_ember");
    let want = run(dir, PROMTOOL, &["check", "config", file]);
    let got = run(dir, ember, &["tool", "check", "config", file]);
    let promtool_code = if file.ends_with(".good.yml") { 0 } else { 1 };
    if want.code != promtool_code {
        return Some(format!(
            "{file}: promtool exits {} (stderr {:?}), but the name says {promtool_code}",
            want.code, want.stderr
        ));
    }
    if let Some((_, code, msg, _)) = X3.iter().find(|x| x.0 == file) {
        let ok = got.code == *code && got.stderr.contains(msg);
        return (!ok).then(|| {
            format!(
                "{file} (3.x behaviour): want exit {code} with {msg:?}; got exit {} stderr {:?}",
                got.code, got.stderr
            )
        });
    }
    let mut diffs = Vec::new();
    if want.code != got.code {
        diffs.push(format!("exit {} vs {}", want.code, got.code));
    }
    if want.stdout != got.stdout {
        diffs.push(format!("stdout {:?} vs {:?}", want.stdout, got.stdout));
    }
    if want.code != 0 {
        let (want_line, want_msg) = key_message(&want.stderr, file);
        let (got_line, got_msg) = key_message(&got.stderr, file);
        let want_msg = WORDING
            .iter()
            .find(|w| w.0 == file)
            .map_or(want_msg, |w| w.1.to_owned());
        if want_msg != got_msg {
            diffs.push(format!("message {want_msg:?} vs {got_msg:?}"));
        }
        if want_line.is_some() && want_line != got_line {
            diffs.push(format!("line {want_line:?} vs {got_line:?}"));
        }
        // A single type error reads exactly as promtool's, stderr and all.
        let type_errors = want
            .stderr
            .split_once("yaml: unmarshal errors:\n")
            .map_or(0, |(_, rest)| {
                rest.lines().filter(|l| l.starts_with("  line ")).count()
            });
        let reworded = WORDING.iter().any(|w| w.0 == file);
        if type_errors == 1 && !reworded && want.stderr != got.stderr {
            diffs.push(format!("stderr {:?} vs {:?}", want.stderr, got.stderr));
        }
    }
    (!diffs.is_empty()).then(|| format!("{file}: {}", diffs.join("; ")))
}

#[test]
fn agrees_with_promtool() {
    assert!(
        Path::new(PROMTOOL).exists(),
        "{PROMTOOL} is missing: install Debian's prometheus package (see README.md)"
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check_config");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".good.yml") || n.ends_with(".bad.yml"))
        .collect();
    files.sort();
    let x3 = files.iter().filter(|f| f.starts_with("x3_")).count();
    assert_eq!(x3, X3.len(), "every x3_ file is listed in X3 and back");
    assert!(
        files.len() - x3 >= 60,
        "the table has {} agreeing files",
        files.len() - x3
    );
    let failures: Vec<String> = files.iter().filter_map(|f| compare(&dir, f)).collect();
    assert!(
        failures.is_empty(),
        "{} of {} files differ:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
