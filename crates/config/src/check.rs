//! What `promtool check config` checks beyond loading the file: rule files
//! named without a wildcard exist, `scrape_config_files` load, credential
//! and TLS files exist, file_sd files parse, and static and file_sd targets
//! survive target relabeling (Prometheus's `PopulateLabels` checks).
//!
//! Messages are promtool's; file-system errors are worded like Go's
//! (`stat x: no such file or directory`).

use std::path::{Path, PathBuf};

use model::LabelsBuilder;
use model::matcher::go_quote;
use model::relabel;

use crate::discovery::StaticConfig;
use crate::duration::Duration;
use crate::scrape::{ScrapeConfig, check_target_address};
use crate::{Config, ConfigError};

/// What a successful check found.
#[derive(Debug, Default)]
pub struct Checked {
    /// The rule files the configuration names (glob matches).
    pub rule_files: Vec<PathBuf>,
}

/// Go's wording of an I/O error.
fn go_io(op: &str, path: &str, e: &std::io::Error) -> String {
    let why = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    };
    format!("{op} {path}: {why}")
}

fn check(message: String) -> ConfigError {
    ConfigError::Check { message }
}

/// Expands a `*`/`?` pattern in the last path segment (Go's
/// `filepath.Glob` for the patterns Prometheus allows), sorted.
pub fn glob(pattern: &str) -> Result<Vec<PathBuf>, String> {
    let path = Path::new(pattern);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains(['*', '?', '[']) {
        return Ok(if path.symlink_metadata().is_ok() {
            vec![path.to_owned()]
        } else {
            Vec::new()
        });
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if wildcard_match(name.as_bytes(), n.as_bytes()) {
                out.push(match path.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d.join(&n),
                    _ => PathBuf::from(&n),
                });
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `*` matches any run of characters, `?` one character.
fn wildcard_match(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| wildcard_match(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && wildcard_match(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && wildcard_match(rest, &s[1..]),
    }
}

fn file_exists(path: &str) -> Result<(), std::io::Error> {
    if path.is_empty() {
        return Ok(());
    }
    std::fs::metadata(path).map(|_| ())
}

fn check_tls(t: &crate::http::TlsConfig, syntax_only: bool) -> Result<(), ConfigError> {
    if !t.cert_file.is_empty() && t.key_file.is_empty() {
        return Err(check(format!(
            "client cert file {} specified without client key file",
            go_quote(&t.cert_file)
        )));
    }
    if !t.key_file.is_empty() && t.cert_file.is_empty() {
        return Err(check(format!(
            "client key file {} specified without client cert file",
            go_quote(&t.key_file)
        )));
    }
    if syntax_only {
        return Ok(());
    }
    for (what, f) in [("cert", &t.cert_file), ("key", &t.key_file)] {
        file_exists(f).map_err(|e| {
            check(format!(
                "error checking client {what} file {}: {}",
                go_quote(f),
                go_io("stat", f, &e)
            ))
        })?;
    }
    Ok(())
}

/// Runs promtool's checks on a configuration file. `notes` receives the
/// `WARNING:` lines promtool prints on stdout (missing file_sd files).
pub fn check_config(
    path: &Path,
    syntax_only: bool,
    notes: &mut Vec<String>,
) -> Result<Checked, ConfigError> {
    let cfg = Config::load_file(path)?;
    let mut out = Checked::default();
    if !syntax_only {
        for rf in &cfg.rule_files {
            let found = glob(rf).map_err(check)?;
            if !rf.contains('*') {
                let Some(first) = found.first() else {
                    return Err(check(format!(
                        "{} does not point to an existing file",
                        go_quote(rf)
                    )));
                };
                let f = first.to_string_lossy();
                file_exists(&f).map_err(|e| {
                    check(format!(
                        "error checking rule file {}: {}",
                        go_quote(&f),
                        go_io("stat", &f, &e)
                    ))
                })?;
            }
            out.rule_files.extend(found);
        }
    }
    let scrape_configs = if syntax_only {
        cfg.scrape_configs.clone()
    } else {
        cfg.scrape_configs()
            .map_err(|e| check(format!("error loading scrape configs: {}", e.message())))?
    };
    for sc in &scrape_configs {
        if !syntax_only && let Some(a) = &sc.http.authorization {
            file_exists(&a.credentials_file).map_err(|e| {
                check(format!(
                    "error checking authorization credentials or bearer token file {}: {}",
                    go_quote(&a.credentials_file),
                    go_io("stat", &a.credentials_file, &e)
                ))
            })?;
        }
        check_tls(&sc.http.tls_config, syntax_only)?;
        for sd in &sc.discovery.other {
            if sd.mechanism == "kubernetes"
                && let Some(tls) = sd.yaml.get("tls_config")
            {
                let cert = yaml_str(tls.get("cert_file"));
                let key = yaml_str(tls.get("key_file"));
                let t = crate::http::TlsConfig {
                    cert_file: cert,
                    key_file: key,
                    ..Default::default()
                };
                check_tls(&t, syntax_only)?;
            }
        }
        if !syntax_only {
            for fsd in &sc.discovery.file_sd_configs {
                for pattern in &fsd.files {
                    let files = glob(pattern).map_err(check)?;
                    if files.is_empty() {
                        notes.push(format!(
                            "  WARNING: file {} for file_sd in scrape job {} does not exist",
                            go_quote(pattern),
                            go_quote(&sc.job_name)
                        ));
                    }
                    for f in files {
                        let groups = read_sd_file(&f).map_err(|e| {
                            check(format!("checking SD file {}: {e}", go_quote(pattern)))
                        })?;
                        check_groups_for_scrape(&groups, sc, GroupNames::Unnamed)?;
                    }
                }
            }
        }
        check_groups_for_scrape(&sc.discovery.static_configs, sc, GroupNames::Index)?;
    }
    for am in &cfg.alerting.alertmanagers {
        if !syntax_only {
            for fsd in &am.discovery.file_sd_configs {
                for pattern in &fsd.files {
                    let files = glob(pattern).map_err(check)?;
                    if files.is_empty() {
                        notes.push(format!(
                            "  WARNING: file {} for file_sd in alertmanager config does not exist",
                            go_quote(pattern)
                        ));
                    }
                    for f in files {
                        read_sd_file(&f).map_err(|e| {
                            check(format!("checking SD file {}: {e}", go_quote(pattern)))
                        })?;
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The part of a rule file [`count_rules`] reads.
#[derive(serde::Deserialize)]
struct RuleFile {
    #[serde(default, deserialize_with = "crate::de::null_list")]
    groups: Vec<RuleGroup>,
}

#[derive(serde::Deserialize)]
struct RuleGroup {
    #[serde(default, deserialize_with = "crate::de::null_list")]
    rules: Vec<crate::Yaml>,
}

/// Counts the rules of a rule file (`groups[].rules[]`), reading it only as
/// YAML: rule validation belongs to the rules crate.
pub fn count_rules(path: &Path) -> Result<usize, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| go_io("open", &path.to_string_lossy(), &e))?;
    if text.trim().is_empty() {
        return Ok(0);
    }
    let file: RuleFile = serde_saphyr::from_str(&text).map_err(|e| {
        format!(
            "{}: {}",
            path.display(),
            crate::error::from_saphyr(&e, &text)
        )
    })?;
    Ok(file.groups.iter().map(|g| g.rules.len()).sum())
}

fn yaml_str(v: Option<&crate::Yaml>) -> String {
    match v {
        Some(crate::Yaml::String(s)) => s.clone(),
        _ => String::new(),
    }
}

/// Reads a file_sd file (`.json`, `.yml`, `.yaml`) into target groups.
pub fn read_sd_file(path: &Path) -> Result<Vec<StaticConfig>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| go_io("open", &path.to_string_lossy(), &e))?;
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if !["json", "yml", "yaml"].contains(&ext.as_str()) {
        return Err(format!("invalid file extension: \".{ext}\""));
    }
    let groups: Vec<Option<StaticConfig>> = serde_saphyr::from_str(&text)
        .map_err(|e| crate::error::from_saphyr(&e, &text).to_string())?;
    groups
        .into_iter()
        .enumerate()
        .map(|(i, g)| g.ok_or_else(|| format!("nil target group item found (index {i})")))
        .collect()
}

/// How target groups are named in errors (their `Source`).
#[derive(Clone, Copy)]
enum GroupNames {
    /// Static configs: the group's index.
    Index,
    /// Groups read by promtool from a file_sd file: no name.
    Unnamed,
}

/// `TargetsFromGroup` for each group: the first failing target's error.
fn check_groups_for_scrape(
    groups: &[StaticConfig],
    sc: &ScrapeConfig,
    names: GroupNames,
) -> Result<(), ConfigError> {
    let mut b = LabelsBuilder::new();
    for (gi, g) in groups.iter().enumerate() {
        let group = match names {
            GroupNames::Index => gi.to_string(),
            GroupNames::Unnamed => String::new(),
        };
        for (i, t) in g.targets.iter().enumerate() {
            if let Err(e) = populate_labels(&mut b, sc, t, g) {
                return Err(check(format!("instance {i} in group {group}: {e}")));
            }
        }
    }
    Ok(())
}

/// Prometheus's `PopulateLabels` checks for one target.
fn populate_labels(
    b: &mut LabelsBuilder,
    sc: &ScrapeConfig,
    address: &str,
    group: &StaticConfig,
) -> Result<(), String> {
    b.clear();
    b.set("__address__", address);
    for (k, v) in &group.labels {
        if k != "__address__" {
            b.set(k, v);
        }
    }
    let defaults = [
        ("job", sc.job_name.clone()),
        ("__scrape_interval__", sc.scrape_interval.to_string()),
        ("__scrape_timeout__", sc.scrape_timeout.to_string()),
        ("__metrics_path__", sc.metrics_path.clone()),
        ("__scheme__", sc.scheme.clone()),
        (
            "__convert_classic_histograms_to_nhcb__",
            sc.convert_classic_histograms_to_nhcb.to_string(),
        ),
        (
            "__always_scrape_classic_histograms__",
            sc.always_scrape_classic_histograms.to_string(),
        ),
        (
            "__scrape_native_histograms__",
            sc.scrape_native_histograms.to_string(),
        ),
    ];
    for (k, v) in defaults {
        if b.get(k).unwrap_or("").is_empty() {
            b.set(k, &v);
        }
    }
    for (k, v) in &sc.params {
        let name = format!("__param_{k}");
        if let Some(first) = v.first()
            && b.get(&name).unwrap_or("").is_empty()
        {
            b.set(&name, first);
        }
    }
    if !relabel::process_builder(b, &sc.relabel_configs) {
        return Ok(());
    }
    let addr = b.get("__address__").unwrap_or("").to_owned();
    if addr.is_empty() {
        return Err("no address".to_owned());
    }
    check_target_address(&addr)?;
    let interval = b.get("__scrape_interval__").unwrap_or("").to_owned();
    let interval_d =
        Duration::parse(&interval).map_err(|e| format!("error parsing scrape interval: {e}"))?;
    if interval_d.is_zero() {
        return Err("scrape interval cannot be 0".to_owned());
    }
    let timeout = b.get("__scrape_timeout__").unwrap_or("").to_owned();
    let timeout_d =
        Duration::parse(&timeout).map_err(|e| format!("error parsing scrape timeout: {e}"))?;
    if timeout_d.is_zero() {
        return Err("scrape timeout cannot be 0".to_owned());
    }
    if timeout_d > interval_d {
        return Err(format!(
            "scrape timeout cannot be greater than scrape interval ({} > {})",
            go_quote(&timeout),
            go_quote(&interval)
        ));
    }
    for (name, desc) in [
        (
            "__convert_classic_histograms_to_nhcb__",
            "convert classic histograms to nhcb",
        ),
        (
            "__always_scrape_classic_histograms__",
            "always scrape classic histograms",
        ),
        ("__scrape_native_histograms__", "scrape native histograms"),
    ] {
        if let Some(v) = b.get(name)
            && !v.is_empty()
            && parse_go_bool(v).is_none()
        {
            return Err(format!(
                "error parsing {desc}: strconv.ParseBool: parsing {}: invalid syntax",
                go_quote(v)
            ));
        }
    }
    Ok(())
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match(b"*.yml", b"a.yml"));
        assert!(wildcard_match(b"r?.yml", b"r1.yml"));
        assert!(!wildcard_match(b"*.yml", b"a.yaml"));
        assert!(wildcard_match(b"*", b""));
    }
}
