//! OAuth 2.0 client-credentials tokens, as Prometheus gets them through
//! `golang.org/x/oauth2/clientcredentials`.
//!
//! - The token request is a `POST` to `token_url` with a form body of
//!   `grant_type=client_credentials`, `scope` (the scopes joined by spaces,
//!   only when there are some) and `endpoint_params` (which may replace
//!   `grant_type` but no other parameter), keys sorted as Go encodes them.
//! - Client authentication is probed like x/oauth2's auto-detection: first
//!   HTTP basic auth with the query-escaped id and secret; if that attempt
//!   fails in any way, once more with `client_id`/`client_secret` in the
//!   body. The style that worked is remembered until the secret changes.
//! - A token is reused until 10 s before its `expires_in` (a missing or zero
//!   `expires_in` means it never expires). JSON and form-encoded responses
//!   are understood; `token_type` is normalised like Go's `Token.Type`.
//! - `client_secret_file` is read on every request; a changed secret drops
//!   the cached token and the remembered style, as Prometheus re-creates its
//!   token source.
//! - The token request uses the block's own `tls_config` and proxy
//!   settings, the client's `User-Agent`, a [`TOKEN_REQUEST_TIMEOUT`], and
//!   reads at most [`MAX_TOKEN_RESPONSE_BYTES`] of the response.
//! - Concurrent requests share one token fetch (the state is behind an async
//!   mutex held across the fetch; a cancelled fetch just releases it).
//!
//! Errors read like Go's, prefixed the way Go's HTTP client names the
//! request that failed, so the token URL is always in them:
//! `Post "<token_url>": oauth2: cannot fetch token: 400 Bad Request\nResponse: <body>`.

use std::fmt;
use std::time::{Duration, Instant};

use config::http::OAuth2;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use tokio::sync::Mutex;

use crate::Error;

/// The most of a token response that is read (like x/oauth2's limit).
pub const MAX_TOKEN_RESPONSE_BYTES: usize = 1 << 20;

/// The longest one token request (connect, send, read) may take.
pub const TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long before its expiry a token is refreshed (x/oauth2's
/// `defaultExpiryDelta`).
const EXPIRY_DELTA_SECS: i64 = 10;

/// Fetches and caches the tokens of one `oauth2` block.
pub(crate) struct TokenSource {
    cfg: OAuth2,
    client: reqwest::Client,
    state: Mutex<State>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("token_url", &self.cfg.token_url)
            .field("client_id", &self.cfg.client_id)
            .finish_non_exhaustive()
    }
}

/// What was learnt with the current secret.
#[derive(Default)]
struct State {
    /// The secret the rest was obtained with (`None` before the first use).
    secret: Option<String>,
    style: Option<AuthStyle>,
    token: Option<Token>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AuthStyle {
    /// Basic auth with the query-escaped id and secret.
    Header,
    /// `client_id` and `client_secret` in the form body.
    Params,
}

struct Token {
    /// `<type> <access_token>`, marked sensitive.
    header: HeaderValue,
    /// When to stop using it; `None`: never.
    refresh_at: Option<Instant>,
}

impl Token {
    fn valid(&self, now: Instant) -> bool {
        self.refresh_at.is_none_or(|t| now <= t)
    }
}

fn build_err(e: impl fmt::Display) -> Error {
    Error::Client(format!("oauth2: {e}"))
}

impl TokenSource {
    /// The token source of `cfg`; `user_agent` is sent on token requests.
    pub(crate) fn new(cfg: &OAuth2, user_agent: &str) -> Result<TokenSource, Error> {
        if cfg.grant_type == "urn:ietf:params:oauth:grant-type:jwt-bearer" {
            return Err(Error::Client(
                "oauth2 grant_type urn:ietf:params:oauth:grant-type:jwt-bearer is not supported yet"
                    .to_owned(),
            ));
        }
        let tls = super::tls_config(&cfg.tls_config)?;
        let mut b = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .user_agent(user_agent)
            .timeout(TOKEN_REQUEST_TIMEOUT);
        if !cfg.proxy_from_environment {
            b = b.no_proxy();
        }
        if let Some(u) = &cfg.proxy_url {
            let mut p = reqwest::Proxy::all(super::proxy_url(u))
                .map_err(build_err)?
                .no_proxy(reqwest::NoProxy::from_string(&cfg.no_proxy));
            if !cfg.proxy_connect_header.is_empty() {
                let mut headers = HeaderMap::new();
                for (name, values) in &cfg.proxy_connect_header {
                    let name = HeaderName::from_bytes(name.as_bytes()).map_err(build_err)?;
                    for v in values {
                        let v = HeaderValue::from_str(v.expose()).map_err(build_err)?;
                        headers.append(name.clone(), v);
                    }
                }
                p = p.headers(headers);
            }
            b = b.proxy(p);
        }
        Ok(TokenSource {
            cfg: cfg.clone(),
            client: b.build().map_err(build_err)?,
            state: Mutex::new(State::default()),
        })
    }

    /// The `Authorization` value for a request: the cached token while it
    /// is valid and the secret unchanged, else a new one.
    pub(crate) async fn authorization(&self) -> Result<HeaderValue, String> {
        let secret = self.secret().await?;
        let mut st = self.state.lock().await;
        if st.secret.as_deref() != Some(secret.as_str()) {
            *st = State {
                secret: Some(secret),
                ..State::default()
            };
        }
        if let Some(t) = &st.token
            && t.valid(Instant::now())
        {
            return Ok(t.header.clone());
        }
        st.token = None;
        let secret = st.secret.clone().unwrap_or_default();
        let token = self.retrieve(&secret, &mut st.style).await?;
        let header = token.header.clone();
        st.token = Some(token);
        Ok(header)
    }

    /// The client secret now: the file's content (trimmed) or the inline one.
    async fn secret(&self) -> Result<String, String> {
        let file = &self.cfg.client_secret_file;
        if file.is_empty() {
            return Ok(self.cfg.client_secret.expose().to_owned());
        }
        tokio::fs::read_to_string(file)
            .await
            .map(|s| s.trim().to_owned())
            .map_err(|e| format!("unable to read oauth2 client secret file {file}: {e}"))
    }

    /// One client-credentials exchange, probing the auth style if unknown.
    async fn retrieve(&self, secret: &str, style: &mut Option<AuthStyle>) -> Result<Token, String> {
        let params = self.params()?;
        if let Some(s) = *style {
            return self.round_trip(secret, &params, s).await;
        }
        let first = self.round_trip(secret, &params, AuthStyle::Header).await;
        let (result, used) = match first {
            Ok(t) => (Ok(t), AuthStyle::Header),
            Err(_) => (
                self.round_trip(secret, &params, AuthStyle::Params).await,
                AuthStyle::Params,
            ),
        };
        if result.is_ok() {
            *style = Some(used);
        }
        result
    }

    /// The form parameters other than the client's credentials.
    fn params(&self) -> Result<Vec<(String, String)>, String> {
        let mut v = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
        if !self.cfg.scopes.is_empty() {
            v.push(("scope".to_owned(), self.cfg.scopes.join(" ")));
        }
        for (k, p) in &self.cfg.endpoint_params {
            if let Some(slot) = v.iter_mut().find(|(name, _)| name == k) {
                if k != "grant_type" {
                    return Err(format!(
                        "oauth2: cannot overwrite parameter {}",
                        model::matcher::go_quote(k)
                    ));
                }
                slot.1 = p.clone();
            } else {
                v.push((k.clone(), p.clone()));
            }
        }
        Ok(v)
    }

    async fn round_trip(
        &self,
        secret: &str,
        params: &[(String, String)],
        style: AuthStyle,
    ) -> Result<Token, String> {
        let url = &self.cfg.token_url;
        let fail = |m: String| format!("Post {}: {m}", model::matcher::go_quote(url));
        let mut params = params.to_vec();
        let id = &self.cfg.client_id;
        if style == AuthStyle::Params {
            if !id.is_empty() {
                set_param(&mut params, "client_id", id);
            }
            if !secret.is_empty() {
                set_param(&mut params, "client_secret", secret);
            }
        }
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let mut req = self
            .client
            .post(url.as_str())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(encode_form(&params));
        if style == AuthStyle::Header {
            req = req.basic_auth(query_escape(id), Some(query_escape(secret)));
        }
        let mut resp = req.send().await.map_err(|e| fail(error_chain(&e)))?;
        let status = resp.status();
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| fail(format!("oauth2: cannot fetch token: {}", error_chain(&e))))?
        {
            let room = MAX_TOKEN_RESPONSE_BYTES - body.len();
            if chunk.len() >= room {
                body.extend_from_slice(&chunk[..room]);
                break;
            }
            body.extend_from_slice(&chunk);
        }
        let fetched = Instant::now();
        let r = parse_response(status, &content_type, &body).map_err(fail)?;
        Ok(Token {
            header: r.header,
            refresh_at: refresh_at(fetched, r.expires_in),
        })
    }
}

fn set_param(params: &mut Vec<(String, String)>, key: &str, value: &str) {
    params.retain(|(k, _)| k != key);
    params.push((key.to_owned(), value.to_owned()));
}

/// An error and its sources, joined by `: ` (repeats left out).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// When a token fetched at `fetched` that lives `expires_in` seconds
/// (0: forever) stops being used: 10 s before it expires.
fn refresh_at(fetched: Instant, expires_in: i64) -> Option<Instant> {
    if expires_in == 0 {
        return None;
    }
    let delta = expires_in - EXPIRY_DELTA_SECS;
    let d = Duration::from_secs(delta.unsigned_abs());
    Some(if delta >= 0 {
        fetched.checked_add(d).unwrap_or(fetched)
    } else {
        fetched.checked_sub(d).unwrap_or(fetched)
    })
}

/// A successful token response.
#[derive(Debug)]
struct Parsed {
    header: HeaderValue,
    expires_in: i64,
}

#[derive(Default, serde::Deserialize)]
struct TokenJson {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    error_uri: Option<String>,
}

/// Go's `json.Unmarshal` into a struct: an object, or `null` (nothing set).
fn token_json(v: serde_json::Value) -> Result<TokenJson, String> {
    match v {
        serde_json::Value::Null => Ok(TokenJson::default()),
        v @ serde_json::Value::Object(_) => serde_json::from_value(v).map_err(|e| e.to_string()),
        other => Err(format!("cannot unmarshal {other} into a token response")),
    }
}

/// x/oauth2's `expirationTime`: a number or a numeric string, clamped to
/// 32 bits; `null` is 0.
fn expires_in_json(v: Option<&serde_json::Value>) -> Result<i64, String> {
    let n = match v {
        None | Some(serde_json::Value::Null) => return Ok(0),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => return Err(format!("invalid expires_in {other}")),
    };
    let i = n
        .parse::<i64>()
        .map_err(|e| format!("expires_in {n:?}: {e}"))?;
    Ok(i.clamp(i64::from(i32::MIN), i64::from(i32::MAX)))
}

/// Interprets a token endpoint's answer like x/oauth2's `doTokenRoundTrip`.
fn parse_response(
    status: reqwest::StatusCode,
    content_type: &str,
    body: &[u8],
) -> Result<Parsed, String> {
    let failure = !status.is_success();
    let retrieve_error = |code: &str, desc: &str, uri: &str| {
        if code.is_empty() {
            return format!(
                "oauth2: cannot fetch token: {}\nResponse: {}",
                crate::http::status_text(status),
                String::from_utf8_lossy(body)
            );
        }
        let mut s = format!("oauth2: {}", model::matcher::go_quote(code));
        for extra in [desc, uri] {
            if !extra.is_empty() {
                s.push(' ');
                s.push_str(&model::matcher::go_quote(extra));
            }
        }
        s
    };
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let (access, kind, expires_in, code, desc, uri);
    if media == "application/x-www-form-urlencoded" || media == "text/plain" {
        let vals = match parse_query(body) {
            Ok(v) => v,
            Err(_) if failure => return Err(retrieve_error("", "", "")),
            Err(e) => return Err(format!("oauth2: cannot parse response: {e}")),
        };
        let get = |k: &str| {
            vals.iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        access = get("access_token");
        kind = get("token_type");
        expires_in = get("expires_in").parse::<i64>().unwrap_or(0);
        code = get("error");
        desc = get("error_description");
        uri = get("error_uri");
    } else {
        let parsed = serde_json::from_slice::<serde_json::Value>(body)
            .map_err(|e| e.to_string())
            .and_then(token_json)
            .and_then(|t| expires_in_json(t.expires_in.as_ref()).map(|e| (t, e)));
        let (t, e) = match parsed {
            Ok(p) => p,
            Err(_) if failure => return Err(retrieve_error("", "", "")),
            Err(e) => return Err(format!("oauth2: cannot parse json: {e}")),
        };
        access = t.access_token.unwrap_or_default();
        kind = t.token_type.unwrap_or_default();
        expires_in = e;
        code = t.error.unwrap_or_default();
        desc = t.error_description.unwrap_or_default();
        uri = t.error_uri.unwrap_or_default();
    }
    if failure || !code.is_empty() {
        return Err(retrieve_error(&code, &desc, &uri));
    }
    if access.is_empty() {
        return Err("oauth2: server response missing access_token".to_owned());
    }
    let mut header = HeaderValue::from_str(&format!("{} {access}", token_type(&kind)))
        .map_err(|_| "oauth2: access token is not a valid header value".to_owned())?;
    header.set_sensitive(true);
    Ok(Parsed { header, expires_in })
}

/// Go's `Token.Type`.
fn token_type(t: &str) -> &str {
    if t.eq_ignore_ascii_case("bearer") || t.is_empty() {
        "Bearer"
    } else if t.eq_ignore_ascii_case("mac") {
        "MAC"
    } else if t.eq_ignore_ascii_case("basic") {
        "Basic"
    } else {
        t
    }
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    }
    out
}

/// Go's `url.Values.Encode` of pairs already in key order.
fn encode_form(params: &[(String, String)]) -> String {
    let mut out = String::new();
    for (k, v) in params {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&query_escape(k));
        out.push('=');
        out.push_str(&query_escape(v));
    }
    out
}

/// Go's `url.QueryUnescape`.
fn query_unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3).and_then(|h| {
                    let h = std::str::from_utf8(h).ok()?;
                    u8::from_str_radix(h, 16).ok()
                });
                match hex {
                    Some(v) => out.push(v),
                    None => {
                        let end = (i + 3).min(b.len());
                        return Err(format!(
                            "invalid URL escape {}",
                            model::matcher::go_quote(&String::from_utf8_lossy(&b[i..end]))
                        ));
                    }
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `url.ParseQuery` (first error wins).
fn parse_query(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let text = String::from_utf8_lossy(body);
    let mut out = Vec::new();
    for part in text.split('&') {
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        if k.contains(';') {
            return Err("invalid semicolon separator in query".to_owned());
        }
        out.push((query_unescape(k)?, query_unescape(v)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn escapes_like_go() {
        assert_eq!(query_escape("a b/c+d~e_f.g-h"), "a+b%2Fc%2Bd~e_f.g-h");
        assert_eq!(query_escape("é"), "%C3%A9");
        assert_eq!(
            encode_form(&[
                ("grant_type".into(), "client_credentials".into()),
                ("scope".into(), "a b".into()),
            ]),
            "grant_type=client_credentials&scope=a+b"
        );
        assert_eq!(
            parse_query(b"access_token=x%2By+z&expires_in=5&&b").unwrap(),
            vec![
                ("access_token".into(), "x+y z".into()),
                ("expires_in".into(), "5".into()),
                ("b".into(), String::new()),
            ]
        );
        assert_eq!(
            parse_query(b"a=%zz").unwrap_err(),
            "invalid URL escape \"%zz\""
        );
        assert!(parse_query(b"a;b=1").is_err());
    }

    #[test]
    fn parses_responses_like_x_oauth2() {
        let ok = reqwest::StatusCode::OK;
        let json = "application/json; charset=utf-8";
        let p = parse_response(
            ok,
            json,
            br#"{"access_token":"t","token_type":"bearer","expires_in":"3600"}"#,
        )
        .unwrap();
        assert_eq!(p.header.to_str().unwrap(), "Bearer t");
        assert_eq!(p.expires_in, 3600);
        let p = parse_response(ok, json, br#"{"access_token":"t","token_type":"mac"}"#).unwrap();
        assert_eq!(p.header.to_str().unwrap(), "MAC t");
        assert_eq!(p.expires_in, 0);
        assert!(p.header.is_sensitive());
        let p = parse_response(
            ok,
            "application/json",
            br#"{"access_token":"t","expires_in":99999999999}"#,
        )
        .unwrap();
        assert_eq!(p.expires_in, i64::from(i32::MAX));
        let p = parse_response(
            ok,
            "text/plain",
            b"access_token=abc&token_type=Custom&expires_in=60",
        )
        .unwrap();
        assert_eq!(p.header.to_str().unwrap(), "Custom abc");
        assert_eq!(p.expires_in, 60);

        let bad = reqwest::StatusCode::BAD_REQUEST;
        assert_eq!(
            parse_response(bad, json, b"{\"message\":\"no\"}").unwrap_err(),
            "oauth2: cannot fetch token: 400 Bad Request\nResponse: {\"message\":\"no\"}"
        );
        assert_eq!(
            parse_response(bad, json, b"<html>").unwrap_err(),
            "oauth2: cannot fetch token: 400 Bad Request\nResponse: <html>"
        );
        assert_eq!(
            parse_response(
                bad,
                json,
                br#"{"error":"invalid_client","error_description":"bad secret"}"#
            )
            .unwrap_err(),
            "oauth2: \"invalid_client\" \"bad secret\""
        );
        // An error code with a 200 is still an error.
        assert_eq!(
            parse_response(ok, json, br#"{"error":"x"}"#).unwrap_err(),
            "oauth2: \"x\""
        );
        assert_eq!(
            parse_response(ok, json, br#"{"token_type":"bearer"}"#).unwrap_err(),
            "oauth2: server response missing access_token"
        );
        assert!(
            parse_response(ok, json, b"[]")
                .unwrap_err()
                .starts_with("oauth2: cannot parse json: ")
        );
    }

    #[test]
    fn refreshes_ten_seconds_early() {
        let t0 = Instant::now();
        assert_eq!(refresh_at(t0, 0), None);
        assert_eq!(refresh_at(t0, 70), Some(t0 + Duration::from_secs(60)));
        let expired = Token {
            header: HeaderValue::from_static("Bearer x"),
            refresh_at: refresh_at(t0, 5),
        };
        assert!(!expired.valid(t0 + Duration::from_millis(1)));
        let forever = Token {
            header: HeaderValue::from_static("Bearer x"),
            refresh_at: None,
        };
        assert!(forever.valid(t0 + Duration::from_secs(1 << 30)));
    }

    #[test]
    fn params_like_clientcredentials() {
        let mut cfg = OAuth2 {
            client_id: "id".into(),
            token_url: "http://127.0.0.1:1/token".into(),
            scopes: vec!["a".into(), "b".into()],
            ..OAuth2::default()
        };
        cfg.endpoint_params
            .insert("grant_type".into(), "custom".into());
        cfg.endpoint_params.insert("audience".into(), "x".into());
        let ts = TokenSource::new(&cfg, "ua").unwrap();
        let p = ts.params().unwrap();
        assert_eq!(
            p,
            vec![
                ("grant_type".to_owned(), "custom".to_owned()),
                ("scope".to_owned(), "a b".to_owned()),
                ("audience".to_owned(), "x".to_owned()),
            ]
        );
        cfg.endpoint_params.insert("scope".into(), "c".into());
        let ts = TokenSource::new(&cfg, "ua").unwrap();
        assert_eq!(
            ts.params().unwrap_err(),
            "oauth2: cannot overwrite parameter \"scope\""
        );
        cfg.grant_type = "urn:ietf:params:oauth:grant-type:jwt-bearer".into();
        assert!(TokenSource::new(&cfg, "ua").is_err());
    }
}
