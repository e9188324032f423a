//! The shared HTTP client block (`<http_config>`): TLS, basic auth,
//! authorization, OAuth2, proxy, headers, redirects, HTTP/2.
//!
//! Scrape configs, HTTP-based service discovery, Alertmanager configs and
//! remote read/write take these fields inline; [`with_http_config!`] adds
//! them to such a struct and [`RawHttp::validate`] applies common's
//! `HTTPClientConfig.Validate` (legacy `bearer_token*` become
//! `authorization`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Secret;
use crate::url::Url;

/// TLS versions by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum TlsVersion {
    /// TLS 1.0.
    #[serde(rename = "TLS10")]
    Tls10,
    /// TLS 1.1.
    #[serde(rename = "TLS11")]
    Tls11,
    /// TLS 1.2.
    #[serde(rename = "TLS12")]
    Tls12,
    /// TLS 1.3.
    #[serde(rename = "TLS13")]
    Tls13,
}

impl<'de> Deserialize<'de> for TlsVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<TlsVersion, D::Error> {
        let s = crate::de::scalar_string(d)?;
        match s.as_str() {
            "TLS10" => Ok(TlsVersion::Tls10),
            "TLS11" => Ok(TlsVersion::Tls11),
            "TLS12" => Ok(TlsVersion::Tls12),
            "TLS13" => Ok(TlsVersion::Tls13),
            _ => Err(serde::de::Error::custom(format!(
                "unknown TLS version: {s}"
            ))),
        }
    }
}

/// `tls_config`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, try_from = "TlsConfigFields")]
pub struct TlsConfig {
    /// Inline CA certificate (PEM).
    pub ca: String,
    /// Inline client certificate (PEM).
    pub cert: String,
    /// Inline client key (PEM).
    pub key: Secret,
    /// CA certificate file.
    pub ca_file: String,
    /// Client certificate file.
    pub cert_file: String,
    /// Client key file.
    pub key_file: String,
    /// Server name for SNI and verification.
    pub server_name: String,
    /// Skip server certificate verification.
    pub insecure_skip_verify: bool,
    /// Lowest TLS version.
    pub min_version: Option<TlsVersion>,
    /// Highest TLS version.
    pub max_version: Option<TlsVersion>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsConfigFields {
    #[serde(default, deserialize_with = "crate::de::string")]
    ca: String,
    #[serde(default, deserialize_with = "crate::de::string")]
    cert: String,
    #[serde(default)]
    key: Secret,
    #[serde(default, deserialize_with = "crate::de::string")]
    ca_file: String,
    #[serde(default, deserialize_with = "crate::de::string")]
    cert_file: String,
    #[serde(default, deserialize_with = "crate::de::string")]
    key_file: String,
    #[serde(default, deserialize_with = "crate::de::string")]
    server_name: String,
    #[serde(default)]
    insecure_skip_verify: bool,
    #[serde(default)]
    min_version: Option<TlsVersion>,
    #[serde(default)]
    max_version: Option<TlsVersion>,
}

impl TryFrom<TlsConfigFields> for TlsConfig {
    type Error = String;

    fn try_from(f: TlsConfigFields) -> Result<TlsConfig, String> {
        let c = TlsConfig {
            ca: f.ca,
            cert: f.cert,
            key: f.key,
            ca_file: f.ca_file,
            cert_file: f.cert_file,
            key_file: f.key_file,
            server_name: f.server_name,
            insecure_skip_verify: f.insecure_skip_verify,
            min_version: f.min_version,
            max_version: f.max_version,
        };
        c.validate()?;
        Ok(c)
    }
}

impl TlsConfig {
    /// common's `TLSConfig.Validate`.
    pub fn validate(&self) -> Result<(), String> {
        if !self.ca.is_empty() && !self.ca_file.is_empty() {
            return Err("at most one of ca and ca_file must be configured".into());
        }
        if !self.cert.is_empty() && !self.cert_file.is_empty() {
            return Err("at most one of cert and cert_file must be configured".into());
        }
        if !self.key.is_empty() && !self.key_file.is_empty() {
            return Err("at most one of key and key_file must be configured".into());
        }
        let cert = !self.cert.is_empty() || !self.cert_file.is_empty();
        let key = !self.key.is_empty() || !self.key_file.is_empty();
        if cert && !key {
            return Err(
                "exactly one of key or key_file must be configured when a client certificate is configured"
                    .into(),
            );
        }
        if key && !cert {
            return Err(
                "exactly one of cert or cert_file must be configured when a client key is configured"
                    .into(),
            );
        }
        Ok(())
    }
}

/// `basic_auth`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// User name.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub username: String,
    /// File holding the user name.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub username_file: String,
    /// Password.
    #[serde(default)]
    pub password: Secret,
    /// File holding the password.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub password_file: String,
}

/// `authorization`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// The scheme (`Bearer` when empty).
    #[serde(default, rename = "type", deserialize_with = "crate::de::string")]
    pub kind: String,
    /// The credentials.
    #[serde(default)]
    pub credentials: Secret,
    /// File holding the credentials.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub credentials_file: String,
}

/// `oauth2`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    /// Client id.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub client_id: String,
    /// Client secret.
    #[serde(default)]
    pub client_secret: Secret,
    /// File holding the client secret.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub client_secret_file: String,
    /// Key id for the JWT bearer grant.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub client_certificate_key_id: String,
    /// Private key for the JWT bearer grant.
    #[serde(default)]
    pub client_certificate_key: Secret,
    /// File holding the private key.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub client_certificate_key_file: String,
    /// `client_credentials` (default) or the JWT bearer grant URN.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub grant_type: String,
    /// `RS256`, `RS384` or `RS512`.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub signature_algorithm: String,
    /// JWT issuer.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub iss: String,
    /// JWT audience.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub audience: String,
    /// Extra JWT claims.
    #[serde(default)]
    pub claims: Option<crate::Yaml>,
    /// Scopes.
    #[serde(default, deserialize_with = "crate::de::string_list")]
    pub scopes: Vec<String>,
    /// Token endpoint.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub token_url: String,
    /// Extra token request parameters.
    #[serde(default)]
    pub endpoint_params: BTreeMap<String, String>,
    /// TLS for the token endpoint.
    #[serde(default)]
    pub tls_config: TlsConfig,
    /// Proxy for the token endpoint.
    #[serde(default)]
    pub proxy_url: Option<Url>,
    /// Hosts not to proxy.
    #[serde(default, deserialize_with = "crate::de::string")]
    pub no_proxy: String,
    /// Use the environment's proxy settings.
    #[serde(default)]
    pub proxy_from_environment: bool,
    /// Headers for proxy CONNECT requests.
    #[serde(default)]
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
}

/// One entry of `http_headers`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Plain values.
    #[serde(default, deserialize_with = "crate::de::string_list")]
    pub values: Vec<String>,
    /// Secret values.
    #[serde(default)]
    pub secrets: Vec<Secret>,
    /// Files holding values.
    #[serde(default, deserialize_with = "crate::de::string_list")]
    pub files: Vec<String>,
}

/// Proxy settings (`proxy_url`, `no_proxy`, `proxy_from_environment`,
/// `proxy_connect_header`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Proxy {
    /// The proxy.
    pub url: Option<Url>,
    /// Hosts not to proxy (comma-separated).
    pub no_proxy: String,
    /// Use `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY`.
    pub from_environment: bool,
    /// Headers for CONNECT requests.
    pub connect_header: BTreeMap<String, Vec<Secret>>,
}

impl Proxy {
    /// common's `ProxyConfig.Validate`.
    pub fn validate(&self) -> Result<(), String> {
        let has_url = self.url.as_ref().is_some_and(|u| !u.to_string().is_empty());
        if !self.connect_header.is_empty() && !self.from_environment && !has_url {
            return Err("if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured".into());
        }
        if self.from_environment && has_url {
            return Err(
                "if proxy_from_environment is configured, proxy_url must not be configured".into(),
            );
        }
        if self.from_environment && !self.no_proxy.is_empty() {
            return Err(
                "if proxy_from_environment is configured, no_proxy must not be configured".into(),
            );
        }
        if self.url.is_none() && !self.no_proxy.is_empty() {
            return Err("if no_proxy is configured, proxy_url must also be configured".into());
        }
        Ok(())
    }
}

/// Headers set by the client itself, which `http_headers` may not override.
const RESERVED_HEADERS: [&str; 18] = [
    "Authorization",
    "Host",
    "Content-Encoding",
    "Content-Length",
    "Content-Type",
    "User-Agent",
    "Connection",
    "Keep-Alive",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Www-Authenticate",
    "Accept-Encoding",
    "X-Prometheus-Remote-Write-Version",
    "X-Prometheus-Remote-Read-Version",
    "X-Prometheus-Scrape-Timeout-Seconds",
    "X-Amz-Date",
    "X-Amz-Security-Token",
    "X-Amz-Content-Sha256",
];

/// Go's `http.CanonicalHeaderKey` for ASCII names.
pub(crate) fn canonical_header(name: &str) -> String {
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

/// A validated HTTP client configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HttpClientConfig {
    /// Basic authentication.
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header (also from the legacy `bearer_token*`).
    pub authorization: Option<Authorization>,
    /// OAuth2 client credentials.
    pub oauth2: Option<OAuth2>,
    /// TLS settings.
    pub tls_config: TlsConfig,
    /// Follow 3xx redirects (default true).
    pub follow_redirects: bool,
    /// Allow HTTP/2 (default true; false for remote write).
    pub enable_http2: bool,
    /// Proxy settings.
    pub proxy: Proxy,
    /// Extra headers.
    pub http_headers: BTreeMap<String, Header>,
}

impl HttpClientConfig {
    /// Whether any of basic auth, authorization or OAuth2 is set.
    pub fn has_auth(&self) -> bool {
        self.basic_auth.is_some() || self.authorization.is_some() || self.oauth2.is_some()
    }
}

/// The inline HTTP fields as written, before validation.
#[derive(Clone, Debug, Default)]
pub(crate) struct RawHttp {
    pub(crate) basic_auth: Option<BasicAuth>,
    pub(crate) authorization: Option<Authorization>,
    pub(crate) oauth2: Option<OAuth2>,
    pub(crate) bearer_token: Secret,
    pub(crate) bearer_token_file: String,
    pub(crate) tls_config: Option<TlsConfig>,
    pub(crate) follow_redirects: Option<bool>,
    pub(crate) enable_http2: Option<bool>,
    pub(crate) proxy_url: Option<Url>,
    pub(crate) no_proxy: String,
    pub(crate) proxy_from_environment: bool,
    pub(crate) proxy_connect_header: BTreeMap<String, Vec<Secret>>,
    pub(crate) http_headers: Option<BTreeMap<String, Header>>,
}

impl RawHttp {
    /// common's `HTTPClientConfig.Validate`; `enable_http2` defaults to
    /// `http2_default` (true except for remote write).
    pub(crate) fn validate(self, http2_default: bool) -> Result<HttpClientConfig, String> {
        let bearer = !self.bearer_token.is_empty();
        let bearer_file = !self.bearer_token_file.is_empty();
        if bearer && bearer_file {
            return Err(
                "at most one of bearer_token & bearer_token_file must be configured".into(),
            );
        }
        if (self.basic_auth.is_some() || self.oauth2.is_some()) && (bearer || bearer_file) {
            return Err("at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured".into());
        }
        if let Some(b) = &self.basic_auth {
            if !b.username.is_empty() && !b.username_file.is_empty() {
                return Err(
                    "at most one of basic_auth username & username_file must be configured".into(),
                );
            }
            if !b.password.is_empty() && !b.password_file.is_empty() {
                return Err(
                    "at most one of basic_auth password & password_file must be configured".into(),
                );
            }
        }
        let mut authorization = self.authorization;
        if let Some(a) = &mut authorization {
            if bearer || bearer_file {
                return Err(
                    "authorization is not compatible with bearer_token & bearer_token_file".into(),
                );
            }
            if !a.credentials.is_empty() && !a.credentials_file.is_empty() {
                return Err("at most one of authorization credentials & credentials_file must be configured".into());
            }
            a.kind = a.kind.trim().to_owned();
            if a.kind.is_empty() {
                a.kind = "Bearer".to_owned();
            }
            if a.kind.eq_ignore_ascii_case("basic") {
                return Err(
                    "authorization type cannot be set to \"basic\", use \"basic_auth\" instead"
                        .into(),
                );
            }
            if self.basic_auth.is_some() || self.oauth2.is_some() {
                return Err(
                    "at most one of basic_auth, oauth2 & authorization must be configured".into(),
                );
            }
        } else if bearer || bearer_file {
            authorization = Some(Authorization {
                kind: "Bearer".to_owned(),
                credentials: self.bearer_token,
                credentials_file: self.bearer_token_file,
            });
        }
        if let Some(o) = &self.oauth2 {
            if self.basic_auth.is_some() {
                return Err(
                    "at most one of basic_auth, oauth2 & authorization must be configured".into(),
                );
            }
            if o.client_id.is_empty() {
                return Err("oauth2 client_id must be configured".into());
            }
            if o.token_url.is_empty() {
                return Err("oauth2 token_url must be configured".into());
            }
            if o.grant_type == "urn:ietf:params:oauth:grant-type:jwt-bearer" {
                if !o.client_certificate_key.is_empty() && !o.client_certificate_key_file.is_empty()
                {
                    return Err("at most one of oauth2 client_certificate_key & client_certificate_key_file must be configured using grant-type=urn:ietf:params:oauth:grant-type:jwt-bearer".into());
                }
                if !o.signature_algorithm.is_empty()
                    && !["RS256", "RS384", "RS512"].contains(&o.signature_algorithm.as_str())
                {
                    return Err("valid signature algorithms are RS256, RS384 and RS512".into());
                }
            } else if !o.client_secret.is_empty() && !o.client_secret_file.is_empty() {
                return Err(
                    "at most one of oauth2 client_secret & client_secret_file must be configured"
                        .into(),
                );
            }
            o.tls_config.validate()?;
            proxy_of(o).validate()?;
        }
        let proxy = Proxy {
            url: self.proxy_url,
            no_proxy: self.no_proxy,
            from_environment: self.proxy_from_environment,
            connect_header: self.proxy_connect_header,
        };
        proxy.validate()?;
        let http_headers = self.http_headers.unwrap_or_default();
        for name in http_headers.keys() {
            let canonical = canonical_header(name);
            if RESERVED_HEADERS.contains(&canonical.as_str()) {
                return Err(format!("setting header \"{canonical}\" is not allowed"));
            }
        }
        Ok(HttpClientConfig {
            basic_auth: self.basic_auth,
            authorization,
            oauth2: self.oauth2,
            tls_config: self.tls_config.unwrap_or_default(),
            follow_redirects: self.follow_redirects.unwrap_or(true),
            enable_http2: self.enable_http2.unwrap_or(http2_default),
            proxy,
            http_headers,
        })
    }
}

fn proxy_of(o: &OAuth2) -> Proxy {
    Proxy {
        url: o.proxy_url.clone(),
        no_proxy: o.no_proxy.clone(),
        from_environment: o.proxy_from_environment,
        connect_header: o.proxy_connect_header.clone(),
    }
}

/// The names of the inline HTTP fields, for sections that keep their YAML.
pub(crate) const HTTP_FIELDS: [&str; 13] = [
    "basic_auth",
    "authorization",
    "oauth2",
    "bearer_token",
    "bearer_token_file",
    "tls_config",
    "follow_redirects",
    "enable_http2",
    "proxy_url",
    "no_proxy",
    "proxy_from_environment",
    "proxy_connect_header",
    "http_headers",
];

/// Declares a struct that also takes the inline `<http_config>` fields and
/// gives it `take_http()`.
macro_rules! with_http_config {
    ($(#[$m:meta])* $vis:vis struct $name:ident { $($body:tt)* }) => {
        $(#[$m])*
        $vis struct $name {
            $($body)*
            #[serde(default)]
            basic_auth: Option<$crate::http::BasicAuth>,
            #[serde(default)]
            authorization: Option<$crate::http::Authorization>,
            #[serde(default)]
            oauth2: Option<$crate::http::OAuth2>,
            #[serde(default)]
            bearer_token: $crate::Secret,
            #[serde(default, deserialize_with = "crate::de::string")]
            bearer_token_file: String,
            #[serde(default)]
            tls_config: Option<$crate::http::TlsConfig>,
            #[serde(default)]
            follow_redirects: Option<bool>,
            #[serde(default)]
            enable_http2: Option<bool>,
            #[serde(default)]
            proxy_url: Option<$crate::url::Url>,
            #[serde(default, deserialize_with = "crate::de::string")]
            no_proxy: String,
            #[serde(default)]
            proxy_from_environment: bool,
            #[serde(default)]
            proxy_connect_header: std::collections::BTreeMap<String, Vec<$crate::Secret>>,
            #[serde(default)]
            http_headers: Option<std::collections::BTreeMap<String, $crate::http::Header>>,
        }

        impl $name {
            /// Moves the inline HTTP fields out.
            #[allow(dead_code)]
            fn take_http(&mut self) -> $crate::http::RawHttp {
                $crate::http::RawHttp {
                    basic_auth: self.basic_auth.take(),
                    authorization: self.authorization.take(),
                    oauth2: self.oauth2.take(),
                    bearer_token: std::mem::take(&mut self.bearer_token),
                    bearer_token_file: std::mem::take(&mut self.bearer_token_file),
                    tls_config: self.tls_config.take(),
                    follow_redirects: self.follow_redirects.take(),
                    enable_http2: self.enable_http2.take(),
                    proxy_url: self.proxy_url.take(),
                    no_proxy: std::mem::take(&mut self.no_proxy),
                    proxy_from_environment: self.proxy_from_environment,
                    proxy_connect_header: std::mem::take(&mut self.proxy_connect_header),
                    http_headers: self.http_headers.take(),
                }
            }
        }
    };
}
pub(crate) use with_http_config;

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(yaml: &str, want: Result<(), &str>) {
        with_http_config! {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            #[allow(dead_code)]
            struct T {
                #[serde(default)]
                x: Option<u8>,
            }
        }
        let got = serde_saphyr::from_str::<T>(yaml)
            .map_err(|e| e.to_string())
            .and_then(|mut t| t.take_http().validate(true).map(|_| ()));
        match want {
            Ok(()) => assert!(got.is_ok(), "{yaml}: {got:?}"),
            Err(w) => {
                let e = got.err().unwrap_or_default();
                assert!(e.contains(w), "{yaml}: got {e:?}, want {w:?}");
            }
        }
    }

    #[test]
    fn exclusivity() {
        check(
            "bearer_token: a\nbearer_token_file: b",
            Err("at most one of bearer_token & bearer_token_file"),
        );
        check(
            "basic_auth: {username: a, password: b, password_file: c}",
            Err("at most one of basic_auth password & password_file must be configured"),
        );
        check(
            "basic_auth: {username: a}\nauthorization: {credentials: x}",
            Err("at most one of basic_auth, oauth2 & authorization must be configured"),
        );
        check(
            "authorization: {type: Basic, credentials: x}",
            Err("authorization type cannot be set to \"basic\""),
        );
        check(
            "oauth2: {client_id: a, token_url: http://t}\nbasic_auth: {username: a}",
            Err("at most one of basic_auth, oauth2 & authorization"),
        );
        check(
            "oauth2: {token_url: http://t}",
            Err("oauth2 client_id must be configured"),
        );
        check(
            "no_proxy: a",
            Err("if no_proxy is configured, proxy_url must also be configured"),
        );
        check(
            "http_headers: {user-agent: {values: [x]}}",
            Err("setting header \"User-Agent\" is not allowed"),
        );
        check(
            "tls_config: {cert_file: a}",
            Err("exactly one of key or key_file must be configured"),
        );
        check(
            "tls_config: {min_version: TLS14}",
            Err("unknown TLS version: TLS14"),
        );
        check("bearer_token: a\nfollow_redirects: false", Ok(()));
    }
}
