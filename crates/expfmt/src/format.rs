//! The exposition formats and their content types, and negotiation between
//! a client's `Accept` header and what we can serve.

use std::fmt;

/// An exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// Prometheus text format 1.0.0 (0.0.4 plus quoted UTF-8 names).
    Text1,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
    /// Length-delimited protobuf `io.prometheus.client.MetricFamily`.
    Protobuf,
}

/// The protobuf content type, as Prometheus sends and expects it.
pub const PROTOBUF_CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";
/// The text 0.0.4 content type.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The text 1.0.0 content type.
pub const TEXT1_CONTENT_TYPE: &str = "text/plain; version=1.0.0; charset=utf-8";
/// The OpenMetrics 1.0.0 content type.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

impl Format {
    /// The `Content-Type` to serve this format with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::Text1 => TEXT1_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
            Format::Protobuf => PROTOBUF_CONTENT_TYPE,
        }
    }

    /// The format of a response with this `Content-Type`, as a scraper reads
    /// it; `None` for a missing, unknown or unsupported type (the caller then
    /// applies its fallback protocol).
    pub fn from_content_type(content_type: &str) -> Option<Format> {
        let mut parts = content_type.split(';');
        let media = parts.next()?.trim().to_ascii_lowercase();
        let params: Vec<(String, String)> = parts
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                Some((
                    k.trim().to_ascii_lowercase(),
                    v.trim().trim_matches('"').to_string(),
                ))
            })
            .collect();
        let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        match media.as_str() {
            "text/plain" => match param("version") {
                None | Some("0.0.4") => Some(Format::Text),
                Some("1.0.0") => Some(Format::Text1),
                Some(_) => None,
            },
            "application/openmetrics-text" => match param("version") {
                None | Some("0.0.1") | Some("1.0.0") => Some(Format::OpenMetrics),
                Some(_) => None,
            },
            "application/vnd.google.protobuf" => {
                let proto_ok = param("proto") == Some("io.prometheus.client.MetricFamily");
                let enc_ok = param("encoding") == Some("delimited");
                (proto_ok && enc_ok).then_some(Format::Protobuf)
            }
            _ => None,
        }
    }

    /// Chooses what to serve for an `Accept` header, like client_golang's
    /// `NegotiateIncludingOpenMetrics`: the acceptable type with the highest
    /// q-value wins (ties keep header order); text 0.0.4 when nothing matches.
    pub fn negotiate(accept: &str) -> Format {
        let mut best: Option<(f64, Format)> = None;
        for item in accept.split(',') {
            let mut parts = item.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut q = 1.0f64;
            let mut version = None;
            let mut proto = None;
            let mut encoding = None;
            for p in parts {
                if let Some((k, v)) = p.split_once('=') {
                    let v = v.trim().trim_matches('"');
                    match k.trim().to_ascii_lowercase().as_str() {
                        "q" => q = v.parse().unwrap_or(0.0),
                        "version" => version = Some(v.to_string()),
                        "proto" => proto = Some(v.to_string()),
                        "encoding" => encoding = Some(v.to_string()),
                        _ => {}
                    }
                }
            }
            let candidate = match media.as_str() {
                "application/vnd.google.protobuf"
                    if proto.as_deref() == Some("io.prometheus.client.MetricFamily")
                        && encoding.as_deref() == Some("delimited") =>
                {
                    Some(Format::Protobuf)
                }
                "application/openmetrics-text" => match version.as_deref() {
                    None | Some("1.0.0") | Some("0.0.1") => Some(Format::OpenMetrics),
                    _ => None,
                },
                "text/plain" => match version.as_deref() {
                    Some("1.0.0") => Some(Format::Text1),
                    None | Some("0.0.4") => Some(Format::Text),
                    _ => None,
                },
                "*/*" | "text/*" => Some(Format::Text),
                _ => None,
            };
            if let Some(f) = candidate
                && q > 0.0
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, f));
            }
        }
        best.map_or(Format::Text, |(_, f)| f)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Text => "text 0.0.4",
            Format::Text1 => "text 1.0.0",
            Format::OpenMetrics => "OpenMetrics 1.0",
            Format::Protobuf => "protobuf",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_ct(ct: &str, want: Option<Format>) {
        assert_eq!(Format::from_content_type(ct), want, "content type {ct:?}");
    }

    #[track_caller]
    fn check_accept(accept: &str, want: Format) {
        assert_eq!(Format::negotiate(accept), want, "accept {accept:?}");
    }

    #[test]
    fn content_types() {
        check_ct(
            "text/plain; version=0.0.4; charset=utf-8",
            Some(Format::Text),
        );
        check_ct("text/plain", Some(Format::Text));
        check_ct(
            "text/plain;version=1.0.0;escaping=allow-utf-8",
            Some(Format::Text1),
        );
        check_ct(
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Some(Format::OpenMetrics),
        );
        check_ct(
            "application/openmetrics-text; version=0.0.1",
            Some(Format::OpenMetrics),
        );
        check_ct(PROTOBUF_CONTENT_TYPE, Some(Format::Protobuf));
        check_ct(
            "application/vnd.google.protobuf; proto=other.Type; encoding=delimited",
            None,
        );
        check_ct("application/json", None);
        check_ct("", None);
    }

    #[test]
    fn negotiation() {
        // What Prometheus 3.x sends by default.
        check_accept(
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
            Format::OpenMetrics,
        );
        check_accept(
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,text/plain;q=0.5",
            Format::Protobuf,
        );
        check_accept("text/plain;version=0.0.4", Format::Text);
        check_accept("", Format::Text);
        check_accept("application/json", Format::Text);
        check_accept(
            "text/plain;q=0.1,application/openmetrics-text;q=0.9",
            Format::OpenMetrics,
        );
    }
}
