//! `alerting`: alert relabeling and the Alertmanagers to send to.

use model::labels::NameValidation;
use model::relabel;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::discovery::{Discovery, with_discovery};
use crate::duration::Duration;
use crate::error::{Invalid, Location};
use crate::http::HttpClientConfig;
use crate::remote::SigV4;
use crate::scrape::{check_target_address, validate_relabels};

/// `alerting` as written.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAlerting {
    #[serde(default, deserialize_with = "crate::de::null_list")]
    alert_relabel_configs: Vec<Option<Spanned<relabel::Config>>>,
    #[serde(default, deserialize_with = "crate::de::null_list")]
    alertmanagers: Vec<Option<Spanned<RawAlertmanager>>>,
}

with_discovery! {
    /// One `alertmanagers` entry as written.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawAlertmanager {
        #[serde(default)]
        sigv4: Option<SigV4>,
        #[serde(default, deserialize_with = "crate::de::string")]
        scheme: String,
        #[serde(default, deserialize_with = "crate::de::string")]
        path_prefix: String,
        #[serde(default)]
        timeout: Option<Duration>,
        #[serde(default)]
        api_version: Option<String>,
        #[serde(default, deserialize_with = "crate::de::null_list")]
        relabel_configs: Vec<Option<Spanned<relabel::Config>>>,
        #[serde(default, deserialize_with = "crate::de::null_list")]
        alert_relabel_configs: Vec<Option<Spanned<relabel::Config>>>,
    }
}

/// The validated `alerting` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AlertingConfig {
    /// Relabeling applied to every alert (after external labels).
    pub alert_relabel_configs: Vec<relabel::Config>,
    /// Where alerts go.
    pub alertmanagers: Vec<AlertmanagerConfig>,
}

/// How to discover and talk to a set of Alertmanagers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlertmanagerConfig {
    /// HTTP client.
    pub http: HttpClientConfig,
    /// AWS SigV4 signing.
    pub sigv4: Option<SigV4>,
    /// `http` (default) or `https`.
    pub scheme: String,
    /// Prefix for the API path.
    pub path_prefix: String,
    /// Send timeout (10s).
    pub timeout: Duration,
    /// `v2` (the only version Prometheus 3.x speaks).
    pub api_version: String,
    /// Discovery of the Alertmanagers.
    pub discovery: Discovery,
    /// Relabeling of discovered Alertmanagers.
    pub relabel_configs: Vec<relabel::Config>,
    /// Relabeling of alerts sent to these Alertmanagers.
    pub alert_relabel_configs: Vec<relabel::Config>,
}

fn collect(
    list: Vec<Option<Spanned<relabel::Config>>>,
    null: &str,
    at: Option<Location>,
) -> Result<Vec<(relabel::Config, Option<Location>)>, Invalid> {
    list.into_iter()
        .map(|r| {
            r.map(|s| (s.value, Location::from_saphyr(s.referenced)))
                .ok_or_else(|| Invalid::new(at, null))
        })
        .collect()
}

impl RawAlerting {
    pub(crate) fn validate(
        self,
        scheme: NameValidation,
        at: Option<Location>,
    ) -> Result<AlertingConfig, Invalid> {
        let arc = collect(
            self.alert_relabel_configs,
            "empty or null alert relabeling rule",
            at,
        )?;
        let mut alertmanagers = Vec::new();
        let mut raw = Vec::new();
        for am in self.alertmanagers {
            let Some(am) = am else {
                return Err(Invalid::new(
                    at,
                    "empty or null alertmanager config section",
                ));
            };
            let am_at = Location::from_saphyr(am.referenced);
            raw.push(am.value.unmarshal(am_at)?);
        }
        let alert_relabel_configs = validate_relabels(arc, scheme)?;
        for (mut am, rc, arc) in raw {
            am.alert_relabel_configs = validate_relabels(arc, scheme)?;
            am.relabel_configs = validate_relabels(rc, scheme)?;
            alertmanagers.push(am);
        }
        Ok(AlertingConfig {
            alert_relabel_configs,
            alertmanagers,
        })
    }
}

type Relabels = Vec<(relabel::Config, Option<Location>)>;

impl RawAlertmanager {
    /// `AlertmanagerConfig.UnmarshalYAML`.
    fn unmarshal(
        mut self,
        at: Option<Location>,
    ) -> Result<(AlertmanagerConfig, Relabels, Relabels), Invalid> {
        let err = |m: String| Invalid::new(at, m);
        let api_version = self.api_version.take().unwrap_or_else(|| "v2".to_owned());
        if api_version != "v2" {
            return Err(err(format!(
                "expected Alertmanager api version to be one of [v2] but got {api_version}"
            )));
        }
        let discovery = self.take_discovery().map_err(err)?;
        let http = self.take_http().validate(true).map_err(err)?;
        if http.has_auth() && self.sigv4.is_some() {
            return Err(err(
                "at most one of basic_auth, authorization, oauth2, & sigv4 must be configured"
                    .to_owned(),
            ));
        }
        if self.relabel_configs.is_empty() {
            for sc in &discovery.static_configs {
                for t in &sc.targets {
                    check_target_address(t).map_err(err)?;
                }
            }
        }
        let rc = collect(
            std::mem::take(&mut self.relabel_configs),
            "empty or null Alertmanager target relabeling rule",
            at,
        )?;
        let arc = collect(
            std::mem::take(&mut self.alert_relabel_configs),
            "empty or null Alertmanager alert relabeling rule",
            at,
        )?;
        Ok((
            AlertmanagerConfig {
                http,
                sigv4: self.sigv4.take(),
                scheme: if self.scheme.is_empty() {
                    "http".to_owned()
                } else {
                    std::mem::take(&mut self.scheme)
                },
                path_prefix: std::mem::take(&mut self.path_prefix),
                timeout: self.timeout.unwrap_or(Duration::from_secs(10)),
                api_version,
                discovery,
                relabel_configs: Vec::new(),
                alert_relabel_configs: Vec::new(),
            },
            rc,
            arc,
        ))
    }
}
