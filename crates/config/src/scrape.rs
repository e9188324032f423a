//! `scrape_configs`: one job each, with Prometheus's defaults and the
//! inheritance from `global`.

use std::collections::BTreeMap;

use model::labels::NameValidation;
use model::relabel;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::discovery::{Discovery, with_discovery};
use crate::duration::{ByteSize, Duration};
use crate::error::{Invalid, Location};
use crate::global::{
    EscapingScheme, GlobalConfig, ScrapeProtocol, parse_validation, validate_protocols,
};
use crate::http::HttpClientConfig;

with_discovery! {
    /// One `scrape_configs` entry as written.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct RawScrapeConfig {
        #[serde(default, deserialize_with = "crate::de::string")]
        job_name: String,
        #[serde(default)]
        honor_labels: bool,
        #[serde(default)]
        honor_timestamps: Option<bool>,
        #[serde(default)]
        track_timestamps_staleness: bool,
        #[serde(default)]
        params: BTreeMap<String, Vec<String>>,
        #[serde(default)]
        scrape_interval: Option<Duration>,
        #[serde(default)]
        scrape_timeout: Option<Duration>,
        #[serde(default, deserialize_with = "crate::de::string_list")]
        scrape_protocols: Vec<String>,
        #[serde(default, deserialize_with = "crate::de::string")]
        fallback_scrape_protocol: String,
        #[serde(default)]
        scrape_native_histograms: Option<bool>,
        #[serde(default)]
        always_scrape_classic_histograms: Option<bool>,
        #[serde(default)]
        convert_classic_histograms_to_nhcb: Option<bool>,
        #[serde(default, deserialize_with = "crate::de::string")]
        scrape_failure_log_file: String,
        #[serde(default, deserialize_with = "crate::de::string")]
        metrics_path: String,
        #[serde(default, deserialize_with = "crate::de::string")]
        scheme: String,
        #[serde(default)]
        enable_compression: Option<bool>,
        #[serde(default)]
        body_size_limit: Option<ByteSize>,
        #[serde(default, deserialize_with = "crate::de::uint")]
        sample_limit: Option<u64>,
        #[serde(default, deserialize_with = "crate::de::uint")]
        target_limit: Option<u64>,
        #[serde(default, deserialize_with = "crate::de::uint")]
        label_limit: Option<u64>,
        #[serde(default, deserialize_with = "crate::de::uint")]
        label_name_length_limit: Option<u64>,
        #[serde(default, deserialize_with = "crate::de::uint")]
        label_value_length_limit: Option<u64>,
        #[serde(default, deserialize_with = "crate::de::uint")]
        native_histogram_bucket_limit: Option<u64>,
        #[serde(default)]
        native_histogram_min_bucket_factor: Option<f64>,
        #[serde(default, deserialize_with = "crate::de::uint")]
        keep_dropped_targets: Option<u64>,
        #[serde(default, deserialize_with = "crate::de::string")]
        metric_name_validation_scheme: String,
        #[serde(default, deserialize_with = "crate::de::string")]
        metric_name_escaping_scheme: String,
        #[serde(default)]
        extra_scrape_metrics: Option<bool>,
        #[serde(default, deserialize_with = "crate::de::null_list")]
        relabel_configs: Vec<Option<Spanned<relabel::Config>>>,
        #[serde(default, deserialize_with = "crate::de::null_list")]
        metric_relabel_configs: Vec<Option<Spanned<relabel::Config>>>,
    }
}

/// A validated scrape job.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScrapeConfig {
    /// The job name (also the default `job` label).
    pub job_name: String,
    /// Scraped labels win over target labels.
    pub honor_labels: bool,
    /// Use scraped timestamps (true).
    pub honor_timestamps: bool,
    /// Stale markers for series with explicit timestamps.
    pub track_timestamps_staleness: bool,
    /// URL parameters.
    pub params: BTreeMap<String, Vec<String>>,
    /// Scrape interval.
    pub scrape_interval: Duration,
    /// Scrape timeout (≤ interval).
    pub scrape_timeout: Duration,
    /// Protocols to negotiate, most wanted first.
    pub scrape_protocols: Vec<ScrapeProtocol>,
    /// Protocol assumed when the target sends no usable `Content-Type`.
    pub fallback_scrape_protocol: Option<ScrapeProtocol>,
    /// Scrape native histograms.
    pub scrape_native_histograms: bool,
    /// Also keep classic histograms when native ones are exposed.
    pub always_scrape_classic_histograms: bool,
    /// Convert classic histograms to native histograms with custom buckets.
    pub convert_classic_histograms_to_nhcb: bool,
    /// Scrape failure log.
    pub scrape_failure_log_file: String,
    /// Path to scrape (`/metrics`).
    pub metrics_path: String,
    /// `http` or `https`.
    pub scheme: String,
    /// Ask for gzip (true).
    pub enable_compression: bool,
    /// Body size limit (0: none).
    pub body_size_limit: ByteSize,
    /// Sample limit (0: none).
    pub sample_limit: u64,
    /// Target limit (0: none).
    pub target_limit: u64,
    /// Label count limit (0: none).
    pub label_limit: u64,
    /// Label name length limit (0: none).
    pub label_name_length_limit: u64,
    /// Label value length limit (0: none).
    pub label_value_length_limit: u64,
    /// Native histogram bucket limit (0: none).
    pub native_histogram_bucket_limit: u64,
    /// Minimum growth factor between native histogram buckets (0: none).
    pub native_histogram_min_bucket_factor: f64,
    /// Dropped targets kept for the UI (0: all).
    pub keep_dropped_targets: u64,
    /// Name validation.
    #[serde(serialize_with = "crate::global::ser_validation")]
    pub metric_name_validation_scheme: NameValidation,
    /// Name escaping requested from targets.
    pub metric_name_escaping_scheme: EscapingScheme,
    /// Store the extra scrape metrics.
    pub extra_scrape_metrics: bool,
    /// HTTP client.
    pub http: HttpClientConfig,
    /// Target discovery.
    pub discovery: Discovery,
    /// Target relabeling.
    pub relabel_configs: Vec<relabel::Config>,
    /// Sample relabeling.
    pub metric_relabel_configs: Vec<relabel::Config>,
}

/// `CheckTargetAddress`: an address may not contain `/` (a URL).
pub(crate) fn check_target_address(addr: &str) -> Result<(), String> {
    if addr.contains('/') {
        return Err(format!(
            "{} is not a valid hostname",
            model::matcher::go_quote(addr)
        ));
    }
    Ok(())
}

fn relabels(
    list: Vec<Option<Spanned<relabel::Config>>>,
    null_message: &str,
    at: Option<Location>,
) -> Result<Vec<(relabel::Config, Option<Location>)>, Invalid> {
    list.into_iter()
        .map(|r| match r {
            Some(s) => Ok((s.value, Location::from_saphyr(s.referenced))),
            None => Err(Invalid::new(at, null_message)),
        })
        .collect()
}

/// Validates relabel steps under `scheme`, reporting the step's place.
pub(crate) fn validate_relabels(
    list: Vec<(relabel::Config, Option<Location>)>,
    scheme: NameValidation,
) -> Result<Vec<relabel::Config>, Invalid> {
    list.into_iter()
        .map(|(mut c, at)| {
            c.validate(scheme)
                .map_err(|e| Invalid::new(at, e.to_string()))?;
            Ok(c)
        })
        .collect()
}

impl RawScrapeConfig {
    /// `ScrapeConfig.UnmarshalYAML` then `Validate(global)`.
    pub(crate) fn validate(
        mut self,
        global: &GlobalConfig,
        at: Option<Location>,
    ) -> Result<ScrapeConfig, Invalid> {
        let err = |m: String| Invalid::new(at, m);
        if self.job_name.is_empty() {
            return Err(err("job_name is empty".to_owned()));
        }
        let job = model::matcher::go_quote(&self.job_name);
        let discovery = self.take_discovery().map_err(err)?;
        let http = self.take_http().validate(true).map_err(err)?;
        if self.relabel_configs.is_empty() {
            for sc in &discovery.static_configs {
                for t in &sc.targets {
                    check_target_address(t).map_err(err)?;
                }
            }
        }
        let relabel_configs = relabels(
            std::mem::take(&mut self.relabel_configs),
            "empty or null target relabeling rule in scrape config",
            at,
        )?;
        let metric_relabel_configs = relabels(
            std::mem::take(&mut self.metric_relabel_configs),
            "empty or null metric relabeling rule in scrape config",
            at,
        )?;

        let scrape_interval = self
            .scrape_interval
            .filter(|d| !d.is_zero())
            .unwrap_or(global.scrape_interval);
        let timeout = self.scrape_timeout.unwrap_or_default();
        if timeout > scrape_interval {
            return Err(err(format!(
                "scrape timeout greater than scrape interval for scrape config with job name {job}"
            )));
        }
        let scrape_timeout = if timeout.is_zero() {
            global.scrape_timeout.min(scrape_interval)
        } else {
            timeout
        };
        let scrape_native_histograms = self
            .scrape_native_histograms
            .unwrap_or(global.scrape_native_histograms);
        let scrape_protocols = if !self.scrape_protocols.is_empty() {
            validate_protocols(&self.scrape_protocols)
                .map_err(|e| err(format!("{e} for scrape config with job name {job}")))?
        } else if let Some(p) = &global.scrape_protocols {
            p.clone()
        } else if scrape_native_histograms {
            ScrapeProtocol::PROTO_FIRST.to_vec()
        } else {
            ScrapeProtocol::DEFAULT.to_vec()
        };
        let fallback_scrape_protocol = match self.fallback_scrape_protocol.as_str() {
            "" => None,
            s => Some(ScrapeProtocol::parse(s).map_err(|e| {
                err(format!(
                    "invalid fallback_scrape_protocol for scrape config with job name {job}: {e}"
                ))
            })?),
        };

        let local_validation = match self.metric_name_validation_scheme.as_str() {
            "" => None,
            s => Some(parse_validation(s).ok_or_else(|| {
                err(format!("unknown scrape config name validation method specified, must be either '', 'legacy' or 'utf8', got {s}"))
            })?),
        };
        let validation = local_validation.unwrap_or(global.metric_name_validation_scheme);
        let global_escaping = global.metric_name_escaping_scheme.unwrap_or(
            match global.metric_name_validation_scheme {
                NameValidation::Legacy => EscapingScheme::Underscores,
                NameValidation::Utf8 => EscapingScheme::AllowUtf8,
            },
        );
        let escaping = match self.metric_name_escaping_scheme.as_str() {
            "" => match local_validation {
                None => global_escaping,
                Some(NameValidation::Legacy) => EscapingScheme::Underscores,
                Some(NameValidation::Utf8) => EscapingScheme::AllowUtf8,
            },
            s => EscapingScheme::parse(s).ok_or_else(|| {
                err(format!("unknown scrape config name escaping method specified, must be one of 'allow-utf-8', 'underscores', 'dots', or 'values', got \"{s}\""))
            })?,
        };
        if escaping == EscapingScheme::AllowUtf8 && validation != NameValidation::Utf8 {
            return Err(err(
                "utf8 metric names requested but validation scheme is not set to UTF8".to_owned(),
            ));
        }
        let relabel_configs = validate_relabels(relabel_configs, validation)?;
        let metric_relabel_configs = validate_relabels(metric_relabel_configs, validation)?;

        let or_global = |v: Option<u64>, g: u64| v.filter(|v| *v != 0).unwrap_or(g);
        Ok(ScrapeConfig {
            honor_labels: self.honor_labels,
            honor_timestamps: self.honor_timestamps.unwrap_or(true),
            track_timestamps_staleness: self.track_timestamps_staleness,
            params: std::mem::take(&mut self.params),
            scrape_interval,
            scrape_timeout,
            scrape_protocols,
            fallback_scrape_protocol,
            scrape_native_histograms,
            always_scrape_classic_histograms: self
                .always_scrape_classic_histograms
                .unwrap_or(global.always_scrape_classic_histograms),
            convert_classic_histograms_to_nhcb: self
                .convert_classic_histograms_to_nhcb
                .unwrap_or(global.convert_classic_histograms_to_nhcb),
            scrape_failure_log_file: if self.scrape_failure_log_file.is_empty() {
                global.scrape_failure_log_file.clone()
            } else {
                std::mem::take(&mut self.scrape_failure_log_file)
            },
            metrics_path: if self.metrics_path.is_empty() {
                "/metrics".to_owned()
            } else {
                std::mem::take(&mut self.metrics_path)
            },
            scheme: if self.scheme.is_empty() {
                "http".to_owned()
            } else {
                std::mem::take(&mut self.scheme)
            },
            enable_compression: self.enable_compression.unwrap_or(true),
            body_size_limit: self
                .body_size_limit
                .filter(|b| b.0 != 0)
                .unwrap_or(global.body_size_limit),
            sample_limit: or_global(self.sample_limit, global.sample_limit),
            target_limit: or_global(self.target_limit, global.target_limit),
            label_limit: or_global(self.label_limit, global.label_limit),
            label_name_length_limit: or_global(
                self.label_name_length_limit,
                global.label_name_length_limit,
            ),
            label_value_length_limit: or_global(
                self.label_value_length_limit,
                global.label_value_length_limit,
            ),
            native_histogram_bucket_limit: self.native_histogram_bucket_limit.unwrap_or(0),
            native_histogram_min_bucket_factor: self
                .native_histogram_min_bucket_factor
                .unwrap_or(0.0),
            keep_dropped_targets: or_global(self.keep_dropped_targets, global.keep_dropped_targets),
            metric_name_validation_scheme: validation,
            metric_name_escaping_scheme: escaping,
            extra_scrape_metrics: self
                .extra_scrape_metrics
                .unwrap_or(global.extra_scrape_metrics),
            http,
            discovery,
            relabel_configs,
            metric_relabel_configs,
            job_name: self.job_name,
        })
    }
}

/// A `scrape_config_files` file: only `scrape_configs`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScrapeConfigFile {
    #[serde(default, deserialize_with = "crate::de::null_list")]
    pub(crate) scrape_configs: Vec<Option<Spanned<RawScrapeConfig>>>,
}
