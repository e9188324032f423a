//! Test support: an in-memory storage and a tiny HTTP/1.1 server whose
//! responses the tests script (including hostile ones).

#![allow(dead_code, clippy::unwrap_used, unreachable_pub, missing_docs)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use model::{Labels, Timestamp, is_stale_nan};
use storage::{AppendError, Appendable, Appender, Exemplar, Sample, SeriesRef};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A committed sample.
#[derive(Clone, Debug)]
pub struct Committed {
    pub labels: Labels,
    pub t: i64,
    pub v: f64,
    pub histogram: bool,
}

#[derive(Default)]
struct Inner {
    refs: HashMap<Labels, u64>,
    last: HashMap<u64, (i64, u64)>,
    samples: Vec<Committed>,
    commits: usize,
    /// `append_by_ref` knows no reference (a storage that dropped them).
    forget_refs: bool,
}

/// An in-memory storage with Prometheus's order rules per series.
#[derive(Clone, Default)]
pub struct MemStorage(Arc<Mutex<Inner>>);

struct MemAppender {
    inner: Arc<Mutex<Inner>>,
    pending: Vec<(u64, Committed)>,
}

impl Appendable for MemStorage {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(MemAppender {
            inner: self.0.clone(),
            pending: Vec::new(),
        })
    }
}

impl Appender for MemAppender {
    fn append(
        &mut self,
        _hint: Option<SeriesRef>,
        labels: &Labels,
        t: Timestamp,
        sample: Sample<'_>,
    ) -> Result<SeriesRef, AppendError> {
        let mut inner = self.inner.lock().unwrap();
        let n = inner.refs.len() as u64 + 1;
        let r = *inner.refs.entry(labels.clone()).or_insert(n);
        let (v, histogram) = match sample {
            Sample::Float(v) => (v, false),
            _ => (0.0, true),
        };
        let last = self
            .pending
            .iter()
            .rev()
            .find(|(pr, _)| *pr == r)
            .map(|(_, c)| (c.t, c.v.to_bits()))
            .or_else(|| inner.last.get(&r).copied());
        if let Some((lt, lv)) = last {
            if t.0 < lt {
                return Err(AppendError::OutOfOrder);
            }
            if t.0 == lt && lv != v.to_bits() {
                return Err(AppendError::DuplicateTimestamp);
            }
        }
        self.pending.push((
            r,
            Committed {
                labels: labels.clone(),
                t: t.0,
                v,
                histogram,
            },
        ));
        Ok(SeriesRef(r))
    }

    fn append_by_ref(
        &mut self,
        series: SeriesRef,
        t: Timestamp,
        sample: Sample<'_>,
    ) -> Result<Option<SeriesRef>, AppendError> {
        let labels = {
            let inner = self.inner.lock().unwrap();
            if inner.forget_refs {
                return Ok(None);
            }
            match inner.refs.iter().find(|(_, r)| **r == series.0) {
                Some((l, _)) => l.clone(),
                None => return Ok(None),
            }
        };
        self.append(None, &labels, t, sample).map(Some)
    }

    fn append_exemplar(
        &mut self,
        hint: Option<SeriesRef>,
        _labels: &Labels,
        _exemplar: &Exemplar,
    ) -> Result<SeriesRef, AppendError> {
        Ok(hint.unwrap_or_default())
    }

    fn update_metadata(
        &mut self,
        hint: Option<SeriesRef>,
        _labels: &Labels,
        _metadata: &model::Metadata,
    ) -> Result<SeriesRef, AppendError> {
        Ok(hint.unwrap_or_default())
    }

    fn commit(self: Box<Self>) -> Result<(), AppendError> {
        let mut inner = self.inner.lock().unwrap();
        inner.commits += 1;
        for (r, c) in self.pending {
            inner.last.insert(r, (c.t, c.v.to_bits()));
            inner.samples.push(c);
        }
        Ok(())
    }

    fn rollback(self: Box<Self>) {}
}

impl MemStorage {
    /// From now on, answers every `append_by_ref` with "unknown reference".
    pub fn forget_refs(&self) {
        self.0.lock().unwrap().forget_refs = true;
    }

    pub fn samples(&self) -> Vec<Committed> {
        self.0.lock().unwrap().samples.clone()
    }

    /// Samples of series whose labels print as `series` (`{__name__="up", ...}`).
    pub fn series(&self, series: &str) -> Vec<(i64, f64)> {
        self.samples()
            .into_iter()
            .filter(|c| c.labels.to_string() == series)
            .map(|c| (c.t, c.v))
            .collect()
    }

    /// Values of the series named `name` (any labels), in commit order.
    pub fn values(&self, name: &str) -> Vec<f64> {
        self.samples()
            .into_iter()
            .filter(|c| c.labels.get("__name__") == Some(name))
            .map(|c| c.v)
            .collect()
    }

    /// Distinct label sets, printed and sorted.
    pub fn label_sets(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .samples()
            .iter()
            .map(|c| c.labels.to_string())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Label sets of non-stale samples.
    pub fn live_label_sets(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .samples()
            .iter()
            .filter(|c| !is_stale_nan(c.v))
            .map(|c| c.labels.to_string())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Waits until `f` holds (panics after `limit`).
    pub async fn wait_for(&self, limit: Duration, what: &str, f: impl Fn(&MemStorage) -> bool) {
        let deadline = tokio::time::Instant::now() + limit;
        while !f(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; samples: {:#?}",
                self.samples()
                    .iter()
                    .map(|c| format!("{} {} {}", c.labels, c.t, c.v))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// What the test server answers.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A complete response.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Headers, then `chunk` repeated forever.
    Endless {
        content_type: String,
        chunk: Vec<u8>,
    },
    /// Headers, then `body` one byte per `delay`.
    Drip {
        content_type: String,
        body: Vec<u8>,
        delay: Duration,
    },
    /// Never answers.
    Hang,
}

impl Reply {
    pub fn text(body: &str) -> Reply {
        Reply::Full {
            status: 200,
            headers: vec![(
                "Content-Type".into(),
                "text/plain; version=0.0.4; charset=utf-8".into(),
            )],
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn with(content_type: &str, body: Vec<u8>) -> Reply {
        Reply::Full {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
        }
    }
}

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub struct Request {
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// A scripted HTTP server on loopback.
#[derive(Clone)]
pub struct Server {
    pub addr: String,
    handler: Arc<Mutex<Handler>>,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    pub async fn start(reply: Reply) -> Server {
        Server::start_fn(move |_| reply.clone()).await
    }

    pub async fn start_fn(f: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let handler: Arc<Mutex<Handler>> = Arc::new(Mutex::new(Arc::new(f)));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let s = Server {
            addr,
            handler: handler.clone(),
            requests: requests.clone(),
        };
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let handler = handler.clone();
                let requests = requests.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut tmp = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut tmp).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&tmp[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    let mut lines = text.split("\r\n");
                    let path = lines
                        .next()
                        .unwrap_or("")
                        .split(' ')
                        .nth(1)
                        .unwrap_or("")
                        .to_owned();
                    let headers = lines
                        .take_while(|l| !l.is_empty())
                        .filter_map(|l| l.split_once(':'))
                        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                        .collect();
                    let req = Request { path, headers };
                    requests.lock().unwrap().push(req.clone());
                    let h = handler.lock().unwrap().clone();
                    let reply = h(&req);
                    let _ = write_reply(&mut sock, reply).await;
                });
            }
        });
        s
    }

    /// Replaces the handler.
    pub fn set(&self, f: impl Fn(&Request) -> Reply + Send + Sync + 'static) {
        *self.handler.lock().unwrap() = Arc::new(f);
    }

    pub fn set_reply(&self, r: Reply) {
        self.set(move |_| r.clone());
    }

    pub fn last_request(&self) -> Option<Request> {
        self.requests.lock().unwrap().last().cloned()
    }
}

async fn write_reply(sock: &mut tokio::net::TcpStream, reply: Reply) -> std::io::Result<()> {
    match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (n, v) in headers {
                head.push_str(&format!("{n}: {v}\r\n"));
            }
            head.push_str("\r\n");
            sock.write_all(head.as_bytes()).await?;
            sock.write_all(&body).await?;
            sock.shutdown().await
        }
        Reply::Endless {
            content_type,
            chunk,
        } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nConnection: close\r\n\r\n"
            );
            sock.write_all(head.as_bytes()).await?;
            loop {
                sock.write_all(&chunk).await?;
            }
        }
        Reply::Drip {
            content_type,
            body,
            delay,
        } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nConnection: close\r\n\r\n"
            );
            sock.write_all(head.as_bytes()).await?;
            for b in body {
                sock.write_all(&[b]).await?;
                tokio::time::sleep(delay).await;
            }
            sock.shutdown().await
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        }
    }
}

/// The scrape configs of `yaml` with their static targets, applied to a
/// new manager.
pub fn manager(storage: &MemStorage, yaml: &str) -> (scrape::Manager, config::Config) {
    let cfg = config::Config::load_str(yaml).unwrap();
    let m = scrape::Manager::new(Arc::new(storage.clone()), scrape::Options::default());
    m.apply_config(&cfg).unwrap();
    m.sync(static_sets(&cfg));
    (m, cfg)
}

/// Target sets of the static configs of `cfg`.
pub fn static_sets(cfg: &config::Config) -> discovery::TargetSets {
    cfg.scrape_configs
        .iter()
        .map(|sc| {
            (
                sc.job_name.clone(),
                discovery::static_sd::StaticProvider::new(&sc.discovery.static_configs)
                    .groups()
                    .to_vec(),
            )
        })
        .collect()
}

/// `{__name__="name", instance="addr", job="job"}` plus extra labels.
pub fn series(name: &str, job: &str, addr: &str, extra: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(&str, &str)> = vec![("__name__", name), ("job", job), ("instance", addr)];
    pairs.extend_from_slice(extra);
    Labels::from_pairs(pairs).to_string()
}
