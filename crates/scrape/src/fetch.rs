//! The HTTP side of a scrape: the request Prometheus sends and a response
//! body read with its size bounded while it streams (after gzip decoding,
//! so a compressed bomb is bounded too).
//!
//! Connections are kept alive between scrapes, except for targets whose
//! previous body reached [`KEEP_ALIVE_MAX_BODY`]: those ask for
//! `Connection: close`. An idle keep-alive connection keeps its read buffer,
//! which hyper sizes after the largest reads (up to ~400 KiB), so 500 idle
//! connections to targets of ~250 KB bodies hold ~125 MB; reconnecting costs
//! far less than parsing such a body. (Prometheus's Go client keeps 4 KiB
//! per idle connection and always keeps them alive.)

use std::time::Duration;

use config::global::{EscapingScheme, ScrapeProtocol};
use discovery::client::HttpClient;

/// Previous body size from which a target's connection is not kept alive.
pub(crate) const KEEP_ALIVE_MAX_BODY: usize = 64 << 10;

/// Why a scrape failed before parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The body reached `body_size_limit`.
    #[error("body size limit exceeded")]
    BodySizeLimit,
    /// Anything else (connection, status, timeout), worded like Prometheus.
    #[error("{0}")]
    Other(String),
}

/// A target's request settings.
#[derive(Debug, Clone)]
pub(crate) struct Scraper {
    pub(crate) client: HttpClient,
    pub(crate) url: String,
    pub(crate) accept: String,
    pub(crate) compression: bool,
    pub(crate) timeout: Duration,
    /// Bytes at which the body is refused (`None`: unbounded).
    pub(crate) body_limit: Option<u64>,
}

/// Prometheus's `Accept` header for `protocols`: q-values counting down
/// from 0.6, `escaping=` on the formats that take it, then `*/*`.
pub fn accept_header(protocols: &[ScrapeProtocol], escaping: EscapingScheme) -> String {
    let mut vals = Vec::new();
    let mut weight = ScrapeProtocol::ALL.len() + 1;
    for p in protocols {
        let mut v = p.header().to_owned();
        if matches!(
            p,
            ScrapeProtocol::PrometheusText1_0_0 | ScrapeProtocol::OpenMetricsText1_0_0
        ) {
            v.push_str(";escaping=");
            v.push_str(escaping_name(escaping));
        }
        v.push_str(&format!(";q=0.{weight}"));
        vals.push(v);
        weight = weight.saturating_sub(1);
    }
    vals.push(format!("*/*;q=0.{weight}"));
    vals.join(",")
}

fn escaping_name(e: EscapingScheme) -> &'static str {
    match e {
        EscapingScheme::AllowUtf8 => "allow-utf-8",
        EscapingScheme::Underscores => "underscores",
        EscapingScheme::Dots => "dots",
        EscapingScheme::Values => "values",
    }
}

/// The error's chain joined with `: `, innermost last.
fn chain(e: &dyn std::error::Error) -> String {
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

impl Scraper {
    /// Scrapes into `buf` (cleared first); returns the `Content-Type`.
    /// `last_len` is the previous body's size (see the module docs).
    pub(crate) async fn fetch(
        &self,
        buf: &mut Vec<u8>,
        last_len: usize,
    ) -> Result<String, FetchError> {
        buf.clear();
        let keep_alive = last_len < KEEP_ALIVE_MAX_BODY;
        match tokio::time::timeout(self.timeout, self.fetch_inner(buf, keep_alive)).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Other(format!(
                "Get {:?}: context deadline exceeded",
                self.url
            ))),
        }
    }

    async fn fetch_inner(&self, buf: &mut Vec<u8>, keep_alive: bool) -> Result<String, FetchError> {
        let get_err = |e: &dyn std::error::Error| {
            FetchError::Other(format!("Get {:?}: {}", self.url, chain(e)))
        };
        let mut req = self
            .client
            .get(&self.url)
            .map_err(|e| get_err(&e))?
            .header(reqwest::header::ACCEPT, &self.accept)
            .header(
                "X-Prometheus-Scrape-Timeout-Seconds",
                discovery::http::format_seconds(self.timeout),
            );
        if !self.compression {
            req = req.header(reqwest::header::ACCEPT_ENCODING, "identity");
        }
        if !keep_alive {
            req = req.header(reqwest::header::CONNECTION, "close");
        }
        let mut resp = req.send().await.map_err(|e| get_err(&e))?;
        if resp.status() != reqwest::StatusCode::OK {
            return Err(FetchError::Other(format!(
                "server returned HTTP status {}",
                discovery::http::status_text(resp.status())
            )));
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let limit = self.body_limit.unwrap_or(u64::MAX);
        while let Some(chunk) = resp.chunk().await.map_err(|e| get_err(&e))? {
            if (buf.len() + chunk.len()) as u64 >= limit {
                return Err(FetchError::BodySizeLimit);
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(content_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_like_prometheus() {
        assert_eq!(
            accept_header(&ScrapeProtocol::DEFAULT, EscapingScheme::Underscores),
            "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,\
             application/openmetrics-text;version=0.0.1;q=0.5,\
             text/plain;version=1.0.0;escaping=underscores;q=0.4,\
             text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        );
        assert_eq!(
            accept_header(
                &[ScrapeProtocol::PrometheusProto],
                EscapingScheme::AllowUtf8
            ),
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,*/*;q=0.5"
        );
    }
}
