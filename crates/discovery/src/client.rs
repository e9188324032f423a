//! HTTP clients from a configuration's HTTP client block: rustls with the
//! ring provider (chosen explicitly, never a process-wide default), the
//! platform's roots or `ca`/`ca_file`, `insecure_skip_verify`,
//! `server_name`, client certificates, TLS versions; `basic_auth`,
//! `authorization` (and the legacy bearer token), `http_headers`,
//! `proxy_url`, `follow_redirects`; `oauth2` with the client-credentials
//! grant (see [`oauth2`] for how tokens are fetched, cached and
//! refreshed). Credential files are read per request, so rotated secrets
//! are picked up as Prometheus does.
//!
//! Requests are built with [`HttpClient::get`], which returns this module's
//! [`RequestBuilder`]: like `reqwest`'s, except that sending is where an
//! OAuth2 token is obtained (asynchronously) and attached.
//!
//! Not supported yet (the client refuses to build, naming it): the OAuth2
//! JWT bearer grant (`grant_type: urn:ietf:params:oauth:grant-type:jwt-bearer`).

pub mod oauth2;

use std::fmt::Display;
use std::sync::Arc;
use std::time::Duration;

use config::http::{HttpClientConfig, TlsConfig, TlsVersion};
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::Error;

/// Knobs that are not part of the HTTP client block.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// `User-Agent` header.
    pub user_agent: String,
    /// Ask for and decode gzip.
    pub gzip: bool,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            user_agent: format!("Ember/{}", env!("CARGO_PKG_VERSION")),
            gzip: true,
        }
    }
}

/// A configured HTTP client: the connection pool plus the per-request
/// authentication and headers of its configuration. Cheap to clone.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    config: Arc<HttpClientConfig>,
    oauth2: Option<Arc<oauth2::TokenSource>>,
}

fn client_err(e: impl std::fmt::Display) -> Error {
    Error::Client(e.to_string())
}

impl HttpClient {
    /// Builds a client for `cfg`.
    pub fn new(cfg: &HttpClientConfig, options: &ClientOptions) -> Result<HttpClient, Error> {
        let oauth2 = match &cfg.oauth2 {
            Some(o) => Some(Arc::new(oauth2::TokenSource::new(o, &options.user_agent)?)),
            None => None,
        };
        let tls = tls_config(&cfg.tls_config)?;
        let mut b = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .user_agent(options.user_agent.clone())
            .gzip(options.gzip)
            .redirect(if cfg.follow_redirects {
                reqwest::redirect::Policy::limited(10)
            } else {
                reqwest::redirect::Policy::none()
            });
        if !cfg.proxy.from_environment {
            b = b.no_proxy();
        }
        if let Some(u) = &cfg.proxy.url {
            let url = proxy_url(u);
            b = b.proxy(reqwest::Proxy::all(url).map_err(client_err)?);
        }
        Ok(HttpClient {
            client: b.build().map_err(client_err)?,
            config: Arc::new(cfg.clone()),
            oauth2,
        })
    }

    /// A GET request for `url` with the configured authentication and
    /// headers (credential files read now; an OAuth2 token when sent).
    pub fn get(&self, url: &str) -> Result<RequestBuilder, Error> {
        let mut req = self.client.get(url);
        let cfg = &self.config;
        for (name, h) in &cfg.http_headers {
            for v in &h.values {
                req = req.header(name.as_str(), v.as_str());
            }
            for v in &h.secrets {
                req = req.header(name.as_str(), v.expose());
            }
            for f in &h.files {
                let v = read_secret(f)?;
                req = req.header(name.as_str(), v);
            }
        }
        if let Some(ba) = &cfg.basic_auth {
            let user = if ba.username_file.is_empty() {
                ba.username.clone()
            } else {
                read_secret(&ba.username_file)?
            };
            let pass = if ba.password_file.is_empty() {
                ba.password.expose().to_owned()
            } else {
                read_secret(&ba.password_file)?
            };
            req = req.basic_auth(user, Some(pass));
        }
        if let Some(a) = &cfg.authorization {
            let creds = if a.credentials_file.is_empty() {
                a.credentials.expose().to_owned()
            } else {
                read_secret(&a.credentials_file)?
            };
            let kind = if a.kind.is_empty() { "Bearer" } else { &a.kind };
            req = req.header(AUTHORIZATION, format!("{kind} {creds}"));
        }
        Ok(RequestBuilder {
            inner: req,
            oauth2: self.oauth2.clone(),
            error: None,
        })
    }
}

/// Why [`RequestBuilder::send`] failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The request failed, as `reqwest` reports it (message and sources
    /// unchanged).
    #[error(transparent)]
    Request(#[from] reqwest::Error),
    /// A header given to [`RequestBuilder::header`] was invalid.
    #[error("{0}")]
    Header(String),
    /// No OAuth2 token could be had; the message reads like Go's and names
    /// the token URL (`Post "<token_url>": oauth2: cannot fetch token: ...`)
    /// or the unreadable secret file.
    #[error("{0}")]
    OAuth2(String),
}

/// A request of an [`HttpClient`] being built. Sending obtains the OAuth2
/// token (cached, refreshed when due) when the client has one configured.
#[derive(Debug)]
pub struct RequestBuilder {
    inner: reqwest::RequestBuilder,
    oauth2: Option<Arc<oauth2::TokenSource>>,
    /// The first invalid header, reported by `send`.
    error: Option<String>,
}

impl RequestBuilder {
    /// Adds a header (an invalid name or value fails the request at
    /// [`send`](Self::send)).
    pub fn header<K, V>(mut self, key: K, value: V) -> RequestBuilder
    where
        K: TryInto<HeaderName>,
        K::Error: Display,
        V: TryInto<HeaderValue>,
        V::Error: Display,
    {
        match (key.try_into(), value.try_into()) {
            (Ok(k), Ok(v)) => self.inner = self.inner.header(k, v),
            (Err(e), _) => {
                self.error
                    .get_or_insert_with(|| format!("invalid header name: {e}"));
            }
            (_, Err(e)) => {
                self.error
                    .get_or_insert_with(|| format!("invalid header value: {e}"));
            }
        }
        self
    }

    /// A timeout for the whole request (the token fetch has its own,
    /// [`oauth2::TOKEN_REQUEST_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> RequestBuilder {
        self.inner = self.inner.timeout(timeout);
        self
    }

    /// Sends the request, first getting an OAuth2 token if configured.
    pub async fn send(self) -> Result<reqwest::Response, SendError> {
        if let Some(e) = self.error {
            return Err(SendError::Header(e));
        }
        let mut req = self.inner;
        if let Some(source) = &self.oauth2 {
            let value = source.authorization().await.map_err(SendError::OAuth2)?;
            req = req.header(AUTHORIZATION, value);
        }
        Ok(req.send().await?)
    }
}

fn proxy_url(u: &config::url::Url) -> String {
    let mut s = format!("{}://", u.scheme);
    if !u.username.is_empty() {
        s.push_str(&u.username);
        if let Some(p) = &u.password {
            s.push(':');
            s.push_str(p.expose());
        }
        s.push('@');
    }
    s.push_str(&u.host);
    s.push_str(&u.path);
    s
}

/// Reads a credential file, trimming surrounding whitespace like common's
/// `FileSecret`.
fn read_secret(path: &str) -> Result<String, Error> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .map_err(|e| Error::Client(format!("read {path}: {e}")))
}

fn read_pem(inline: &str, file: &str) -> Result<Option<Vec<u8>>, Error> {
    if !inline.is_empty() {
        return Ok(Some(inline.as_bytes().to_vec()));
    }
    if !file.is_empty() {
        return std::fs::read(file)
            .map(Some)
            .map_err(|e| Error::Client(format!("read {file}: {e}")));
    }
    Ok(None)
}

/// The rustls configuration for a `tls_config`, on the ring provider.
pub fn tls_config(t: &TlsConfig) -> Result<rustls::ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let min = t.min_version.unwrap_or(TlsVersion::Tls12);
    let max = t.max_version.unwrap_or(TlsVersion::Tls13);
    let mut versions = Vec::new();
    if min <= TlsVersion::Tls12 && max >= TlsVersion::Tls12 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= TlsVersion::Tls13 {
        versions.push(&rustls::version::TLS13);
    }
    if versions.is_empty() {
        return Err(Error::Client(
            "no supported TLS version in range (TLS 1.2 and 1.3 are)".to_owned(),
        ));
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(client_err)?;
    let verifier: Arc<dyn ServerCertVerifier> = if t.insecure_skip_verify {
        Arc::new(NoVerify(provider.clone()))
    } else if let Some(pem) = read_pem(&t.ca, &t.ca_file)? {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(&pem) {
            roots
                .add(c.map_err(|e| Error::Client(format!("parse CA certificate: {e}")))?)
                .map_err(client_err)?;
        }
        rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .map_err(client_err)?
    } else {
        Arc::new(rustls_platform_verifier::Verifier::new(provider.clone()).map_err(client_err)?)
    };
    let verifier = if t.server_name.is_empty() || t.insecure_skip_verify {
        verifier
    } else {
        let name = ServerName::try_from(t.server_name.clone()).map_err(client_err)?;
        Arc::new(ServerNameOverride {
            inner: verifier,
            name,
        })
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let cert = read_pem(&t.cert, &t.cert_file)?;
    let key = read_pem(t.key.expose(), &t.key_file)?;
    match (cert, key) {
        (Some(cert), Some(key)) => {
            let certs = CertificateDer::pem_slice_iter(&cert)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Error::Client(format!("parse client certificate: {e}")))?;
            let key = PrivateKeyDer::from_pem_slice(&key)
                .map_err(|e| Error::Client(format!("parse client key: {e}")))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(client_err)
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// Accepts any certificate (`insecure_skip_verify`), still checking the
/// handshake signatures.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Verifies the certificate against `tls_config.server_name` instead of
/// the URL's host.
#[derive(Debug)]
struct ServerNameOverride {
    inner: Arc<dyn ServerCertVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for ServerNameOverride {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn builds_default_and_insecure_clients() {
        let mut cfg = HttpClientConfig {
            follow_redirects: true,
            ..HttpClientConfig::default()
        };
        HttpClient::new(&cfg, &ClientOptions::default()).unwrap();
        cfg.tls_config.insecure_skip_verify = true;
        cfg.tls_config.min_version = Some(TlsVersion::Tls13);
        HttpClient::new(&cfg, &ClientOptions::default()).unwrap();
        cfg.tls_config.ca = "not a pem".to_owned();
        cfg.tls_config.insecure_skip_verify = false;
        // No certificate in the text: an empty root store is an error.
        assert!(HttpClient::new(&cfg, &ClientOptions::default()).is_err());
    }
}
