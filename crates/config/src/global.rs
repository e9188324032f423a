//! The `global` section and the names shared with scrape configs
//! (scrape protocols, validation and escaping schemes).

use std::collections::BTreeMap;
use std::fmt;

use model::labels::NameValidation;
use serde::{Deserialize, Serialize};

use crate::duration::{ByteSize, Duration};

/// A scrape protocol, in `scrape_protocols` / `fallback_scrape_protocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum ScrapeProtocol {
    /// `PrometheusProto`.
    PrometheusProto,
    /// `PrometheusText0.0.4`.
    PrometheusText0_0_4,
    /// `PrometheusText1.0.0`.
    PrometheusText1_0_0,
    /// `OpenMetricsText0.0.1`.
    OpenMetricsText0_0_1,
    /// `OpenMetricsText1.0.0`.
    OpenMetricsText1_0_0,
}

impl ScrapeProtocol {
    /// Every protocol, sorted by name (the order of Prometheus's error text).
    pub const ALL: [ScrapeProtocol; 5] = [
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::PrometheusProto,
        ScrapeProtocol::PrometheusText0_0_4,
        ScrapeProtocol::PrometheusText1_0_0,
    ];

    /// Prometheus 3.x's default order.
    pub const DEFAULT: [ScrapeProtocol; 4] = [
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::PrometheusText1_0_0,
        ScrapeProtocol::PrometheusText0_0_4,
    ];

    /// The default when native histograms are scraped: protobuf first.
    pub const PROTO_FIRST: [ScrapeProtocol; 5] = [
        ScrapeProtocol::PrometheusProto,
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::PrometheusText1_0_0,
        ScrapeProtocol::PrometheusText0_0_4,
    ];

    /// The name used in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => "PrometheusProto",
            ScrapeProtocol::PrometheusText0_0_4 => "PrometheusText0.0.4",
            ScrapeProtocol::PrometheusText1_0_0 => "PrometheusText1.0.0",
            ScrapeProtocol::OpenMetricsText0_0_1 => "OpenMetricsText0.0.1",
            ScrapeProtocol::OpenMetricsText1_0_0 => "OpenMetricsText1.0.0",
        }
    }

    /// The `Accept` media type with parameters.
    pub fn header(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => {
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
            }
            ScrapeProtocol::PrometheusText0_0_4 => "text/plain;version=0.0.4",
            ScrapeProtocol::PrometheusText1_0_0 => "text/plain;version=1.0.0",
            ScrapeProtocol::OpenMetricsText0_0_1 => "application/openmetrics-text;version=0.0.1",
            ScrapeProtocol::OpenMetricsText1_0_0 => "application/openmetrics-text;version=1.0.0",
        }
    }

    /// Parses a name (case-sensitive), with Prometheus's error text.
    pub fn parse(s: &str) -> Result<ScrapeProtocol, String> {
        ScrapeProtocol::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = ScrapeProtocol::ALL.iter().map(|p| p.as_str()).collect();
                format!(
                    "unknown scrape protocol {s}, supported: [{}]",
                    names.join(" ")
                )
            })
    }
}

impl fmt::Display for ScrapeProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks a `scrape_protocols` list: not empty, known names, no
/// duplicates (ignoring case).
pub(crate) fn validate_protocols(list: &[String]) -> Result<Vec<ScrapeProtocol>, String> {
    if list.is_empty() {
        return Err("scrape_protocols cannot be empty".to_owned());
    }
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for p in list {
        let lower = p.to_lowercase();
        if seen.contains(&lower) {
            return Err(format!(
                "duplicated protocol in scrape_protocols, got [{}]",
                list.join(" ")
            ));
        }
        out.push(ScrapeProtocol::parse(p).map_err(|e| format!("scrape_protocols: {e}"))?);
        seen.push(lower);
    }
    Ok(out)
}

/// How scraped metric names are escaped when UTF-8 is not allowed
/// (`metric_name_escaping_scheme`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum EscapingScheme {
    /// `allow-utf-8`: no escaping.
    #[serde(rename = "allow-utf-8")]
    AllowUtf8,
    /// `underscores`.
    #[serde(rename = "underscores")]
    Underscores,
    /// `dots`.
    #[serde(rename = "dots")]
    Dots,
    /// `values`.
    #[serde(rename = "values")]
    Values,
}

impl EscapingScheme {
    /// Parses a scheme name.
    pub fn parse(s: &str) -> Option<EscapingScheme> {
        match s {
            "allow-utf-8" => Some(EscapingScheme::AllowUtf8),
            "underscores" => Some(EscapingScheme::Underscores),
            "dots" => Some(EscapingScheme::Dots),
            "values" => Some(EscapingScheme::Values),
            _ => None,
        }
    }
}

/// Parses `metric_name_validation_scheme`: `utf8`, `legacy`, or empty
/// (unset). Prometheus's global section treats any other value as unset.
pub(crate) fn parse_validation(s: &str) -> Option<NameValidation> {
    match s {
        "utf8" => Some(NameValidation::Utf8),
        "legacy" => Some(NameValidation::Legacy),
        _ => None,
    }
}

/// Serializes a naming scheme as written in configuration files.
pub(crate) fn ser_validation<S: serde::Serializer>(
    v: &NameValidation,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(match v {
        NameValidation::Utf8 => "utf8",
        NameValidation::Legacy => "legacy",
    })
}

/// `global` as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGlobal {
    #[serde(default)]
    pub(crate) scrape_interval: Option<Duration>,
    #[serde(default)]
    pub(crate) scrape_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "crate::de::string_list")]
    pub(crate) scrape_protocols: Vec<String>,
    #[serde(default)]
    pub(crate) evaluation_interval: Option<Duration>,
    #[serde(default)]
    pub(crate) rule_query_offset: Option<Duration>,
    #[serde(default, deserialize_with = "crate::de::string")]
    pub(crate) query_log_file: String,
    #[serde(default, deserialize_with = "crate::de::string")]
    pub(crate) scrape_failure_log_file: String,
    #[serde(default)]
    pub(crate) external_labels: Option<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    pub(crate) body_size_limit: Option<ByteSize>,
    #[serde(default, deserialize_with = "crate::de::uint")]
    pub(crate) sample_limit: Option<u64>,
    #[serde(default, deserialize_with = "crate::de::uint")]
    pub(crate) target_limit: Option<u64>,
    #[serde(default, deserialize_with = "crate::de::uint")]
    pub(crate) label_limit: Option<u64>,
    #[serde(default, deserialize_with = "crate::de::uint")]
    pub(crate) label_name_length_limit: Option<u64>,
    #[serde(default, deserialize_with = "crate::de::uint")]
    pub(crate) label_value_length_limit: Option<u64>,
    #[serde(default, deserialize_with = "crate::de::uint")]
    pub(crate) keep_dropped_targets: Option<u64>,
    #[serde(default, deserialize_with = "crate::de::string")]
    pub(crate) metric_name_validation_scheme: String,
    #[serde(default, deserialize_with = "crate::de::string")]
    pub(crate) metric_name_escaping_scheme: String,
    #[serde(default)]
    pub(crate) scrape_native_histograms: Option<bool>,
    #[serde(default)]
    pub(crate) convert_classic_histograms_to_nhcb: Option<bool>,
    #[serde(default)]
    pub(crate) always_scrape_classic_histograms: Option<bool>,
    #[serde(default)]
    pub(crate) extra_scrape_metrics: Option<bool>,
}

/// The validated `global` section, defaults applied.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GlobalConfig {
    /// Default scrape interval (1m).
    pub scrape_interval: Duration,
    /// Default scrape timeout (10s, at most the interval).
    pub scrape_timeout: Duration,
    /// Protocols to negotiate; `None` means "per job, by whether native
    /// histograms are scraped".
    pub scrape_protocols: Option<Vec<ScrapeProtocol>>,
    /// Rule evaluation interval (1m).
    pub evaluation_interval: Duration,
    /// Rule query offset (0s).
    pub rule_query_offset: Duration,
    /// PromQL query log.
    pub query_log_file: String,
    /// Scrape failure log.
    pub scrape_failure_log_file: String,
    /// Labels added to every series and alert leaving this server, after
    /// `$VAR`/`${VAR}` expansion.
    pub external_labels: BTreeMap<String, String>,
    /// Default body size limit (0: none).
    pub body_size_limit: ByteSize,
    /// Default sample limit (0: none).
    pub sample_limit: u64,
    /// Default target limit (0: none).
    pub target_limit: u64,
    /// Default label count limit (0: none).
    pub label_limit: u64,
    /// Default label name length limit (0: none).
    pub label_name_length_limit: u64,
    /// Default label value length limit (0: none).
    pub label_value_length_limit: u64,
    /// Default number of dropped targets kept for the UI (0: all).
    pub keep_dropped_targets: u64,
    /// Name validation (UTF-8 by default in 3.x).
    #[serde(serialize_with = "ser_validation")]
    pub metric_name_validation_scheme: NameValidation,
    /// Escaping scheme; `None` means derived from the validation scheme.
    pub metric_name_escaping_scheme: Option<EscapingScheme>,
    /// Scrape native histograms (false).
    pub scrape_native_histograms: bool,
    /// Convert classic histograms to NHCB (false).
    pub convert_classic_histograms_to_nhcb: bool,
    /// Keep scraping classic histograms alongside native ones (false).
    pub always_scrape_classic_histograms: bool,
    /// Store `scrape_timeout_seconds` and friends (false).
    pub extra_scrape_metrics: bool,
}

impl Default for GlobalConfig {
    fn default() -> GlobalConfig {
        GlobalConfig {
            scrape_interval: Duration::from_secs(60),
            scrape_timeout: Duration::from_secs(10),
            scrape_protocols: None,
            evaluation_interval: Duration::from_secs(60),
            rule_query_offset: Duration::ZERO,
            query_log_file: String::new(),
            scrape_failure_log_file: String::new(),
            external_labels: BTreeMap::new(),
            body_size_limit: ByteSize(0),
            sample_limit: 0,
            target_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            keep_dropped_targets: 0,
            metric_name_validation_scheme: NameValidation::Utf8,
            metric_name_escaping_scheme: None,
            scrape_native_histograms: false,
            convert_classic_histograms_to_nhcb: false,
            always_scrape_classic_histograms: false,
            extra_scrape_metrics: false,
        }
    }
}

/// Expands `$VAR` and `${VAR}` like Go's `os.Expand` (with `$$` giving
/// `$`), reading variables with `lookup`.
pub fn expand_env(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let mut start = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() {
            out.push_str(&s[start..i]);
            let (name, width) = shell_name(&s[i + 1..]);
            if name.is_empty() && width > 0 {
                // Invalid syntax (`${}`): swallow, as Go does.
            } else if name.is_empty() || name == "$" {
                out.push('$');
            } else {
                out.push_str(&lookup(name).unwrap_or_default());
            }
            i += 1 + width;
            start = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&s[start..]);
    out
}

/// Go's `getShellName`: the variable name after `$` and how many bytes
/// it took.
fn shell_name(s: &str) -> (&str, usize) {
    let b = s.as_bytes();
    if b[0] == b'{' {
        if b.len() > 2 && is_special(b[1]) && b[2] == b'}' {
            return (&s[1..2], 3);
        }
        for i in 1..b.len() {
            if b[i] == b'}' {
                if i == 1 {
                    return ("", 2);
                }
                return (&s[1..i], i + 1);
            }
        }
        return ("", 1);
    }
    if is_special(b[0]) {
        return (&s[0..1], 1);
    }
    let n = b
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    (&s[..n], n)
}

fn is_special(c: u8) -> bool {
    matches!(
        c,
        b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-' | b'0'..=b'9'
    )
}

impl RawGlobal {
    /// `GlobalConfig.UnmarshalYAML`: defaults, label checks, timeout check.
    pub(crate) fn validate(self) -> Result<GlobalConfig, String> {
        let d = GlobalConfig::default();
        let validation =
            parse_validation(&self.metric_name_validation_scheme).unwrap_or(NameValidation::Utf8);
        let mut external_labels = BTreeMap::new();
        for (name, value) in self.external_labels.unwrap_or_default() {
            if !validation.is_valid_label_name(&name) {
                return Err(format!(
                    "{} is not a valid label name",
                    model::matcher::go_quote(&name)
                ));
            }
            external_labels.insert(name, value.unwrap_or_default());
        }
        let scrape_interval = self
            .scrape_interval
            .filter(|d| !d.is_zero())
            .unwrap_or(d.scrape_interval);
        let timeout = self.scrape_timeout.unwrap_or(Duration::ZERO);
        if timeout > scrape_interval {
            return Err("global scrape timeout greater than scrape interval".to_owned());
        }
        let scrape_timeout = if timeout.is_zero() {
            d.scrape_timeout.min(scrape_interval)
        } else {
            timeout
        };
        let scrape_protocols = if self.scrape_protocols.is_empty() {
            None
        } else {
            Some(
                validate_protocols(&self.scrape_protocols)
                    .map_err(|e| format!("{e} for global config"))?,
            )
        };
        let metric_name_escaping_scheme = match self.metric_name_escaping_scheme.as_str() {
            "" => None,
            s => Some(EscapingScheme::parse(s).ok_or_else(|| {
                format!("unknown global name escaping method specified, must be one of 'allow-utf-8', 'underscores', 'dots', or 'values', got \"{s}\"")
            })?),
        };
        Ok(GlobalConfig {
            scrape_interval,
            scrape_timeout,
            scrape_protocols,
            evaluation_interval: self
                .evaluation_interval
                .filter(|d| !d.is_zero())
                .unwrap_or(d.evaluation_interval),
            rule_query_offset: self.rule_query_offset.unwrap_or_default(),
            query_log_file: self.query_log_file,
            scrape_failure_log_file: self.scrape_failure_log_file,
            external_labels,
            body_size_limit: self.body_size_limit.unwrap_or_default(),
            sample_limit: self.sample_limit.unwrap_or(0),
            target_limit: self.target_limit.unwrap_or(0),
            label_limit: self.label_limit.unwrap_or(0),
            label_name_length_limit: self.label_name_length_limit.unwrap_or(0),
            label_value_length_limit: self.label_value_length_limit.unwrap_or(0),
            keep_dropped_targets: self.keep_dropped_targets.unwrap_or(0),
            metric_name_validation_scheme: validation,
            metric_name_escaping_scheme,
            scrape_native_histograms: self.scrape_native_histograms.unwrap_or(false),
            convert_classic_histograms_to_nhcb: self
                .convert_classic_histograms_to_nhcb
                .unwrap_or(false),
            always_scrape_classic_histograms: self
                .always_scrape_classic_histograms
                .unwrap_or(false),
            extra_scrape_metrics: self.extra_scrape_metrics.unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_like_os_expand() {
        let env = |k: &str| match k {
            "HOST" => Some("h1".to_owned()),
            "1" => Some("one".to_owned()),
            _ => None,
        };
        for (input, want) in [
            ("$HOST", "h1"),
            ("${HOST}-x", "h1-x"),
            ("a$$b", "a$b"),
            ("$MISSING", ""),
            ("cost $", "cost $"),
            ("${}", ""),
            ("$1x", "onex"),
            ("plain", "plain"),
        ] {
            assert_eq!(expand_env(input, &env), want, "{input}");
        }
    }

    #[test]
    fn protocols() {
        assert_eq!(
            validate_protocols(&["PrometheusProto".into(), "prometheusproto".into()]),
            Err(
                "duplicated protocol in scrape_protocols, got [PrometheusProto prometheusproto]"
                    .into()
            )
        );
        assert_eq!(
            validate_protocols(&["X".into()]),
            Err("scrape_protocols: unknown scrape protocol X, supported: [OpenMetricsText0.0.1 OpenMetricsText1.0.0 PrometheusProto PrometheusText0.0.4 PrometheusText1.0.0]".into())
        );
    }
}
