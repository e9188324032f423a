//! `remote_write` and `remote_read`, with the queue and metadata settings
//! and the cloud authentication blocks (`sigv4`, `azuread`, `google_iam`).

use std::collections::BTreeMap;

use model::labels::NameValidation;
use model::relabel;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::Secret;
use crate::duration::Duration;
use crate::error::{Invalid, Location};
use crate::http::{HttpClientConfig, with_http_config};
use crate::scrape::validate_relabels;
use crate::url::Url;

/// AWS Signature Version 4 signing (`sigv4`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SigV4 {
    /// AWS region.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub region: String,
    /// Access key.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub access_key: String,
    /// Secret key.
    #[serde(default)]
    pub secret_key: Secret,
    /// Named profile.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub profile: String,
    /// Role to assume.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub role_arn: String,
    /// External id for the role.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub external_id: String,
    /// Use the FIPS STS endpoint.
    #[serde(default)]
    pub use_fips_sts_endpoint: bool,
    /// Service name to sign for.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub service_name: String,
}

/// Azure AD authentication (`azuread`), kept as written.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AzureAd {
    /// `AzurePublic`, `AzureChina` or `AzureGovernment`.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub cloud: String,
    /// Managed identity settings.
    #[serde(default)]
    pub managed_identity: Option<crate::Yaml>,
    /// OAuth settings.
    #[serde(default)]
    pub oauth: Option<crate::Yaml>,
    /// SDK settings.
    #[serde(default)]
    pub sdk: Option<crate::Yaml>,
    /// Workload identity settings.
    #[serde(default)]
    pub workload_identity: Option<crate::Yaml>,
    /// Token scope.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub scope: String,
}

/// Google IAM authentication (`google_iam`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleIam {
    /// Service account credentials file.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub credentials_file: String,
}

/// `queue_config`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Samples buffered per shard (10000).
    pub capacity: i64,
    /// Most shards (50).
    pub max_shards: i64,
    /// Fewest shards (1).
    pub min_shards: i64,
    /// Samples per request (2000).
    pub max_samples_per_send: i64,
    /// Longest wait before sending a partial batch (5s).
    pub batch_send_deadline: Duration,
    /// First retry delay (30ms).
    pub min_backoff: Duration,
    /// Longest retry delay (5s).
    pub max_backoff: Duration,
    /// Retry on HTTP 429.
    #[serde(rename = "retry_on_http_429")]
    pub retry_on_rate_limit: bool,
    /// Drop samples older than this (0: never).
    pub sample_age_limit: Duration,
}

impl Default for QueueConfig {
    fn default() -> QueueConfig {
        QueueConfig {
            capacity: 10000,
            max_shards: 50,
            min_shards: 1,
            max_samples_per_send: 2000,
            batch_send_deadline: Duration::from_secs(5),
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(5),
            retry_on_rate_limit: false,
            sample_age_limit: Duration::ZERO,
        }
    }
}

impl QueueConfig {
    fn validate(&self) -> Result<(), String> {
        let m = if self.max_shards <= 0 {
            "remote write queue max_shards must be positive"
        } else if self.min_shards <= 0 {
            "remote write queue min_shards must be positive"
        } else if self.min_shards > self.max_shards {
            "remote write queue min_shards must not be greater than max_shards"
        } else if self.max_samples_per_send <= 0 {
            "remote write queue max_samples_per_send must be positive"
        } else if self.capacity <= 0 {
            "remote write queue capacity must be positive"
        } else if self.max_backoff < self.min_backoff {
            "remote write queue max_backoff must not be less than min_backoff"
        } else {
            return Ok(());
        };
        Err(m.to_owned())
    }
}

/// `metadata_config`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetadataConfig {
    /// Send metric metadata (true).
    pub send: bool,
    /// How often (1m).
    pub send_interval: Duration,
    /// Entries per request (2000).
    pub max_samples_per_send: i64,
}

impl Default for MetadataConfig {
    fn default() -> MetadataConfig {
        MetadataConfig {
            send: true,
            send_interval: Duration::from_secs(60),
            max_samples_per_send: 2000,
        }
    }
}

/// The remote write protocol message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ProtobufMessage {
    /// Remote write 1.0: `prometheus.WriteRequest`.
    #[serde(rename = "prometheus.WriteRequest")]
    V1,
    /// Remote write 2.0: `io.prometheus.write.v2.Request`.
    #[serde(rename = "io.prometheus.write.v2.Request")]
    V2,
}

with_http_config! {
    /// One `remote_write` entry as written.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct RawRemoteWrite {
        #[serde(default)]
        url: Option<Url>,
        #[serde(default)]
        remote_timeout: Option<Duration>,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        #[serde(default, deserialize_with = "crate::de::null_list")]
        write_relabel_configs: Vec<Option<Spanned<relabel::Config>>>,
        #[serde(default, deserialize_with = "crate::de::string")]
        name: String,
        #[serde(default)]
        send_exemplars: bool,
        #[serde(default)]
        send_native_histograms: bool,
        #[serde(default)]
        round_robin_dns: bool,
        #[serde(default, deserialize_with = "crate::de::string")]
        protobuf_message: String,
        #[serde(default)]
        failed_request_logging: bool,
        #[serde(default)]
        queue_config: Option<QueueConfig>,
        #[serde(default)]
        metadata_config: Option<MetadataConfig>,
        #[serde(default)]
        sigv4: Option<SigV4>,
        #[serde(default)]
        azuread: Option<AzureAd>,
        #[serde(default)]
        google_iam: Option<GoogleIam>,
    }
}

/// A validated `remote_write` entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RemoteWriteConfig {
    /// The receiver.
    pub url: Url,
    /// Request timeout (30s).
    pub remote_timeout: Duration,
    /// Extra headers.
    pub headers: BTreeMap<String, String>,
    /// Relabeling before sending.
    pub write_relabel_configs: Vec<relabel::Config>,
    /// Name for metrics and logs (empty: derived from a hash).
    pub name: String,
    /// Send exemplars.
    pub send_exemplars: bool,
    /// Send native histograms.
    pub send_native_histograms: bool,
    /// Spread requests over the resolved IPs.
    pub round_robin_dns: bool,
    /// Protocol message.
    pub protobuf_message: ProtobufMessage,
    /// Log failed remote write 2.0 requests.
    pub failed_request_logging: bool,
    /// Queue tuning.
    pub queue_config: QueueConfig,
    /// Metadata sending.
    pub metadata_config: MetadataConfig,
    /// HTTP client (HTTP/2 off by default).
    pub http: HttpClientConfig,
    /// AWS SigV4.
    pub sigv4: Option<SigV4>,
    /// Azure AD.
    pub azuread: Option<AzureAd>,
    /// Google IAM.
    pub google_iam: Option<GoogleIam>,
}

/// Headers Prometheus sets itself.
pub(crate) const RESERVED: [&str; 16] = [
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "accept-encoding",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

fn validate_headers(headers: &BTreeMap<String, String>) -> Result<(), String> {
    for h in headers.keys() {
        let lower = h.to_lowercase();
        if lower == "authorization" {
            return Err("authorization header must be changed via the basic_auth, authorization, oauth2, sigv4, azuread or google_iam parameter".to_owned());
        }
        if RESERVED.contains(&lower.as_str()) {
            return Err(format!("{h} is a reserved header. It must not be changed"));
        }
    }
    Ok(())
}

impl RawRemoteWrite {
    /// `RemoteWriteConfig.UnmarshalYAML`; relabel steps are returned for
    /// validation under the global naming scheme.
    pub(crate) fn validate(
        mut self,
        scheme: NameValidation,
        at: Option<Location>,
    ) -> Result<RemoteWriteConfig, Invalid> {
        let err = |m: String| Invalid::new(at, m);
        let url = self
            .url
            .take()
            .ok_or_else(|| err("url for remote_write is empty".to_owned()))?;
        let mut relabels = Vec::new();
        for r in std::mem::take(&mut self.write_relabel_configs) {
            let r = r.ok_or_else(|| {
                err("empty or null relabeling rule in remote write config".to_owned())
            })?;
            relabels.push((r.value, Location::from_saphyr(r.referenced)));
        }
        validate_headers(&self.headers).map_err(err)?;
        let protobuf_message = match self.protobuf_message.as_str() {
            "" | "prometheus.WriteRequest" => ProtobufMessage::V1,
            "io.prometheus.write.v2.Request" => ProtobufMessage::V2,
            other => {
                return Err(err(format!(
                    "invalid protobuf_message value: unknown remote write protobuf message {other}, supported: prometheus.WriteRequest, io.prometheus.write.v2.Request"
                )));
            }
        };
        let http = self.take_http().validate(false).map_err(err)?;
        let queue_config = self.queue_config.take().unwrap_or_default();
        queue_config.validate().map_err(err)?;
        let mut auth = Vec::new();
        for (set, name) in [
            (http.basic_auth.is_some(), "basic_auth"),
            (http.authorization.is_some(), "authorization"),
            (http.oauth2.is_some(), "oauth2"),
            (self.sigv4.is_some(), "sigv4"),
            (self.azuread.is_some(), "azuread"),
            (self.google_iam.is_some(), "google_iam"),
        ] {
            if set {
                auth.push(name);
            }
        }
        if auth.len() > 1 {
            return Err(err(format!(
                "at most one of basic_auth, authorization, oauth2, sigv4, azuread or google_iam must be configured. Currently configured: [{}]",
                auth.join(" ")
            )));
        }
        let write_relabel_configs = validate_relabels(relabels, scheme)?;
        Ok(RemoteWriteConfig {
            url,
            remote_timeout: self.remote_timeout.unwrap_or(Duration::from_secs(30)),
            headers: std::mem::take(&mut self.headers),
            write_relabel_configs,
            name: std::mem::take(&mut self.name),
            send_exemplars: self.send_exemplars,
            send_native_histograms: self.send_native_histograms,
            round_robin_dns: self.round_robin_dns,
            protobuf_message,
            failed_request_logging: self.failed_request_logging,
            queue_config,
            metadata_config: self.metadata_config.take().unwrap_or_default(),
            http,
            sigv4: self.sigv4.take(),
            azuread: self.azuread.take(),
            google_iam: self.google_iam.take(),
        })
    }
}

with_http_config! {
    /// One `remote_read` entry as written.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct RawRemoteRead {
        #[serde(default, rename = "url")]
        read_url: Option<Url>,
        #[serde(default)]
        remote_timeout: Option<Duration>,
        #[serde(default)]
        chunked_read_limit: Option<u64>,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        #[serde(default)]
        read_recent: bool,
        #[serde(default, deserialize_with = "crate::de::string")]
        name: String,
        #[serde(default, deserialize_with = "crate::discovery::de_label_set")]
        required_matchers: BTreeMap<String, String>,
        #[serde(default)]
        filter_external_labels: Option<bool>,
    }
}

/// A validated `remote_read` entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RemoteReadConfig {
    /// The endpoint.
    pub url: Url,
    /// Request timeout (1m).
    pub remote_timeout: Duration,
    /// Largest streamed frame (50MB).
    pub chunked_read_limit: u64,
    /// Extra headers.
    pub headers: BTreeMap<String, String>,
    /// Also read ranges local storage holds.
    pub read_recent: bool,
    /// Name for metrics and logs.
    pub name: String,
    /// Equality matchers a query must have to be sent here.
    pub required_matchers: BTreeMap<String, String>,
    /// Add external labels as matchers (true).
    pub filter_external_labels: bool,
    /// HTTP client.
    pub http: HttpClientConfig,
}

impl RawRemoteRead {
    /// `RemoteReadConfig.UnmarshalYAML`.
    pub(crate) fn validate(mut self, at: Option<Location>) -> Result<RemoteReadConfig, Invalid> {
        let err = |m: String| Invalid::new(at, m);
        let url = self
            .read_url
            .take()
            .ok_or_else(|| err("url for remote_read is empty".to_owned()))?;
        validate_headers(&self.headers).map_err(err)?;
        let http = self.take_http().validate(true).map_err(err)?;
        Ok(RemoteReadConfig {
            url,
            remote_timeout: self.remote_timeout.unwrap_or(Duration::from_secs(60)),
            chunked_read_limit: self
                .chunked_read_limit
                .filter(|l| *l != 0)
                .unwrap_or(50_000_000),
            headers: std::mem::take(&mut self.headers),
            read_recent: self.read_recent,
            name: std::mem::take(&mut self.name),
            required_matchers: std::mem::take(&mut self.required_matchers),
            filter_external_labels: self.filter_external_labels.unwrap_or(true),
            http,
        })
    }
}
