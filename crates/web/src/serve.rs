//! Serving the routes over HTTP or HTTPS with `--web.config.file`: TLS with
//! rustls (ring provider), basic authentication with bcrypt, and the extra
//! response headers, as exporter-toolkit's `web.Serve` does.
//!
//! Whether the listener speaks TLS is decided at start, from the file as it
//! is then. After that the file (and the certificate, key and CA files it
//! names) is checked for changes at most once a second, per request and per
//! new connection, and re-read when it changed, so rotated certificates and
//! changed users apply without a restart. A file that became invalid makes
//! requests answer 500 and handshakes fail, as in Prometheus, until fixed.
//!
//! The TLS handshake runs lazily inside the connection's first read or
//! write ([`TlsIo`]), so a slow client never holds up the accept loop.
//! Successful and failed bcrypt verifications are cached (bounded) keyed by
//! user, stored hash and password, because bcrypt is slow by design; cache
//! misses run on the blocking pool one at a time.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::webconfig::{WebConfig, WebConfigError};

/// How often the files are checked for changes.
const RECHECK: Duration = Duration::from_secs(1);
/// Most cached bcrypt verifications.
const AUTH_CACHE_CAPACITY: usize = 100;
/// A bcrypt hash of "fakepassword", checked for unknown users so that
/// response times do not reveal which users exist (as exporter-toolkit).
const FAKE_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// A loaded configuration with its TLS server configuration.
struct Loaded {
    cfg: WebConfig,
    tls: Option<Arc<rustls::ServerConfig>>,
}

type Stamp = Vec<Option<(SystemTime, u64)>>;

struct FileState {
    checked: Instant,
    stamp: Stamp,
    loaded: Result<Arc<Loaded>, String>,
}

/// The web configuration file as it is now.
pub struct WebConfigFile {
    path: PathBuf,
    state: Mutex<FileState>,
    auth_cache: Mutex<HashMap<(String, String, String), bool>>,
    bcrypt: tokio::sync::Mutex<()>,
}

fn stamp_of(path: &Path, cfg: Option<&WebConfig>) -> Stamp {
    let mut files = vec![path.to_path_buf()];
    if let Some(t) = cfg.and_then(|c| c.tls.as_ref()) {
        files.extend(t.files());
    }
    files
        .iter()
        .map(|f| {
            std::fs::metadata(f)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        })
        .collect()
}

fn load(path: &Path) -> Result<Loaded, WebConfigError> {
    let cfg = WebConfig::load(path)?;
    let tls = match &cfg.tls {
        Some(t) => Some(t.server_config().map_err(|message| WebConfigError {
            file: path.to_path_buf(),
            message,
        })?),
        None => None,
    };
    Ok(Loaded { cfg, tls })
}

impl WebConfigFile {
    /// Loads and validates the file; an error names the file and field.
    pub fn open(path: &Path) -> Result<WebConfigFile, WebConfigError> {
        let loaded = load(path)?;
        let stamp = stamp_of(path, Some(&loaded.cfg));
        Ok(WebConfigFile {
            path: path.to_path_buf(),
            state: Mutex::new(FileState {
                checked: Instant::now(),
                stamp,
                loaded: Ok(Arc::new(loaded)),
            }),
            auth_cache: Mutex::new(HashMap::new()),
            bcrypt: tokio::sync::Mutex::new(()),
        })
    }

    /// Whether the configuration (as loaded at start) serves TLS.
    pub fn tls_enabled(&self) -> bool {
        self.current().is_ok_and(|l| l.tls.is_some())
    }

    /// The configuration, re-read if a file changed since the last check.
    fn current(&self) -> Result<Arc<Loaded>, String> {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if st.checked.elapsed() >= RECHECK {
            st.checked = Instant::now();
            let cfg = st.loaded.as_ref().ok().map(|l| &l.cfg);
            let stamp = stamp_of(&self.path, cfg);
            if stamp != st.stamp || st.loaded.is_err() {
                let reloaded = load(&self.path);
                match &reloaded {
                    Ok(_) => tracing::info!(file = %self.path.display(), "reloaded web config"),
                    Err(e) => tracing::error!(err = %e, "unable to parse web config"),
                }
                st.loaded = reloaded.map(Arc::new).map_err(|e| e.to_string());
                let cfg = st.loaded.as_ref().ok().map(|l| &l.cfg);
                st.stamp = stamp_of(&self.path, cfg);
            }
        }
        st.loaded.clone()
    }

    /// Whether `user`/`pass` match the configured hash, from the cache or
    /// by running bcrypt on the blocking pool.
    async fn verify(&self, loaded: &Loaded, user: &str, pass: &str) -> bool {
        let (hash, known) = match loaded.cfg.users.get(user) {
            Some(h) => (h.clone(), true),
            None => (FAKE_HASH.to_string(), false),
        };
        let key = (user.to_string(), hash.clone(), pass.to_string());
        let cached = self
            .auth_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .copied();
        let ok = match cached {
            Some(ok) => ok,
            None => {
                let _one = self.bcrypt.lock().await;
                let pass = pass.to_string();
                let ok = tokio::task::spawn_blocking(move || {
                    bcrypt::verify(pass.as_bytes(), &hash).unwrap_or(false)
                })
                .await
                .unwrap_or(false)
                    && known;
                let mut cache = self
                    .auth_cache
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if cache.len() >= AUTH_CACHE_CAPACITY
                    && let Some(k) = cache.keys().next().cloned()
                {
                    cache.remove(&k);
                }
                cache.insert(key, ok);
                ok
            }
        };
        ok && known
    }
}

/// `user:password` from an `Authorization: Basic` header.
fn basic_credentials(req: &Request) -> Option<(String, String)> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// Go's `http.Error`: the status text and a newline, as plain text.
fn go_error(status: StatusCode) -> Response {
    let mut r = (
        status,
        format!("{}\n", status.canonical_reason().unwrap_or("")),
    )
        .into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// The middleware: extra headers, then basic authentication.
async fn guard(State(file): State<Arc<WebConfigFile>>, req: Request, next: Next) -> Response {
    let loaded = match file.current() {
        Ok(l) => l,
        Err(_) => return go_error(StatusCode::INTERNAL_SERVER_ERROR),
    };
    let mut resp = if loaded.cfg.users.is_empty() {
        next.run(req).await
    } else {
        match basic_credentials(&req) {
            Some((u, p)) if file.verify(&loaded, &u, &p).await => next.run(req).await,
            _ => {
                let mut r = go_error(StatusCode::UNAUTHORIZED);
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
                r
            }
        }
    };
    for (k, v) in &loaded.cfg.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

/// A TLS connection whose handshake runs on its first read or write.
pub enum TlsIo {
    /// Handshaking.
    Handshake(Box<tokio_rustls::Accept<TcpStream>>),
    /// Established.
    Ready(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// The handshake failed or no configuration was usable.
    Failed,
}

impl TlsIo {
    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let TlsIo::Handshake(acc) = self {
            match ready!(Pin::new(acc.as_mut()).poll(cx)) {
                Ok(s) => *self = TlsIo::Ready(Box::new(s)),
                Err(e) => {
                    tracing::debug!(err = %e, "TLS handshake failed");
                    *self = TlsIo::Failed;
                    return Poll::Ready(Err(e));
                }
            }
        }
        match self {
            TlsIo::Failed => Poll::Ready(Err(io::Error::other("TLS handshake failed"))),
            _ => Poll::Ready(Ok(())),
        }
    }

    fn stream(&mut self) -> Option<Pin<&mut tokio_rustls::server::TlsStream<TcpStream>>> {
        match self {
            TlsIo::Ready(s) => Some(Pin::new(s.as_mut())),
            _ => None,
        }
    }
}

fn not_established() -> io::Error {
    io::Error::other("TLS connection not established")
}

impl AsyncRead for TlsIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_handshake(cx))?;
        match this.stream() {
            Some(s) => s.poll_read(cx, buf),
            None => Poll::Ready(Err(not_established())),
        }
    }
}

impl AsyncWrite for TlsIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_handshake(cx))?;
        match this.stream() {
            Some(s) => s.poll_write(cx, buf),
            None => Poll::Ready(Err(not_established())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_handshake(cx))?;
        match this.stream() {
            Some(s) => s.poll_flush(cx),
            None => Poll::Ready(Err(not_established())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this {
            TlsIo::Ready(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            _ => Poll::Ready(Ok(())),
        }
    }
}

/// A TCP listener whose connections speak TLS with the current
/// configuration.
struct TlsListener {
    tcp: TcpListener,
    file: Arc<WebConfigFile>,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsIo;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (TlsIo, std::net::SocketAddr) {
        let (tcp, addr) = axum::serve::Listener::accept(&mut self.tcp).await;
        let io = match self.file.current().map(|l| l.tls.clone()) {
            Ok(Some(cfg)) => {
                TlsIo::Handshake(Box::new(tokio_rustls::TlsAcceptor::from(cfg).accept(tcp)))
            }
            _ => TlsIo::Failed,
        };
        (io, addr)
    }

    fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.tcp.local_addr()
    }
}

/// Serves `app` on `listener` until `shutdown` completes: plain HTTP
/// without a web configuration file, else with its TLS, basic
/// authentication and headers.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    web_config: Option<Arc<WebConfigFile>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let addr = listener.local_addr()?;
    let Some(file) = web_config else {
        tracing::info!(address = %addr, http2 = false, "TLS is disabled.");
        return axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
    };
    let app = app.layer(axum::middleware::from_fn_with_state(file.clone(), guard));
    if file.tls_enabled() {
        tracing::info!(address = %addr, http2 = false, "TLS is enabled.");
        let l = TlsListener {
            tcp: listener,
            file,
        };
        axum::serve(l, app).with_graceful_shutdown(shutdown).await
    } else {
        tracing::info!(address = %addr, http2 = false, "TLS is disabled.");
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }
}
