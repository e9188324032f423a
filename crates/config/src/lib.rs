//! Ember's `prometheus.yml`: raw serde types, then a validated [`Config`]
//! with Prometheus 3.x's defaults and error messages.
//!
//! Owns the whole schema of Prometheus 3.x's configuration file — `global`,
//! `scrape_configs` (every field), `scrape_config_files`, `rule_files`,
//! `alerting`, `remote_write`, `remote_read`, `storage`, `tracing`, `otlp`,
//! `runtime` — and the shared HTTP client block ([`http`]). Parsing is
//! strict like Prometheus's (unknown fields, duplicate keys and wrong types
//! are errors) and every error is a [`ConfigError`] naming the file, line,
//! column and the field or job, in Prometheus's words; type errors are
//! written as Go's decoder writes them (`yaml: unmarshal errors:` and the
//! line, [`Stage::Unmarshal`]), the column kept in
//! [`ConfigError::location`].
//!
//! Two stages: the YAML is read into raw types (`Raw*`, private; most local
//! checks run there, like Go's `UnmarshalYAML`), then [`Config::from_raw`]
//! applies `global` inheritance and the cross-section checks (duplicate
//! jobs, `scrape_timeout` ≤ `scrape_interval`, relabel constraints under the
//! naming scheme in force). Sections Ember does not run yet (most service
//! discovery mechanisms, `tracing`, `otlp`, `storage`, `runtime`, ...) are
//! parsed and validated all the same and listed by [`Config::warnings`].
//!
//! [`check`] holds what `promtool check config` does beyond loading (rule
//! files exist, file_sd files parse, static targets relabel cleanly, TLS
//! files exist).
//!
//! Knows nothing of scraping, storage or HTTP serving: it only describes
//! them. Relabel steps are `model::relabel::Config`, validated here.

pub mod alerting;
pub mod check;
mod de;
pub mod discovery;
pub mod duration;
mod error;
pub mod global;
pub mod http;
pub mod remote;
pub mod scrape;
mod secret;
pub mod storage;
pub mod url;

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;
use serde_saphyr::Spanned;

pub use de::Yaml;
pub use duration::{ByteSize, Duration};
pub use error::{ConfigError, Location, Stage};
pub use secret::Secret;

use crate::alerting::{AlertingConfig, RawAlerting};
use crate::error::Invalid;
use crate::global::{GlobalConfig, RawGlobal};
use crate::remote::{RawRemoteRead, RawRemoteWrite, RemoteReadConfig, RemoteWriteConfig};
use crate::scrape::{RawScrapeConfig, RawScrapeConfigFile, ScrapeConfig};
use crate::storage::{OtlpConfig, RuntimeConfig, StorageConfig, TracingConfig};

/// The whole file as written.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    global: Option<Spanned<Option<RawGlobal>>>,
    #[serde(default)]
    runtime: Option<RuntimeConfig>,
    #[serde(default)]
    alerting: Option<Spanned<Option<RawAlerting>>>,
    #[serde(default, deserialize_with = "de::string_list")]
    rule_files: Vec<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    scrape_config_files: Vec<String>,
    #[serde(default, deserialize_with = "de::null_list")]
    scrape_configs: Vec<Option<Spanned<RawScrapeConfig>>>,
    #[serde(default)]
    storage: Option<StorageConfig>,
    #[serde(default)]
    tracing: Option<TracingConfig>,
    #[serde(default, deserialize_with = "de::null_list")]
    remote_write: Vec<Option<Spanned<RawRemoteWrite>>>,
    #[serde(default, deserialize_with = "de::null_list")]
    remote_read: Vec<Option<Spanned<RawRemoteRead>>>,
    #[serde(default)]
    otlp: Option<OtlpConfig>,
}

/// A validated configuration, Prometheus's defaults applied. Relative file
/// paths are resolved against the configuration file's directory.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Config {
    /// `global`.
    pub global: GlobalConfig,
    /// `runtime`.
    pub runtime: RuntimeConfig,
    /// `alerting`.
    pub alerting: AlertingConfig,
    /// `rule_files` patterns.
    pub rule_files: Vec<String>,
    /// `scrape_config_files` patterns.
    pub scrape_config_files: Vec<String>,
    /// `scrape_configs` of this file (see [`Config::scrape_configs`] for
    /// those of `scrape_config_files` too).
    pub scrape_configs: Vec<ScrapeConfig>,
    /// `storage`.
    pub storage: StorageConfig,
    /// `tracing`, if set.
    pub tracing: Option<TracingConfig>,
    /// `remote_write`.
    pub remote_write: Vec<RemoteWriteConfig>,
    /// `remote_read`.
    pub remote_read: Vec<RemoteReadConfig>,
    /// `otlp`.
    pub otlp: OtlpConfig,
    /// What is set but not run by Ember yet (see [`Config::warnings`]).
    unsupported: Vec<String>,
}

/// `^[^*]*(\*[^/]*)?$`: a `*` only in the last path segment.
fn valid_glob_path(p: &str) -> bool {
    match p.find('*') {
        None => true,
        Some(i) => !p[i + 1..].contains('/'),
    }
}

/// Joins a relative path with `dir` (common's `JoinDir`).
fn join_dir(dir: &Path, p: &str) -> String {
    if p.is_empty() || Path::new(p).is_absolute() {
        return p.to_owned();
    }
    dir.join(p).to_string_lossy().into_owned()
}

impl Config {
    /// Parses and validates YAML text.
    pub fn load_str(yaml: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = if yaml.trim().is_empty() {
            RawConfig::default()
        } else {
            serde_saphyr::from_str_with_options(yaml, options())
                .map_err(|e| error::from_saphyr(&e, yaml))?
        };
        Config::from_raw(raw).map_err(ConfigError::from)
    }

    /// Reads, parses and validates a file; relative paths inside are made
    /// relative to the file's directory.
    pub fn load_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut cfg = Config::load_str(&text).map_err(|e| e.in_file(path.to_owned()))?;
        cfg.set_directory(path.parent().unwrap_or(Path::new("")));
        Ok(cfg)
    }

    /// `Config.UnmarshalYAML` after the sections were read.
    fn from_raw(raw: RawConfig) -> Result<Config, Invalid> {
        let mut unsupported = Vec::new();
        let global = match raw.global {
            Some(g) => {
                let at = Location::from_saphyr(g.referenced);
                g.value
                    .unwrap_or_default()
                    .validate()
                    .map_err(|m| Invalid::new(at, m))?
            }
            None => GlobalConfig::default(),
        };
        let mut external_labels = std::collections::BTreeMap::new();
        for (k, v) in &global.external_labels {
            let expanded = global::expand_env(v, &|name| std::env::var(name).ok());
            external_labels.insert(k.clone(), expanded);
        }
        let global = GlobalConfig {
            external_labels,
            ..global
        };
        for rf in &raw.rule_files {
            if !valid_glob_path(rf) {
                return Err(Invalid::new(
                    None,
                    format!("invalid rule file path {}", model::matcher::go_quote(rf)),
                ));
            }
        }
        for sf in &raw.scrape_config_files {
            if !valid_glob_path(sf) {
                return Err(Invalid::new(
                    None,
                    format!(
                        "invalid scrape config file path {}",
                        model::matcher::go_quote(sf)
                    ),
                ));
            }
        }
        let mut jobs = BTreeSet::new();
        let mut scrape_configs = Vec::new();
        for sc in raw.scrape_configs {
            let Some(sc) = sc else {
                return Err(Invalid::new(None, "empty or null scrape config section"));
            };
            let at = Location::from_saphyr(sc.referenced);
            let sc = sc.value.validate(&global, at)?;
            if !jobs.insert(sc.job_name.clone()) {
                return Err(Invalid::new(
                    at,
                    format!(
                        "found multiple scrape configs with job name {}",
                        model::matcher::go_quote(&sc.job_name)
                    ),
                ));
            }
            scrape_configs.push(sc);
        }
        let alerting = match raw.alerting {
            Some(a) => {
                let at = Location::from_saphyr(a.referenced);
                a.value
                    .unwrap_or_default()
                    .validate(global.metric_name_validation_scheme, at)?
            }
            None => AlertingConfig::default(),
        };
        let mut remote_write = Vec::new();
        let mut rw_names = BTreeSet::new();
        for rw in raw.remote_write {
            let Some(rw) = rw else {
                return Err(Invalid::new(
                    None,
                    "empty or null remote write config section",
                ));
            };
            let at = Location::from_saphyr(rw.referenced);
            let rw = rw
                .value
                .validate(global.metric_name_validation_scheme, at)?;
            if !rw.name.is_empty() && !rw_names.insert(rw.name.clone()) {
                return Err(Invalid::new(
                    at,
                    format!(
                        "found multiple remote write configs with job name {}",
                        model::matcher::go_quote(&rw.name)
                    ),
                ));
            }
            remote_write.push(rw);
        }
        let mut remote_read = Vec::new();
        let mut rr_names = BTreeSet::new();
        for rr in raw.remote_read {
            let Some(rr) = rr else {
                return Err(Invalid::new(
                    None,
                    "empty or null remote read config section",
                ));
            };
            let at = Location::from_saphyr(rr.referenced);
            let rr = rr.value.validate(at)?;
            if !rr.name.is_empty() && !rr_names.insert(rr.name.clone()) {
                return Err(Invalid::new(
                    at,
                    format!(
                        "found multiple remote read configs with job name {}",
                        model::matcher::go_quote(&rr.name)
                    ),
                ));
            }
            remote_read.push(rr);
        }
        let otlp_set = raw.otlp.is_some();
        let otlp = raw.otlp.unwrap_or_default();
        match otlp.translation_strategy.as_str() {
            "UnderscoreEscapingWithSuffixes" | "UnderscoreEscapingWithoutSuffixes" => {}
            s @ ("NoTranslation" | "NoUTF8EscapingWithSuffixes") => {
                if global.metric_name_validation_scheme == model::labels::NameValidation::Legacy {
                    return Err(Invalid::new(
                        None,
                        format!(
                            "OTLP translation strategy \"{s}\" is not allowed when UTF8 is disabled"
                        ),
                    ));
                }
            }
            s => {
                return Err(Invalid::new(
                    None,
                    format!("unsupported OTLP translation strategy \"{s}\""),
                ));
            }
        }

        let mut note = |what: String| {
            if !unsupported.contains(&what) {
                unsupported.push(what);
            }
        };
        for sc in &scrape_configs {
            for sd in &sc.discovery.other {
                note(format!(
                    "{}_sd_configs (job {:?})",
                    sd.mechanism, sc.job_name
                ));
            }
        }
        for am in &alerting.alertmanagers {
            for sd in &am.discovery.other {
                note(format!("{}_sd_configs (alertmanagers)", sd.mechanism));
            }
        }
        if !raw.rule_files.is_empty() {
            note("rule_files".to_owned());
        }
        if !alerting.alertmanagers.is_empty() || !alerting.alert_relabel_configs.is_empty() {
            note("alerting".to_owned());
        }
        if !remote_write.is_empty() {
            note("remote_write".to_owned());
        }
        if !remote_read.is_empty() {
            note("remote_read".to_owned());
        }
        if raw.tracing.is_some() {
            note("tracing".to_owned());
        }
        if raw.storage.is_some() {
            note("storage".to_owned());
        }
        if otlp_set {
            note("otlp".to_owned());
        }
        if raw.runtime.as_ref().is_some_and(|r| r.gogc.is_some()) {
            note("runtime".to_owned());
        }
        Ok(Config {
            global,
            runtime: raw.runtime.unwrap_or_default(),
            alerting,
            rule_files: raw.rule_files,
            scrape_config_files: raw.scrape_config_files,
            scrape_configs,
            storage: raw.storage.unwrap_or_default(),
            tracing: raw.tracing,
            remote_write,
            remote_read,
            otlp,
            unsupported,
        })
    }

    /// Sections that are set but that Ember does not run yet, each named
    /// once, for a startup warning (`rule_files`, `kubernetes_sd_configs
    /// (job "k8s")`, `tracing`, ...).
    pub fn warnings(&self) -> Vec<String> {
        self.unsupported
            .iter()
            .map(|w| format!("{w} is configured but not supported by Ember yet; it is ignored"))
            .collect()
    }

    /// Makes relative file paths relative to `dir`.
    fn set_directory(&mut self, dir: &Path) {
        let j = |p: &mut String| *p = join_dir(dir, p);
        j(&mut self.global.query_log_file);
        j(&mut self.global.scrape_failure_log_file);
        self.rule_files.iter_mut().for_each(j);
        self.scrape_config_files.iter_mut().for_each(j);
        for sc in &mut self.scrape_configs {
            set_scrape_directory(sc, dir);
        }
        for am in &mut self.alerting.alertmanagers {
            set_http_directory(&mut am.http, dir);
            set_discovery_directory(&mut am.discovery, dir);
        }
        for rw in &mut self.remote_write {
            set_http_directory(&mut rw.http, dir);
        }
        for rr in &mut self.remote_read {
            set_http_directory(&mut rr.http, dir);
        }
        if let Some(t) = &mut self.tracing {
            set_tls_directory(&mut t.tls_config, dir);
        }
    }

    /// The scrape configs of this file and of every `scrape_config_files`
    /// match, validated against this file's `global`; job names must be
    /// unique across all of them.
    pub fn scrape_configs(&self) -> Result<Vec<ScrapeConfig>, ConfigError> {
        let mut out = self.scrape_configs.clone();
        let mut jobs: std::collections::BTreeMap<String, String> = out
            .iter()
            .map(|s| (s.job_name.clone(), "main config file".to_owned()))
            .collect();
        for pattern in &self.scrape_config_files {
            for path in check::glob(pattern).map_err(|message| ConfigError::Check { message })? {
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                let abs = std::path::absolute(&path).unwrap_or_else(|_| path.clone());
                let in_file = |e: ConfigError| match e {
                    ConfigError::Invalid {
                        location, message, ..
                    } => ConfigError::Invalid {
                        file: Some(path.clone()),
                        location,
                        stage: Stage::Other,
                        message: format!("{:?}: {message}", abs.display().to_string()),
                    },
                    other => other,
                };
                let raw: RawScrapeConfigFile =
                    serde_saphyr::from_str_with_options(&text, options())
                        .map_err(|e| in_file(error::from_saphyr(&e, &text)))?;
                for sc in raw.scrape_configs {
                    let Some(sc) = sc else {
                        return Err(in_file(
                            Invalid::new(None, "empty or null scrape config section").into(),
                        ));
                    };
                    let at = Location::from_saphyr(sc.referenced);
                    let mut sc = sc
                        .value
                        .validate(&self.global, at)
                        .map_err(|e| in_file(e.into()))?;
                    if let Some(first) = jobs.get(&sc.job_name) {
                        return Err(in_file(
                            Invalid::new(
                                at,
                                format!(
                                    "found multiple scrape configs with job name {}, first found in {first}",
                                    model::matcher::go_quote(&sc.job_name)
                                ),
                            )
                            .into(),
                        ));
                    }
                    jobs.insert(
                        sc.job_name.clone(),
                        format!("{:?}", abs.display().to_string()),
                    );
                    set_scrape_directory(&mut sc, path.parent().unwrap_or(Path::new("")));
                    out.push(sc);
                }
            }
        }
        Ok(out)
    }
}

fn options() -> serde_saphyr::Options {
    serde_saphyr::Options::default()
}

fn set_tls_directory(t: &mut http::TlsConfig, dir: &Path) {
    for p in [&mut t.ca_file, &mut t.cert_file, &mut t.key_file] {
        *p = join_dir(dir, p);
    }
}

fn set_http_directory(h: &mut http::HttpClientConfig, dir: &Path) {
    set_tls_directory(&mut h.tls_config, dir);
    if let Some(b) = &mut h.basic_auth {
        b.password_file = join_dir(dir, &b.password_file);
        b.username_file = join_dir(dir, &b.username_file);
    }
    if let Some(a) = &mut h.authorization {
        a.credentials_file = join_dir(dir, &a.credentials_file);
    }
    if let Some(o) = &mut h.oauth2 {
        o.client_secret_file = join_dir(dir, &o.client_secret_file);
        set_tls_directory(&mut o.tls_config, dir);
    }
    for header in h.http_headers.values_mut() {
        for f in &mut header.files {
            *f = join_dir(dir, f);
        }
    }
}

fn set_discovery_directory(d: &mut discovery::Discovery, dir: &Path) {
    for f in &mut d.file_sd_configs {
        for p in &mut f.files {
            *p = join_dir(dir, p);
        }
    }
    for h in &mut d.http_sd_configs {
        set_http_directory(&mut h.http, dir);
    }
}

fn set_scrape_directory(sc: &mut ScrapeConfig, dir: &Path) {
    set_http_directory(&mut sc.http, dir);
    set_discovery_directory(&mut sc.discovery, dir);
    sc.scrape_failure_log_file = join_dir(dir, &sc.scrape_failure_log_file);
}
