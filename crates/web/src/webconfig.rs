//! `--web.config.file`: the exporter-toolkit web configuration
//! (`tls_server_config`, `http_server_config`, `basic_auth_users`), parsed
//! strictly and validated as exporter-toolkit's `web.Validate` does, which
//! is what `promtool check web-config` runs.
//!
//! Validation order follows exporter-toolkit: every password must be a
//! bcrypt hash, the YAML must have only known fields, headers must be ones
//! the ecosystem allows, then the TLS section must be complete and its files
//! readable and parseable. Relative paths are relative to the file's
//! directory. Errors name the file and the field.
//!
//! Differences, all documented here: rustls serves TLS 1.2 and 1.3 only, so
//! `min_version: TLS10|TLS11` behaves as TLS12 and a `max_version` below
//! TLS12 is an error; `cipher_suites` accepts the TLS 1.2 AEAD suites ring
//! implements (Go's CBC suites are refused by name); `curve_preferences`
//! accepts `X25519`, `CurveP256` and `CurveP384` (not `CurveP521`);
//! `client_allowed_sans` and `rate_limit` are refused; `http2` is accepted
//! and ignored (Ember serves HTTP/1.1).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

/// A web configuration Prometheus would reject, or one Ember cannot serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("web config file {}: {message}", file.display())]
pub struct WebConfigError {
    /// The file.
    pub file: PathBuf,
    /// What is wrong, starting with the field (`tls_server_config.min_version: ...`).
    pub message: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    http_server_config: Option<RawHttp>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTls {
    #[serde(default)]
    cert: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    client_ca: Option<String>,
    #[serde(default)]
    cert_file: Option<String>,
    #[serde(default)]
    key_file: Option<String>,
    #[serde(default)]
    client_auth_type: Option<String>,
    #[serde(default)]
    client_ca_file: Option<String>,
    #[serde(default)]
    cipher_suites: Option<Vec<String>>,
    #[serde(default)]
    curve_preferences: Option<Vec<String>>,
    #[serde(default)]
    min_version: Option<String>,
    #[serde(default)]
    max_version: Option<String>,
    #[serde(default)]
    prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    client_allowed_sans: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default)]
    http2: Option<bool>,
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
}

/// Go's `tls.ClientAuthType` as exporter-toolkit names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// `NoClientCert` (default).
    None,
    /// `RequestClientCert`: asked for, not required, not verified.
    Request,
    /// `RequireAnyClientCert` (or `RequireClientCert`): required, not verified.
    RequireAny,
    /// `VerifyClientCertIfGiven`: verified against the client CAs if sent.
    VerifyIfGiven,
    /// `RequireAndVerifyClientCert`.
    RequireAndVerify,
}

/// A TLS protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.0 (served as 1.2: rustls has no older versions).
    Tls10,
    /// TLS 1.1 (as above).
    Tls11,
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl TlsVersion {
    fn parse(s: &str) -> Option<TlsVersion> {
        Some(match s {
            "TLS10" => TlsVersion::Tls10,
            "TLS11" => TlsVersion::Tls11,
            "TLS12" => TlsVersion::Tls12,
            "TLS13" => TlsVersion::Tls13,
            _ => return None,
        })
    }
}

/// Where PEM data comes from: a file (re-read when it changes) or inline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pem {
    /// A file path (made absolute against the config's directory).
    File(PathBuf),
    /// Inline PEM text.
    Inline(String),
}

impl Pem {
    fn read(&self, field: &str) -> Result<Vec<u8>, String> {
        match self {
            Pem::File(p) => std::fs::read(p)
                .map_err(|e| format!("failed to read {field} ({}): {e}", p.display())),
            Pem::Inline(s) => Ok(s.clone().into_bytes()),
        }
    }
}

/// The validated `tls_server_config`.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    /// The certificate chain.
    pub cert: Pem,
    /// The private key.
    pub key: Pem,
    /// Client CAs, if any.
    pub client_ca: Option<Pem>,
    /// Client certificate policy.
    pub client_auth: ClientAuth,
    /// Oldest version served.
    pub min_version: TlsVersion,
    /// Newest version served.
    pub max_version: TlsVersion,
    /// TLS 1.2 cipher suites in preference order (empty: the defaults).
    pub cipher_suites: Vec<rustls::SupportedCipherSuite>,
    /// Key exchange groups in preference order (empty: the defaults).
    pub curves: Vec<&'static dyn rustls::crypto::SupportedKxGroup>,
    /// `prefer_server_cipher_suites` (default true).
    pub prefer_server_cipher_suites: bool,
}

/// A validated web configuration.
#[derive(Clone, Debug, Default)]
pub struct WebConfig {
    /// TLS, if the file configures it.
    pub tls: Option<TlsSettings>,
    /// `basic_auth_users`: user → bcrypt hash. Empty: no authentication.
    pub users: BTreeMap<String, String>,
    /// `http_server_config.headers`, set on every response.
    pub headers: Vec<(String, String)>,
}

/// The headers `http_server_config.headers` may set, with their allowed
/// values (empty: any value), as exporter-toolkit keeps them.
const EXTRA_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// Go's `bcrypt.Cost` checks: the stored hash must be a bcrypt hash.
/// Returns Go's error texts.
pub fn check_bcrypt_hash(hash: &str) -> Result<u32, String> {
    let b = hash.as_bytes();
    if b.len() < 59 {
        return Err("crypto/bcrypt: hashedSecret too short to be a bcrypted password".into());
    }
    if b[0] != b'$' {
        return Err(format!(
            "crypto/bcrypt: bcrypt hashes must start with '$', but hashedSecret started with '{}'",
            b[0] as char
        ));
    }
    if b[1] > b'2' {
        return Err(format!(
            "crypto/bcrypt: bcrypt algorithm version '{}' requested is newer than current version '2'",
            b[1] as char
        ));
    }
    let mut n = 3;
    if b[2] != b'$' {
        n += 1;
    }
    let cost_text = hash.get(n..n + 2).unwrap_or("");
    let cost: u32 = cost_text
        .parse()
        .map_err(|_| format!("strconv.Atoi: parsing {cost_text:?}: invalid syntax"))?;
    if !(4..=31).contains(&cost) {
        return Err(format!(
            "crypto/bcrypt: cost {cost} is outside allowed inclusive range 4..31"
        ));
    }
    Ok(cost)
}

fn join_dir(dir: &Path, p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        dir.join(path)
    }
}

/// Go's crypto/tls names of the TLS 1.2 suites ring implements.
fn cipher_suite(name: &str) -> Option<rustls::SupportedCipherSuite> {
    use rustls::crypto::ring::cipher_suite as cs;
    Some(match name {
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" | "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" => {
            cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
        }
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
        | "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" => {
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        }
        _ => return None,
    })
}

/// TLS 1.3 suites: Go lists them but they do not govern anything (1.3
/// suites are not configurable), so they are accepted and ignored.
const TLS13_SUITES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// Suites Go's `tls.CipherSuites()` knows that ring does not implement.
const GO_ONLY_SUITES: &[&str] = &[
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
];

fn curve(name: &str) -> Result<&'static dyn rustls::crypto::SupportedKxGroup, String> {
    use rustls::crypto::ring::kx_group;
    match name {
        "X25519" => Ok(kx_group::X25519),
        "CurveP256" => Ok(kx_group::SECP256R1),
        "CurveP384" => Ok(kx_group::SECP384R1),
        "CurveP521" => Err("curve CurveP521 is not supported by Ember (ring has no P-521)".into()),
        _ => Err(format!("unknown curve: {name}")),
    }
}

impl WebConfig {
    /// Reads and validates a web configuration file, reading the
    /// certificate, key and CA files it names (as `promtool check
    /// web-config` does).
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let err = |message: String| WebConfigError {
            file: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("read: {e}")))?;
        let dir = path.parent().unwrap_or(Path::new(""));
        let cfg = WebConfig::parse(&text, dir).map_err(err)?;
        if let Some(tls) = &cfg.tls {
            tls.server_config().map_err(err)?;
        }
        Ok(cfg)
    }

    /// Parses and validates the YAML text; relative paths are joined to
    /// `dir`. Does not read the TLS files (see [`TlsSettings::server_config`]).
    pub fn parse(text: &str, dir: &Path) -> Result<WebConfig, String> {
        let raw: Raw = if text.trim().is_empty() {
            Raw::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| format!("parse YAML: {e}"))?
        };
        let users = raw.basic_auth_users.unwrap_or_default();
        for (user, hash) in &users {
            check_bcrypt_hash(hash).map_err(|e| format!("basic_auth_users.{user}: {e}"))?;
        }
        let http = raw.http_server_config.unwrap_or_default();
        let _http2 = http.http2;
        let mut headers = Vec::new();
        for (k, v) in http.headers.unwrap_or_default() {
            let Some((_, allowed)) = EXTRA_HEADERS.iter().find(|(h, _)| *h == k) else {
                return Err(format!(
                    "http_server_config.headers: HTTP header {k:?} can not be configured"
                ));
            };
            if !allowed.is_empty() && !allowed.contains(&v.as_str()) {
                let list: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
                return Err(format!(
                    "http_server_config.headers: invalid value for {k}. Expected one of: [{}], but got: {v:?}",
                    list.join(" ")
                ));
            }
            headers.push((k, v));
        }
        let tls = match raw.tls_server_config {
            Some(t) => parse_tls(t, dir)?,
            None => None,
        };
        Ok(WebConfig {
            tls,
            users,
            headers,
        })
    }
}

fn parse_tls(t: RawTls, dir: &Path) -> Result<Option<TlsSettings>, String> {
    let f = |field: &str, m: String| format!("tls_server_config.{field}: {m}");
    let nonempty = |o: Option<String>| o.filter(|s| !s.is_empty());
    let (cert_file, key_file, ca_file) = (
        nonempty(t.cert_file),
        nonempty(t.key_file),
        nonempty(t.client_ca_file),
    );
    let (cert, key, ca) = (nonempty(t.cert), nonempty(t.key), nonempty(t.client_ca));
    let client_auth_text = t.client_auth_type.clone().unwrap_or_default();
    let enabled = cert_file.is_some()
        || cert.is_some()
        || key_file.is_some()
        || key.is_some()
        || ca_file.is_some()
        || ca.is_some()
        || !client_auth_text.is_empty();
    // Versions, suites and curves are checked while decoding in Go, so
    // even a section that does not enable TLS must get them right.
    let version = |field: &str, v: Option<String>, default: TlsVersion| match v {
        None => Ok(default),
        Some(s) => {
            TlsVersion::parse(&s).ok_or_else(|| f(field, format!("unknown TLS version: {s}")))
        }
    };
    let min_version = version("min_version", t.min_version, TlsVersion::Tls12)?;
    let max_version = version("max_version", t.max_version, TlsVersion::Tls13)?;
    let mut cipher_suites = Vec::new();
    for name in t.cipher_suites.unwrap_or_default() {
        match cipher_suite(&name) {
            Some(s) => cipher_suites.push(s),
            None if TLS13_SUITES.contains(&name.as_str()) => {}
            None if GO_ONLY_SUITES.contains(&name.as_str()) => {
                return Err(f(
                    "cipher_suites",
                    format!(
                        "cipher {name} is not supported by Ember (rustls serves AEAD ECDHE suites only)"
                    ),
                ));
            }
            None => return Err(f("cipher_suites", format!("unknown cipher: {name}"))),
        }
    }
    let mut curves = Vec::new();
    for name in t.curve_preferences.unwrap_or_default() {
        curves.push(curve(&name).map_err(|m| f("curve_preferences", m))?);
    }
    if t.client_allowed_sans.is_some() {
        return Err(f(
            "client_allowed_sans",
            "not supported by Ember yet".into(),
        ));
    }
    if !enabled {
        return Ok(None);
    }
    let cert = match (cert_file, cert) {
        (Some(p), _) => Pem::File(join_dir(dir, &p)),
        (None, Some(s)) => Pem::Inline(s),
        (None, None) => return Err("tls_server_config: missing one of cert or cert_file".into()),
    };
    let key = match (key_file, key) {
        (Some(p), _) => Pem::File(join_dir(dir, &p)),
        (None, Some(s)) => Pem::Inline(s),
        (None, None) => return Err("tls_server_config: missing one of key or key_file".into()),
    };
    let client_auth = match client_auth_text.as_str() {
        "" | "NoClientCert" => ClientAuth::None,
        "RequestClientCert" => ClientAuth::Request,
        "RequireAnyClientCert" | "RequireClientCert" => ClientAuth::RequireAny,
        "VerifyClientCertIfGiven" => ClientAuth::VerifyIfGiven,
        "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerify,
        other => {
            return Err(f(
                "client_auth_type",
                format!("invalid ClientAuth: {other}"),
            ));
        }
    };
    let client_ca = match (ca_file, ca) {
        (Some(p), _) => Some(Pem::File(join_dir(dir, &p))),
        (None, Some(s)) => Some(Pem::Inline(s)),
        (None, None) => None,
    };
    if client_ca.is_some() && client_auth == ClientAuth::None {
        return Err(
            "tls_server_config: client CA's have been configured without a Client Auth Policy"
                .into(),
        );
    }
    if max_version < TlsVersion::Tls12 {
        return Err(f(
            "max_version",
            "Ember serves TLS 1.2 and 1.3 only; set TLS12 or TLS13".into(),
        ));
    }
    Ok(Some(TlsSettings {
        cert,
        key,
        client_ca,
        client_auth,
        min_version,
        max_version,
        cipher_suites,
        curves,
        prefer_server_cipher_suites: t.prefer_server_cipher_suites.unwrap_or(true),
    }))
}

impl TlsSettings {
    /// The files this configuration reads (their changes trigger a reload).
    pub fn files(&self) -> Vec<PathBuf> {
        [Some(&self.cert), Some(&self.key), self.client_ca.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|p| match p {
                Pem::File(f) => Some(f.clone()),
                Pem::Inline(_) => None,
            })
            .collect()
    }

    /// Reads the certificate, key and CA files and builds the rustls
    /// server configuration (ring provider), or says which field is wrong.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, String> {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};

        let cert_pem = self.cert.read("cert_file")?;
        let key_pem = self.key.read("key_file")?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("failed to load X509KeyPair: cert_file: {e}"))?;
        if certs.is_empty() {
            return Err(
                "failed to load X509KeyPair: tls: failed to find any PEM data in certificate input"
                    .into(),
            );
        }
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
            format!(
                "failed to load X509KeyPair: tls: failed to find any PEM data in key input ({e})"
            )
        })?;

        let mut provider = rustls::crypto::ring::default_provider();
        if !self.cipher_suites.is_empty() {
            // The list only governs TLS 1.2, as in Go; 1.3 keeps its suites.
            let mut suites = self.cipher_suites.to_vec();
            suites.extend(
                provider
                    .cipher_suites
                    .iter()
                    .filter(|s| s.version() == &rustls::version::TLS13)
                    .copied(),
            );
            provider.cipher_suites = suites;
        }
        if !self.curves.is_empty() {
            provider.kx_groups = self.curves.clone();
        }
        let provider = Arc::new(provider);
        let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
        if self.min_version <= TlsVersion::Tls12 && self.max_version >= TlsVersion::Tls12 {
            versions.push(&rustls::version::TLS12);
        }
        if self.max_version >= TlsVersion::Tls13 {
            versions.push(&rustls::version::TLS13);
        }
        let verifier = self.client_verifier(&provider)?;
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| format!("tls_server_config: {e}"))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .map_err(|e| format!("failed to load X509KeyPair: {e}"))?;
        cfg.ignore_client_order = self.prefer_server_cipher_suites;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }

    fn client_verifier(
        &self,
        provider: &Arc<rustls::crypto::CryptoProvider>,
    ) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, String> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;
        match self.client_auth {
            ClientAuth::None => return Ok(rustls::server::WebPkiClientVerifier::no_client_auth()),
            ClientAuth::Request | ClientAuth::RequireAny => {
                return Ok(Arc::new(AnyClientCert {
                    mandatory: self.client_auth == ClientAuth::RequireAny,
                    algorithms: provider.signature_verification_algorithms,
                }));
            }
            ClientAuth::VerifyIfGiven | ClientAuth::RequireAndVerify => {}
        }
        let Some(ca) = &self.client_ca else {
            return Err(
                "tls_server_config.client_ca_file: needed to verify client certificates".into(),
            );
        };
        let pem = ca.read("client_ca_file")?;
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(&pem) {
            let c = c.map_err(|e| format!("tls_server_config.client_ca_file: {e}"))?;
            roots
                .add(c)
                .map_err(|e| format!("tls_server_config.client_ca_file: {e}"))?;
        }
        let mut b = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        );
        if self.client_auth == ClientAuth::VerifyIfGiven {
            b = b.allow_unauthenticated();
        }
        b.build()
            .map_err(|e| format!("tls_server_config.client_ca_file: {e}"))
    }
}

/// `RequestClientCert` and `RequireAnyClientCert`: a certificate is asked
/// for (and, for the latter, required) but not checked against any CA; the
/// handshake signature is still verified.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl rustls::server::danger::ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        Ok(rustls::server::danger::ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(yaml: &str, want_err: Option<&str>) {
        let got = WebConfig::parse(yaml, Path::new("/etc"));
        match (got, want_err) {
            (Ok(_), None) => {}
            (Err(e), Some(w)) => assert!(e.contains(w), "error {e:?} lacks {w:?}"),
            (Ok(_), Some(w)) => panic!("accepted, want error {w:?}"),
            (Err(e), None) => panic!("refused: {e}"),
        }
    }

    const HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

    #[test]
    fn parse_table() {
        check("", None);
        check(&format!("basic_auth_users:\n  alice: {HASH}\n"), None);
        check(
            "basic_auth_users:\n  alice: plain\n",
            Some("basic_auth_users.alice: crypto/bcrypt: hashedSecret too short"),
        );
        check("foo: 1\n", Some("parse YAML"));
        check("tls_server_config:\n  bogus: 1\n", Some("parse YAML"));
        check(
            "tls_server_config:\n  cert_file: a.crt\n",
            Some("missing one of key or key_file"),
        );
        check(
            "tls_server_config:\n  key_file: a.key\n",
            Some("missing one of cert or cert_file"),
        );
        check(
            "tls_server_config:\n  min_version: TLS9\n",
            Some("tls_server_config.min_version: unknown TLS version: TLS9"),
        );
        check(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Bogus\n",
            Some("invalid ClientAuth: Bogus"),
        );
        check(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n",
            Some("without a Client Auth Policy"),
        );
        check(
            "tls_server_config:\n  cipher_suites: [TLS_FOO]\n",
            Some("unknown cipher: TLS_FOO"),
        );
        check(
            "http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
            None,
        );
        check(
            "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
            Some("invalid value for X-Frame-Options"),
        );
        check(
            "http_server_config:\n  headers:\n    Server: ember\n",
            Some("HTTP header \"Server\" can not be configured"),
        );
    }

    #[test]
    fn relative_paths_join_the_config_dir() {
        let c = WebConfig::parse(
            "tls_server_config:\n  cert_file: a.crt\n  key_file: /abs/b.key\n",
            Path::new("/etc/ember"),
        )
        .map(|c| c.tls.map(|t| t.files()));
        assert_eq!(
            c,
            Ok(Some(vec![
                PathBuf::from("/etc/ember/a.crt"),
                PathBuf::from("/abs/b.key")
            ]))
        );
    }

    #[test]
    fn bcrypt_hash_checks() {
        assert_eq!(check_bcrypt_hash(HASH), Ok(10));
        assert!(check_bcrypt_hash(&HASH.replace("$10$", "$99$")).is_err());
        assert!(check_bcrypt_hash(&HASH.replacen('$', "x", 1)).is_err());
    }
}
