//! Service discovery sections: `static_configs`, `file_sd_configs` and
//! `http_sd_configs` are parsed fully (Ember runs them); every other
//! `*_sd_configs` of Prometheus 3.x is parsed into [`OtherSd`], which keeps
//! the YAML, rejects unknown top-level keys like Prometheus, and is named in
//! [`crate::Config::warnings`].

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::de::Yaml;
use crate::duration::Duration;
use crate::http::{HttpClientConfig, with_http_config};
use crate::url::Url;

/// One `static_configs` entry: a target group.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    /// Target addresses (`host:port`).
    #[serde(default, deserialize_with = "crate::de::string_list")]
    pub targets: Vec<String>,
    /// Labels for every target of the group.
    #[serde(default, deserialize_with = "de_label_set")]
    pub labels: BTreeMap<String, String>,
}

/// A label set whose names must be valid (UTF-8 names under 3.x: not
/// empty) and values valid UTF-8, as `model.LabelSet` checks.
pub(crate) fn de_label_set<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let raw: Option<BTreeMap<String, Option<String>>> = Option::deserialize(d)?;
    let mut out = BTreeMap::new();
    for (k, v) in raw.unwrap_or_default() {
        if k.is_empty() {
            return Err(de::Error::custom(format!(
                "{} is not a valid label name",
                model::matcher::go_quote(&k)
            )));
        }
        out.insert(k, v.unwrap_or_default());
    }
    Ok(out)
}

/// `file_sd_configs` entry.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "FileSdFields")]
pub struct FileSdConfig {
    /// File patterns (`*` only in the last path segment; `.json`, `.yml`,
    /// `.yaml`).
    pub files: Vec<String>,
    /// Re-read interval (default 5m).
    pub refresh_interval: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSdFields {
    #[serde(default, deserialize_with = "crate::de::string_list")]
    files: Vec<String>,
    #[serde(default)]
    refresh_interval: Option<Duration>,
}

/// Whether `name` is a valid file_sd pattern:
/// `^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$`.
pub(crate) fn valid_file_sd_pattern(name: &str) -> bool {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    if !["json", "yml", "yaml", "JSON", "YML", "YAML"].contains(&ext) {
        return false;
    }
    match stem.find('*') {
        None => true,
        Some(i) => !stem[i + 1..].contains('/'),
    }
}

impl TryFrom<FileSdFields> for FileSdConfig {
    type Error = String;

    fn try_from(f: FileSdFields) -> Result<FileSdConfig, String> {
        if f.files.is_empty() {
            return Err(
                "file service discovery config must contain at least one path name".to_owned(),
            );
        }
        if let Some(bad) = f.files.iter().find(|n| !valid_file_sd_pattern(n)) {
            return Err(format!(
                "path name {} is not valid for file discovery",
                model::matcher::go_quote(bad)
            ));
        }
        Ok(FileSdConfig {
            files: f.files,
            refresh_interval: f.refresh_interval.unwrap_or(Duration::from_secs(300)),
        })
    }
}

with_http_config! {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct HttpSdFields {
        #[serde(default)]
        refresh_interval: Option<Duration>,
        #[serde(default, rename = "url", deserialize_with = "crate::de::string")]
        url_http_sd: String,
    }
}

/// `http_sd_configs` entry.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "HttpSdFields")]
pub struct HttpSdConfig {
    /// The endpoint returning target groups as JSON.
    pub url: Url,
    /// Poll interval (default 60s).
    pub refresh_interval: Duration,
    /// HTTP client settings.
    pub http: HttpClientConfig,
}

impl TryFrom<HttpSdFields> for HttpSdConfig {
    type Error = String;

    fn try_from(mut f: HttpSdFields) -> Result<HttpSdConfig, String> {
        if f.url_http_sd.is_empty() {
            return Err("URL is missing".to_owned());
        }
        let url = Url::parse(&f.url_http_sd).map_err(|e| e.to_string())?;
        if url.scheme != "http" && url.scheme != "https" {
            return Err("URL scheme must be 'http' or 'https'".to_owned());
        }
        if url.host.is_empty() {
            return Err("host is missing in URL".to_owned());
        }
        let http = f.take_http().validate(true)?;
        Ok(HttpSdConfig {
            url,
            refresh_interval: f.refresh_interval.unwrap_or(Duration::from_secs(60)),
            http,
        })
    }
}

/// A discovery mechanism Ember knows but does not run yet.
pub(crate) trait SdKind {
    /// The mechanism (`dns` for `dns_sd_configs`).
    const NAME: &'static str;
    /// The Go package named in unknown-field errors.
    const PACKAGE: &'static str;
    /// Its own top-level keys.
    const FIELDS: &'static [&'static str];
    /// Whether it also takes the inline HTTP client fields.
    const HTTP: bool;
}

/// One entry of a discovery section Ember parses but does not run yet: the
/// mechanism's name and the YAML as written.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OtherSd {
    /// The mechanism (`kubernetes` for `kubernetes_sd_configs`).
    pub mechanism: &'static str,
    /// The entry as written.
    pub yaml: Yaml,
}

/// Deserializes an [`OtherSd`] of kind `K`.
pub(crate) struct OtherSdOf<K>(pub(crate) OtherSd, PhantomData<K>);

impl<'de, K: SdKind> Deserialize<'de> for OtherSdOf<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<OtherSdOf<K>, D::Error> {
        struct V<K>(PhantomData<K>);
        impl<'de, K: SdKind> Visitor<'de> for V<K> {
            type Value = OtherSdOf<K>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a {}_sd_config mapping", K::NAME)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "empty or null section in {}_sd_configs",
                    K::NAME
                )))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    let known = K::FIELDS.contains(&k.as_str())
                        || (K::HTTP && crate::http::HTTP_FIELDS.contains(&k.as_str()));
                    if !known {
                        return Err(de::Error::custom(format!(
                            "field {k} not found in type {}.plain",
                            K::PACKAGE
                        )));
                    }
                    if out.iter().any(|(seen, _)| *seen == k) {
                        return Err(de::Error::custom(format!(
                            "field {k} already set in type {}.plain",
                            K::PACKAGE
                        )));
                    }
                    out.push((k, map.next_value::<Yaml>()?));
                }
                Ok(OtherSdOf(
                    OtherSd {
                        mechanism: K::NAME,
                        yaml: Yaml::Map(out),
                    },
                    PhantomData,
                ))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

macro_rules! other_sds {
    ($( $key:ident => $kind:ident, $name:literal, $pkg:literal, http: $http:literal, [$($f:literal),* $(,)?]; )*) => {
        $(
            #[doc = concat!("The `", $name, "` discovery mechanism.")]
            #[derive(Debug)]
            pub(crate) struct $kind;
            impl SdKind for $kind {
                const NAME: &'static str = $name;
                const PACKAGE: &'static str = $pkg;
                const FIELDS: &'static [&'static str] = &[$($f),*];
                const HTTP: bool = $http;
            }
        )*

    };
}

other_sds! {
    aws_sd_configs => Aws, "aws", "aws", http: true, ["role", "region", "endpoint", "access_key", "secret_key", "profile", "role_arn", "external_id", "refresh_interval", "port", "filters", "clusters"];
    azure_sd_configs => Azure, "azure", "azure", http: true, ["environment", "port", "subscription_id", "tenant_id", "client_id", "client_secret", "refresh_interval", "authentication_method", "resource_group"];
    consul_sd_configs => Consul, "consul", "consul", http: true, ["server", "path_prefix", "token", "datacenter", "namespace", "partition", "tag_separator", "scheme", "username", "password", "allow_stale", "refresh_interval", "services", "tags", "node_meta", "filter", "health_filter"];
    digitalocean_sd_configs => DigitalOcean, "digitalocean", "digitalocean", http: true, ["refresh_interval", "port", "role"];
    dns_sd_configs => Dns, "dns", "dns", http: false, ["names", "refresh_interval", "type", "port"];
    docker_sd_configs => Docker, "docker", "moby", http: true, ["host", "port", "filters", "host_networking_host", "refresh_interval", "match_first_network"];
    dockerswarm_sd_configs => DockerSwarm, "dockerswarm", "moby", http: true, ["host", "role", "port", "filters", "refresh_interval"];
    ec2_sd_configs => Ec2, "ec2", "aws", http: true, ["endpoint", "region", "access_key", "secret_key", "profile", "role_arn", "external_id", "refresh_interval", "port", "filters"];
    ecs_sd_configs => Ecs, "ecs", "aws", http: true, ["region", "endpoint", "access_key", "secret_key", "profile", "role_arn", "external_id", "clusters", "port", "refresh_interval", "request_concurrency"];
    elasticache_sd_configs => Elasticache, "elasticache", "aws", http: true, ["region", "endpoint", "access_key", "secret_key", "profile", "role_arn", "external_id", "clusters", "port", "refresh_interval", "request_concurrency"];
    eureka_sd_configs => Eureka, "eureka", "eureka", http: true, ["server", "refresh_interval"];
    gce_sd_configs => Gce, "gce", "gce", http: false, ["project", "zone", "filter", "refresh_interval", "port", "tag_separator"];
    hetzner_sd_configs => Hetzner, "hetzner", "hetzner", http: true, ["refresh_interval", "port", "role", "label_selector"];
    ionos_sd_configs => Ionos, "ionos", "ionos", http: true, ["datacenter_id", "refresh_interval", "port"];
    kubernetes_sd_configs => Kubernetes, "kubernetes", "kubernetes", http: true, ["api_server", "role", "kubeconfig_file", "namespaces", "selectors", "attach_metadata"];
    kuma_sd_configs => Kuma, "kuma", "xds", http: true, ["refresh_interval", "fetch_timeout", "server", "client_id"];
    lightsail_sd_configs => Lightsail, "lightsail", "aws", http: true, ["endpoint", "region", "access_key", "secret_key", "profile", "role_arn", "external_id", "refresh_interval", "port"];
    linode_sd_configs => Linode, "linode", "linode", http: true, ["refresh_interval", "port", "tag_separator", "region"];
    marathon_sd_configs => Marathon, "marathon", "marathon", http: true, ["servers", "refresh_interval", "auth_token", "auth_token_file"];
    msk_sd_configs => Msk, "msk", "aws", http: true, ["region", "endpoint", "access_key", "secret_key", "profile", "role_arn", "external_id", "clusters", "port", "refresh_interval", "request_concurrency"];
    nerve_sd_configs => Nerve, "nerve", "zookeeper", http: false, ["servers", "paths", "timeout"];
    nomad_sd_configs => Nomad, "nomad", "nomad", http: true, ["allow_stale", "namespace", "refresh_interval", "region", "server", "tag_separator"];
    oci_sd_configs => Oci, "oci", "oci", http: true, ["auth", "tenancy", "user", "fingerprint", "key_file", "key_passphrase", "key_passphrase_file", "region", "compartments", "port", "refresh_interval"];
    openstack_sd_configs => OpenStack, "openstack", "openstack", http: false, ["identity_endpoint", "username", "userid", "password", "project_name", "project_id", "domain_name", "domain_id", "application_credential_name", "application_credential_id", "application_credential_secret", "role", "region", "refresh_interval", "port", "all_tenants", "tls_config", "availability"];
    outscale_sd_configs => Outscale, "outscale", "outscale", http: true, ["endpoint", "region", "access_key", "secret_key", "secret_key_file", "refresh_interval", "port"];
    ovhcloud_sd_configs => OvhCloud, "ovhcloud", "ovhcloud", http: false, ["endpoint", "application_key", "application_secret", "consumer_key", "refresh_interval", "service"];
    puppetdb_sd_configs => PuppetDb, "puppetdb", "puppetdb", http: true, ["refresh_interval", "url", "query", "include_parameters", "port"];
    rds_sd_configs => Rds, "rds", "aws", http: true, ["region", "endpoint", "access_key", "secret_key", "profile", "role_arn", "external_id", "clusters", "port", "refresh_interval", "filters", "request_concurrency"];
    scaleway_sd_configs => Scaleway, "scaleway", "scaleway", http: true, ["project_id", "api_url", "zone", "access_key", "secret_key", "secret_key_file", "name_filter", "tags_filter", "refresh_interval", "port", "role"];
    serverset_sd_configs => Serverset, "serverset", "zookeeper", http: false, ["servers", "paths", "timeout"];
    stackit_sd_configs => Stackit, "stackit", "stackit", http: true, ["project", "refresh_interval", "port", "region", "endpoint", "service_account_key", "private_key", "service_account_key_path", "private_key_path", "credentials_file_path"];
    triton_sd_configs => Triton, "triton", "triton", http: false, ["account", "role", "dns_suffix", "endpoint", "groups", "port", "refresh_interval", "tls_config", "version"];
    uyuni_sd_configs => Uyuni, "uyuni", "uyuni", http: true, ["server", "username", "password", "entitlement", "separator", "refresh_interval"];
    vultr_sd_configs => Vultr, "vultr", "vultr", http: true, ["refresh_interval", "port"];
}

/// Declares a struct that takes the inline HTTP client fields and every
/// discovery section, and gives it `take_discovery()`.
macro_rules! with_discovery {
    ($(#[$m:meta])* $vis:vis struct $name:ident { $($body:tt)* }) => {
        $crate::http::with_http_config! {
            $(#[$m])*
            $vis struct $name {
                $($body)*
                #[serde(default, deserialize_with = "crate::de::null_list")]
                static_configs: Vec<Option<$crate::discovery::StaticConfig>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                file_sd_configs: Vec<Option<$crate::discovery::FileSdConfig>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                http_sd_configs: Vec<Option<$crate::discovery::HttpSdConfig>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                aws_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Aws>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                azure_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Azure>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                consul_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Consul>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                digitalocean_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::DigitalOcean>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                dns_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Dns>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                docker_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Docker>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                dockerswarm_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::DockerSwarm>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                ec2_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Ec2>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                ecs_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Ecs>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                elasticache_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Elasticache>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                eureka_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Eureka>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                gce_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Gce>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                hetzner_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Hetzner>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                ionos_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Ionos>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                kubernetes_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Kubernetes>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                kuma_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Kuma>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                lightsail_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Lightsail>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                linode_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Linode>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                marathon_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Marathon>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                msk_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Msk>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                nerve_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Nerve>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                nomad_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Nomad>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                oci_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Oci>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                openstack_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::OpenStack>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                outscale_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Outscale>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                ovhcloud_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::OvhCloud>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                puppetdb_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::PuppetDb>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                rds_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Rds>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                scaleway_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Scaleway>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                serverset_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Serverset>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                stackit_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Stackit>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                triton_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Triton>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                uyuni_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Uyuni>>,
                #[serde(default, deserialize_with = "crate::de::null_list")]
                vultr_sd_configs: Vec<$crate::discovery::OtherSdOf<$crate::discovery::Vultr>>,
            }
        }

        impl $name {
            /// Moves the discovery sections out.
            fn take_discovery(&mut self) -> Result<$crate::discovery::Discovery, String> {
                let mut out = $crate::discovery::Discovery::default();
                for (key, has_null) in [
                    ("static_configs", self.static_configs.iter().any(Option::is_none)),
                    ("file_sd_configs", self.file_sd_configs.iter().any(Option::is_none)),
                    ("http_sd_configs", self.http_sd_configs.iter().any(Option::is_none)),
                ] {
                    if has_null {
                        return Err(format!("empty or null section in {key}"));
                    }
                }
                out.static_configs = std::mem::take(&mut self.static_configs).into_iter().flatten().collect();
                out.file_sd_configs = std::mem::take(&mut self.file_sd_configs).into_iter().flatten().collect();
                out.http_sd_configs = std::mem::take(&mut self.http_sd_configs).into_iter().flatten().collect();
                out.other.extend(std::mem::take(&mut self.aws_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.azure_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.consul_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.digitalocean_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.dns_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.docker_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.dockerswarm_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.ec2_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.ecs_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.elasticache_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.eureka_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.gce_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.hetzner_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.ionos_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.kubernetes_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.kuma_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.lightsail_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.linode_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.marathon_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.msk_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.nerve_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.nomad_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.oci_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.openstack_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.outscale_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.ovhcloud_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.puppetdb_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.rds_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.scaleway_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.serverset_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.stackit_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.triton_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.uyuni_sd_configs).into_iter().map(|s| s.0));
                out.other.extend(std::mem::take(&mut self.vultr_sd_configs).into_iter().map(|s| s.0));
                Ok(out)
            }
        }
    };
}
pub(crate) use with_discovery;

/// The discovery sections of one scrape or Alertmanager config.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Discovery {
    /// `static_configs`.
    pub static_configs: Vec<StaticConfig>,
    /// `file_sd_configs`.
    pub file_sd_configs: Vec<FileSdConfig>,
    /// `http_sd_configs`.
    pub http_sd_configs: Vec<HttpSdConfig>,
    /// Every other `*_sd_configs` entry, kept as written.
    pub other: Vec<OtherSd>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_sd_patterns() {
        for ok in ["a.json", "dir/*.yml", "/x/y/foo*.YAML", "*.yaml"] {
            assert!(valid_file_sd_pattern(ok), "{ok}");
        }
        for bad in ["a.txt", "a", "*/x.json", "a*/b*.json", "x.json.bak"] {
            assert!(!valid_file_sd_pattern(bad), "{bad}");
        }
    }
}
