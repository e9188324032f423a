//! Sections Ember parses and validates but does not act on yet:
//! `storage`, `tracing`, `otlp` and `runtime`. [`crate::Config::warnings`]
//! names each one that is set.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::duration::{ByteSize, Duration};
use crate::http::TlsConfig;

/// `storage`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// `storage.tsdb`.
    #[serde(default)]
    pub tsdb: Option<TsdbConfig>,
    /// `storage.exemplars`.
    #[serde(default)]
    pub exemplars: Option<ExemplarsConfig>,
}

/// `storage.tsdb`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, try_from = "TsdbFields")]
pub struct TsdbConfig {
    /// How far back out-of-order samples are accepted (0s).
    pub out_of_order_time_window: Duration,
    /// Share of stale series that triggers a compaction (0: off).
    pub stale_series_compaction_threshold: f64,
    /// Float chunk encoding (`xor`, `xor2`, or empty for the flag's choice).
    pub chunk_encoding_floats: String,
    /// Retention overrides.
    pub retention: RetentionConfig,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TsdbFields {
    #[serde(default)]
    out_of_order_time_window: Option<Duration>,
    #[serde(default)]
    stale_series_compaction_threshold: f64,
    #[serde(default)]
    chunk_encoding: Option<ChunkEncoding>,
    #[serde(default)]
    retention: Option<RetentionConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChunkEncoding {
    #[serde(default, deserialize_with = "crate::de::string")]
    floats: String,
}

impl TryFrom<TsdbFields> for TsdbConfig {
    type Error = String;

    fn try_from(f: TsdbFields) -> Result<TsdbConfig, String> {
        let floats = f.chunk_encoding.map(|c| c.floats).unwrap_or_default();
        if !["", "xor", "xor2"].contains(&floats.as_str()) {
            return Err(format!(
                "'storage.tsdb.chunk_encoding.floats' must be 'xor' or 'xor2', or the field must be omitted entirely, got \"{floats}\""
            ));
        }
        Ok(TsdbConfig {
            out_of_order_time_window: f.out_of_order_time_window.unwrap_or_default(),
            stale_series_compaction_threshold: f.stale_series_compaction_threshold,
            chunk_encoding_floats: floats,
            retention: f.retention.unwrap_or_default(),
        })
    }
}

/// `storage.tsdb.retention`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, try_from = "RetentionFields")]
pub struct RetentionConfig {
    /// Keep data this long (0: the flag's value).
    pub time: Duration,
    /// Keep at most this many bytes of blocks (0: no limit).
    pub size: ByteSize,
    /// Keep at most this share of the disk (0: no limit).
    pub percentage: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionFields {
    #[serde(default)]
    time: Option<Duration>,
    #[serde(default)]
    size: Option<ByteSize>,
    #[serde(default)]
    percentage: f64,
}

impl TryFrom<RetentionFields> for RetentionConfig {
    type Error = String;

    fn try_from(f: RetentionFields) -> Result<RetentionConfig, String> {
        let size = f.size.unwrap_or_default();
        if size.0 < 0 {
            return Err(format!(
                "'storage.tsdb.retention.size' must be greater than or equal to 0, got {size}"
            ));
        }
        if !(0.0..=100.0).contains(&f.percentage) {
            return Err(format!(
                "'storage.tsdb.retention.percentage' must be in the range [0, 100], got {}",
                f.percentage
            ));
        }
        Ok(RetentionConfig {
            time: f.time.unwrap_or_default(),
            size,
            percentage: f.percentage,
        })
    }
}

/// `storage.exemplars`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExemplarsConfig {
    /// Size of the exemplar ring buffer (100000; ≤ 0 disables it).
    #[serde(default = "default_max_exemplars")]
    pub max_exemplars: i64,
}

fn default_max_exemplars() -> i64 {
    100_000
}

/// `tracing`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, try_from = "TracingFields")]
pub struct TracingConfig {
    /// `grpc` (default) or `http`.
    pub client_type: String,
    /// The OTLP endpoint.
    pub endpoint: String,
    /// Share of traces sampled.
    pub sampling_fraction: f64,
    /// Plain-text connection.
    pub insecure: bool,
    /// TLS settings.
    pub tls_config: TlsConfig,
    /// Extra headers.
    pub headers: BTreeMap<String, String>,
    /// `gzip` or empty.
    pub compression: String,
    /// Export timeout.
    pub timeout: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TracingFields {
    #[serde(default)]
    client_type: Option<String>,
    #[serde(default, deserialize_with = "crate::de::string")]
    endpoint: String,
    #[serde(default)]
    sampling_fraction: f64,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    tls_config: TlsConfig,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "crate::de::string")]
    compression: String,
    #[serde(default)]
    timeout: Option<Duration>,
}

impl TryFrom<TracingFields> for TracingConfig {
    type Error = String;

    fn try_from(f: TracingFields) -> Result<TracingConfig, String> {
        let client_type = f.client_type.unwrap_or_else(|| "grpc".to_owned());
        if client_type != "grpc" && client_type != "http" {
            return Err(format!(
                "expected tracing client type to be to be http or grpc, but got {client_type}"
            ));
        }
        for h in f.headers.keys() {
            let lower = h.to_lowercase();
            if lower == "authorization" {
                return Err(
                    "custom authorization header configuration is not yet supported".to_owned(),
                );
            }
            if crate::remote::RESERVED.contains(&lower.as_str()) {
                return Err(format!("{h} is a reserved header. It must not be changed"));
            }
        }
        if f.endpoint.is_empty() {
            return Err("tracing endpoint must be set".to_owned());
        }
        if !f.compression.is_empty() && f.compression != "gzip" {
            return Err(format!(
                "invalid compression type {} provided, valid options: gzip",
                f.compression
            ));
        }
        Ok(TracingConfig {
            client_type,
            endpoint: f.endpoint,
            sampling_fraction: f.sampling_fraction,
            insecure: f.insecure,
            tls_config: f.tls_config,
            headers: f.headers,
            compression: f.compression,
            timeout: f.timeout.unwrap_or_default(),
        })
    }
}

/// `otlp` (the OTLP receiver's translation settings).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, try_from = "OtlpFields")]
pub struct OtlpConfig {
    /// Promote every resource attribute to a label.
    pub promote_all_resource_attributes: bool,
    /// Resource attributes promoted to labels.
    pub promote_resource_attributes: Vec<String>,
    /// Resource attributes not promoted (with `promote_all_*`).
    pub ignore_resource_attributes: Vec<String>,
    /// Name translation strategy.
    pub translation_strategy: String,
    /// Keep `service.*` attributes on `target_info`.
    pub keep_identifying_resource_attributes: bool,
    /// Convert histograms to NHCB.
    pub convert_histograms_to_nhcb: bool,
    /// Promote scope metadata to labels.
    pub promote_scope_metadata: bool,
    /// Prefix `key_` to labels starting with one `_` (true).
    pub label_name_underscore_sanitization: bool,
    /// Keep runs of underscores in label names (true).
    pub label_name_preserve_multiple_underscores: bool,
}

impl Default for OtlpConfig {
    fn default() -> OtlpConfig {
        OtlpConfig {
            promote_all_resource_attributes: false,
            promote_resource_attributes: Vec::new(),
            ignore_resource_attributes: Vec::new(),
            translation_strategy: "UnderscoreEscapingWithSuffixes".to_owned(),
            keep_identifying_resource_attributes: false,
            convert_histograms_to_nhcb: false,
            promote_scope_metadata: false,
            label_name_underscore_sanitization: true,
            label_name_preserve_multiple_underscores: true,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OtlpFields {
    #[serde(default)]
    promote_all_resource_attributes: bool,
    #[serde(default, deserialize_with = "crate::de::string_list")]
    promote_resource_attributes: Vec<String>,
    #[serde(default, deserialize_with = "crate::de::string_list")]
    ignore_resource_attributes: Vec<String>,
    #[serde(default, deserialize_with = "crate::de::string")]
    translation_strategy: String,
    #[serde(default)]
    keep_identifying_resource_attributes: bool,
    #[serde(default)]
    convert_histograms_to_nhcb: bool,
    #[serde(default)]
    promote_scope_metadata: bool,
    #[serde(default)]
    label_name_underscore_sanitization: Option<bool>,
    #[serde(default)]
    label_name_preserve_multiple_underscores: Option<bool>,
}

fn sanitize_attributes(attrs: &mut [String], adjective: &str) -> Result<(), String> {
    let mut errs = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for a in attrs.iter_mut() {
        let t = a.trim().to_owned();
        if t.is_empty() {
            errs.push(format!("empty {adjective} OTel resource attribute"));
            continue;
        }
        if seen.contains(&t) {
            errs.push(format!(
                "duplicated {adjective} OTel resource attribute \"{t}\""
            ));
            continue;
        }
        seen.push(t.clone());
        *a = t;
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("\n"))
    }
}

impl TryFrom<OtlpFields> for OtlpConfig {
    type Error = String;

    fn try_from(mut f: OtlpFields) -> Result<OtlpConfig, String> {
        if f.promote_all_resource_attributes {
            if !f.promote_resource_attributes.is_empty() {
                return Err("'promote_all_resource_attributes' and 'promote_resource_attributes' cannot be configured simultaneously".to_owned());
            }
            sanitize_attributes(&mut f.ignore_resource_attributes, "ignored")
                .map_err(|e| format!("invalid 'ignore_resource_attributes': {e}"))?;
        } else {
            if !f.ignore_resource_attributes.is_empty() {
                return Err("'ignore_resource_attributes' cannot be configured unless 'promote_all_resource_attributes' is true".to_owned());
            }
            sanitize_attributes(&mut f.promote_resource_attributes, "promoted")
                .map_err(|e| format!("invalid 'promote_resource_attributes': {e}"))?;
        }
        let d = OtlpConfig::default();
        Ok(OtlpConfig {
            promote_all_resource_attributes: f.promote_all_resource_attributes,
            promote_resource_attributes: f.promote_resource_attributes,
            ignore_resource_attributes: f.ignore_resource_attributes,
            translation_strategy: if f.translation_strategy.is_empty() {
                d.translation_strategy
            } else {
                f.translation_strategy
            },
            keep_identifying_resource_attributes: f.keep_identifying_resource_attributes,
            convert_histograms_to_nhcb: f.convert_histograms_to_nhcb,
            promote_scope_metadata: f.promote_scope_metadata,
            label_name_underscore_sanitization: f
                .label_name_underscore_sanitization
                .unwrap_or(true),
            label_name_preserve_multiple_underscores: f
                .label_name_preserve_multiple_underscores
                .unwrap_or(true),
        })
    }
}

/// `runtime`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Go's GC target percentage (meaningless to Ember; accepted).
    #[serde(default)]
    pub gogc: Option<i64>,
}
