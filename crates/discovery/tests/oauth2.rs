//! OAuth2 client credentials through the shared HTTP client, against an
//! in-test token endpoint and a protected server on loopback: the first
//! request fetches a token, later ones reuse it, an expired one is
//! refreshed, a rotated `client_secret_file` gets a new one, the auth style
//! falls back to form parameters like x/oauth2, token endpoint failures are
//! the request's error, and HTTP SD works through it.

#![allow(clippy::unwrap_used, missing_docs)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use config::Secret;
use config::http::{HttpClientConfig, OAuth2};
use discovery::client::{ClientOptions, HttpClient};

const CLIENT_ID: &str = "ember client";
const SECRET: &str = "s3cr3t/1";
/// The form every accepted token request carries (keys sorted, Go's
/// escaping), before the client's credentials.
const FORM: &str = "audience=metrics&grant_type=client_credentials&scope=read+write";

#[derive(Default)]
struct Auth {
    /// The client secret the token endpoint accepts.
    secret: Mutex<String>,
    /// `expires_in` of issued tokens (none: left out).
    expires_in: Mutex<Option<i64>>,
    /// Token requests, accepted or not.
    attempts: AtomicUsize,
    /// Tokens issued, in order.
    issued: Mutex<Vec<String>>,
    /// `Authorization` headers the protected server saw.
    seen: Mutex<Vec<String>>,
    /// `User-Agent` of token requests.
    agents: Mutex<Vec<String>>,
}

impl Auth {
    fn new(expires_in: Option<i64>) -> Arc<Auth> {
        let a = Auth::default();
        *a.secret.lock().unwrap() = SECRET.to_owned();
        *a.expires_in.lock().unwrap() = expires_in;
        Arc::new(a)
    }

    fn fetches(&self) -> usize {
        self.issued.lock().unwrap().len()
    }

    fn issue(&self) -> Response {
        let mut issued = self.issued.lock().unwrap();
        let tok = format!("tok-{}", issued.len() + 1);
        issued.push(tok.clone());
        let mut body = serde_json::json!({"access_token": tok, "token_type": "bearer"});
        if let Some(e) = *self.expires_in.lock().unwrap() {
            body["expires_in"] = e.into();
        }
        (
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }
}

fn base64(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in input.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Go's `url.QueryEscape` for the few characters the test uses.
fn escape(s: &str) -> String {
    s.replace('/', "%2F").replace(' ', "+")
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"error":"invalid_client"}"#,
    )
        .into_response()
}

/// Accepts only basic auth with the escaped id and secret.
async fn token(State(a): State<Arc<Auth>>, headers: HeaderMap, body: String) -> Response {
    a.attempts.fetch_add(1, Ordering::SeqCst);
    let secret = a.secret.lock().unwrap().clone();
    let want = format!(
        "Basic {}",
        base64(format!("{}:{}", escape(CLIENT_ID), escape(&secret)).as_bytes())
    );
    let text = |h| {
        headers
            .get(h)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
    };
    a.agents
        .lock()
        .unwrap()
        .push(text(header::USER_AGENT).unwrap_or("").to_owned());
    if text(header::CONTENT_TYPE) != Some("application/x-www-form-urlencoded")
        || text(header::AUTHORIZATION) != Some(want.as_str())
        || body != FORM
    {
        return unauthorized();
    }
    a.issue()
}

/// Accepts only the credentials as form parameters.
async fn token_params(State(a): State<Arc<Auth>>, headers: HeaderMap, body: String) -> Response {
    a.attempts.fetch_add(1, Ordering::SeqCst);
    let want = format!(
        "audience=metrics&client_id={}&client_secret={}&grant_type=client_credentials&scope=read+write",
        escape(CLIENT_ID),
        escape(SECRET)
    );
    if headers.contains_key(header::AUTHORIZATION) || body != want {
        return unauthorized();
    }
    a.issue()
}

async fn token_bad(State(a): State<Arc<Auth>>) -> Response {
    a.attempts.fetch_add(1, Ordering::SeqCst);
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"message":"nope"}"#,
    )
        .into_response()
}

/// The protected resource: only the newest token is accepted.
fn check(a: &Auth, headers: &HeaderMap) -> bool {
    let got = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    a.seen.lock().unwrap().push(got.clone());
    let newest = a.issued.lock().unwrap().last().cloned();
    newest.is_some_and(|t| got == format!("Bearer {t}"))
}

async fn metrics(State(a): State<Arc<Auth>>, headers: HeaderMap) -> Response {
    if check(&a, &headers) {
        "up 1\n".into_response()
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

async fn sd(State(a): State<Arc<Auth>>, headers: HeaderMap) -> Response {
    if check(&a, &headers) {
        (
            [(header::CONTENT_TYPE, "application/json")],
            r#"[{"targets": ["a:1"]}]"#,
        )
            .into_response()
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

async fn serve(a: Arc<Auth>) -> SocketAddr {
    let app = Router::new()
        .route("/token", post(token))
        .route("/token-params", post(token_params))
        .route("/token-bad", post(token_bad))
        .route("/metrics", get(metrics))
        .route("/sd", get(sd))
        .with_state(a);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    addr
}

fn oauth2(addr: SocketAddr, path: &str) -> OAuth2 {
    let mut o = OAuth2 {
        client_id: CLIENT_ID.to_owned(),
        client_secret: Secret::new(SECRET),
        scopes: vec!["read".to_owned(), "write".to_owned()],
        token_url: format!("http://{addr}{path}"),
        ..OAuth2::default()
    };
    o.endpoint_params
        .insert("audience".to_owned(), "metrics".to_owned());
    o
}

fn client(o: OAuth2) -> HttpClient {
    let cfg = HttpClientConfig {
        oauth2: Some(o),
        follow_redirects: true,
        ..HttpClientConfig::default()
    };
    let options = ClientOptions {
        user_agent: "ember-test".to_owned(),
        gzip: true,
    };
    HttpClient::new(&cfg, &options).unwrap()
}

/// GETs `/metrics`; the status, or the error's text.
async fn scrape(c: &HttpClient, addr: SocketAddr) -> Result<u16, String> {
    let req = c
        .get(&format!("http://{addr}/metrics"))
        .unwrap()
        .header(header::ACCEPT, "text/plain");
    tokio::time::timeout(Duration::from_secs(10), req.send())
        .await
        .expect("request timed out")
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn token_is_reused_then_refreshed_before_expiry() {
    // Valid for 11 s, so refreshed (10 s early) after 1 s.
    let a = Auth::new(Some(11));
    let addr = serve(a.clone()).await;
    let c = client(oauth2(addr, "/token"));

    assert_eq!(scrape(&c, addr).await, Ok(200));
    assert_eq!(a.fetches(), 1);
    assert_eq!(a.attempts.load(Ordering::SeqCst), 1);
    assert_eq!(*a.agents.lock().unwrap(), ["ember-test"]);
    for _ in 0..3 {
        assert_eq!(scrape(&c, addr).await, Ok(200));
    }
    assert_eq!(a.fetches(), 1);

    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(scrape(&c, addr).await, Ok(200));
    assert_eq!(a.fetches(), 2);
    let seen = a.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 5);
    assert!(seen[..4].iter().all(|s| s == "Bearer tok-1"), "{seen:?}");
    assert_eq!(seen[4], "Bearer tok-2");
}

#[tokio::test]
async fn token_without_expiry_is_kept_and_fetched_once_for_concurrent_requests() {
    let a = Auth::new(None);
    let addr = serve(a.clone()).await;
    let c = client(oauth2(addr, "/token"));

    let mut tasks = Vec::new();
    for _ in 0..8 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move { scrape(&c, addr).await }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), Ok(200));
    }
    assert_eq!(scrape(&c, addr).await, Ok(200));
    assert_eq!(a.fetches(), 1);
    assert_eq!(a.attempts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn rotated_client_secret_file_gets_a_new_token() {
    let a = Auth::new(Some(3600));
    let addr = serve(a.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let mut o = oauth2(addr, "/token");
    o.client_secret = Secret::default();
    o.client_secret_file = file.to_str().unwrap().to_owned();
    let c = client(o);

    assert_eq!(scrape(&c, addr).await, Ok(200));
    assert_eq!(scrape(&c, addr).await, Ok(200));
    assert_eq!(a.fetches(), 1);

    *a.secret.lock().unwrap() = "rotated secret".to_owned();
    std::fs::write(&file, "rotated secret").unwrap();
    assert_eq!(scrape(&c, addr).await, Ok(200));
    assert_eq!(a.fetches(), 2);
    assert_eq!(scrape(&c, addr).await, Ok(200));
    assert_eq!(a.fetches(), 2);
    assert_eq!(a.seen.lock().unwrap().last().unwrap(), "Bearer tok-2");

    std::fs::remove_file(&file).unwrap();
    let err = scrape(&c, addr).await.unwrap_err();
    assert!(
        err.starts_with(&format!(
            "unable to read oauth2 client secret file {}: ",
            file.display()
        )),
        "{err}"
    );
}

#[tokio::test]
async fn falls_back_to_credentials_in_the_form_and_remembers_it() {
    // expires_in 10: due for refresh at once, so every request fetches.
    let a = Auth::new(Some(10));
    let addr = serve(a.clone()).await;
    let c = client(oauth2(addr, "/token-params"));

    assert_eq!(scrape(&c, addr).await, Ok(200));
    // Basic auth first, refused; then the form parameters.
    assert_eq!(a.attempts.load(Ordering::SeqCst), 2);
    assert_eq!(scrape(&c, addr).await, Ok(200));
    assert_eq!(a.attempts.load(Ordering::SeqCst), 3);
    assert_eq!(a.fetches(), 2);
    assert_eq!(a.seen.lock().unwrap().last().unwrap(), "Bearer tok-2");
}

#[tokio::test]
async fn token_endpoint_errors_are_the_request_error() {
    let a = Auth::new(Some(3600));
    let addr = serve(a.clone()).await;

    let c = client(oauth2(addr, "/token-bad"));
    let err = scrape(&c, addr).await.unwrap_err();
    assert_eq!(
        err,
        format!(
            "Post \"http://{addr}/token-bad\": oauth2: cannot fetch token: 400 Bad Request\nResponse: {{\"message\":\"nope\"}}"
        )
    );
    // Both auth styles were tried; the target was never asked.
    assert_eq!(a.attempts.load(Ordering::SeqCst), 2);
    assert!(a.seen.lock().unwrap().is_empty());

    // A wrong secret: the endpoint's RFC 6749 error.
    let mut o = oauth2(addr, "/token");
    o.client_secret = Secret::new("wrong");
    let err = scrape(&client(o), addr).await.unwrap_err();
    assert_eq!(
        err,
        format!("Post \"http://{addr}/token\": oauth2: \"invalid_client\"")
    );

    // Nobody listening.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = l.local_addr().unwrap();
    drop(l);
    let err = scrape(&client(oauth2(closed, "/token")), addr)
        .await
        .unwrap_err();
    assert!(
        err.starts_with(&format!("Post \"http://{closed}/token\": ")),
        "{err}"
    );
    assert!(a.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn http_sd_with_oauth2() {
    let a = Auth::new(Some(3600));
    let addr = serve(a.clone()).await;
    let yaml = format!(
        "scrape_configs:\n- job_name: h\n  http_sd_configs:\n  - url: 'http://{addr}/sd'\n    oauth2:\n      client_id: '{CLIENT_ID}'\n      client_secret: '{SECRET}'\n      token_url: 'http://{addr}/token'\n      scopes: [read, write]\n      endpoint_params: {{audience: metrics}}\n"
    );
    let cfg = config::Config::load_str(&yaml).unwrap();
    let sd = &cfg.scrape_configs[0].discovery.http_sd_configs[0];
    let mut p = discovery::http::HttpProvider::new(sd).unwrap();
    let groups = p.refresh().await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].targets[0].get("__address__"), Some("a:1"));
    assert_eq!(p.refresh().await.unwrap().len(), 1);
    assert_eq!(a.fetches(), 1);
    let agents = a.agents.lock().unwrap().clone();
    assert!(agents[0].starts_with("Ember/"), "{agents:?}");
    assert_eq!(*a.seen.lock().unwrap(), ["Bearer tok-1", "Bearer tok-1"]);
}
