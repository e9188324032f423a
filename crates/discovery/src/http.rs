//! `http_sd_configs`: target groups from a JSON endpoint.
//!
//! Polls `url` every `refresh_interval` with `Accept: application/json` and
//! `X-Prometheus-Refresh-Interval-Seconds`; a response must be 200 with a
//! JSON content type and a JSON array of `{targets, labels}` groups. Each
//! group gets `__meta_url` and the source `<url>:<index>`; groups beyond
//! the new count are removed. A failed refresh keeps the last good groups
//! and is logged. The body is read with a size cap ([`MAX_BODY_BYTES`]).

use std::collections::BTreeMap;
use std::time::Duration;

use model::{Labels, LabelsBuilder};
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::client::{ClientOptions, HttpClient};
use crate::{ADDRESS_LABEL, BoxFuture, Error, Provider, TargetGroup};

/// The label naming the endpoint a target came from.
pub const URL_LABEL: &str = "__meta_url";

/// The largest response accepted.
pub const MAX_BODY_BYTES: usize = 64 << 20;

/// Polls an HTTP endpoint for targets.
#[derive(Debug)]
pub struct HttpProvider {
    url: String,
    refresh_interval: Duration,
    client: HttpClient,
    last_len: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

impl HttpProvider {
    /// A provider for one `http_sd_configs` entry.
    pub fn new(cfg: &config::discovery::HttpSdConfig) -> Result<HttpProvider, Error> {
        let client = HttpClient::new(&cfg.http, &ClientOptions::default())?;
        Ok(HttpProvider {
            url: cfg.url.to_string(),
            refresh_interval: cfg.refresh_interval.as_std(),
            client,
            last_len: 0,
        })
    }

    fn err(&self, message: impl Into<String>) -> Error {
        Error::Http {
            url: self.url.clone(),
            message: message.into(),
        }
    }

    /// One refresh: the groups (with emptied ones for vanished indices).
    pub async fn refresh(&mut self) -> Result<Vec<TargetGroup>, Error> {
        let req = self
            .client
            .get(&self.url)?
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                "X-Prometheus-Refresh-Interval-Seconds",
                format_seconds(self.refresh_interval),
            );
        let fetch = async {
            let mut resp = req.send().await.map_err(|e| self.err(e.to_string()))?;
            if resp.status() != reqwest::StatusCode::OK {
                return Err(self.err(format!(
                    "server returned HTTP status {}",
                    status_text(resp.status())
                )));
            }
            let ct = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .trim()
                .to_owned();
            let media = ct.split(';').next().unwrap_or("");
            if media != "application/json" {
                return Err(self.err(format!("unsupported content type {ct:?}")));
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| self.err(e.to_string()))? {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(self.err(format!("response larger than {MAX_BODY_BYTES} bytes")));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        };
        let body = tokio::time::timeout(self.refresh_interval.max(Duration::from_secs(1)), fetch)
            .await
            .map_err(|_| self.err("timeout"))??;
        let raw: Vec<Option<RawGroup>> =
            serde_json::from_slice(&body).map_err(|e| self.err(e.to_string()))?;
        let mut out = Vec::with_capacity(raw.len().max(self.last_len));
        for (i, g) in raw.into_iter().enumerate() {
            let g = g.ok_or_else(|| self.err("nil target group item found"))?;
            let mut b = LabelsBuilder::new();
            for (k, v) in g.labels.iter().flatten() {
                b.set(k, v);
            }
            b.set(URL_LABEL, &self.url);
            out.push(TargetGroup {
                source: format!("{}:{i}", self.url),
                targets: g
                    .targets
                    .iter()
                    .map(|t| Labels::from_pairs([(ADDRESS_LABEL, t.as_str())]))
                    .collect(),
                labels: b.labels(),
            });
        }
        let n = out.len();
        for i in n..self.last_len {
            out.push(TargetGroup {
                source: format!("{}:{i}", self.url),
                ..TargetGroup::default()
            });
        }
        self.last_len = n;
        Ok(out)
    }
}

/// Go's `strconv.FormatFloat(d.Seconds(), 'f', -1, 64)`.
pub fn format_seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    let mut t = format!("{s}");
    if t.ends_with(".0") {
        t.truncate(t.len() - 2);
    }
    t
}

/// `200 OK`, as Go prints a response status.
pub fn status_text(s: reqwest::StatusCode) -> String {
    match s.canonical_reason() {
        Some(r) => format!("{} {r}", s.as_u16()),
        None => s.as_u16().to_string(),
    }
}

impl Provider for HttpProvider {
    fn name(&self) -> &'static str {
        "http"
    }

    fn run(mut self: Box<Self>, updates: mpsc::Sender<Vec<TargetGroup>>) -> BoxFuture {
        Box::pin(async move {
            loop {
                match self.refresh().await {
                    Ok(groups) => {
                        if updates.send(groups).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::error!(err = %e, "http_sd: keeping the last good targets");
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(self.refresh_interval) => {}
                    _ = updates.closed() => return,
                }
            }
        })
    }
}
