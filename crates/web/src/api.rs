//! The plumbing every API endpoint shares: request decoding, the response
//! envelope, error types and status codes, readiness and compression.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::Api;
use crate::json::{Writer, escape_into};
use crate::params::Form;

/// Most warnings (and, separately, infos) in one response; the rest are
/// counted in a last entry.
const MAX_ANNOTATIONS: usize = 10;

/// The state behind the routes.
pub(crate) struct Shared {
    pub(crate) api: Api,
    /// Query slots (`--query.max-concurrency`).
    pub(crate) slots: Arc<Semaphore>,
    /// When the router was built, ms.
    pub(crate) started: i64,
    /// The API's own metrics.
    pub(crate) metrics: crate::metrics::ApiMetrics,
}

impl Shared {
    pub(crate) fn new(api: Api) -> Shared {
        let n = if api.options.max_concurrency == 0 {
            Semaphore::MAX_PERMITS
        } else {
            api.options.max_concurrency
        };
        let started = (api.options.clock)();
        let metrics =
            crate::metrics::ApiMetrics::new(api.options.max_concurrency, &api.options.route_prefix);
        Shared {
            api,
            slots: Arc::new(Semaphore::new(n)),
            started,
            metrics,
        }
    }

    /// The clock, ms.
    pub(crate) fn now(&self) -> i64 {
        (self.api.options.clock)()
    }

    /// PromQL parser options (the engine's).
    pub(crate) fn parser(&self) -> promql_syntax::Options {
        self.api.engine.options().parser
    }
}

/// Prometheus's error types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorType {
    BadData,
    Execution,
    Timeout,
    Canceled,
    Internal,
    Unavailable,
}

impl ErrorType {
    fn as_str(self) -> &'static str {
        match self {
            ErrorType::BadData => "bad_data",
            ErrorType::Execution => "execution",
            ErrorType::Timeout => "timeout",
            ErrorType::Canceled => "canceled",
            ErrorType::Internal => "internal",
            ErrorType::Unavailable => "unavailable",
        }
    }

    /// `getDefaultErrorCode`: `canceled` is nginx's 499 (client closed the
    /// connection); `unavailable` is not in Prometheus's table and falls to
    /// its default, 500.
    fn status(self) -> StatusCode {
        match self {
            ErrorType::BadData => StatusCode::BAD_REQUEST,
            ErrorType::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Canceled => {
                StatusCode::from_u16(499).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            ErrorType::Internal | ErrorType::Unavailable => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An API error: type and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) typ: ErrorType,
    pub(crate) msg: String,
}

impl ApiError {
    pub(crate) fn new(typ: ErrorType, msg: impl Into<String>) -> ApiError {
        ApiError {
            typ,
            msg: msg.into(),
        }
    }

    pub(crate) fn bad_data(msg: impl Into<String>) -> ApiError {
        ApiError::new(ErrorType::BadData, msg)
    }

    /// `invalidParamError`: `invalid parameter "<name>": <err>`.
    pub(crate) fn param(name: &str, err: impl std::fmt::Display) -> ApiError {
        ApiError::bad_data(format!("invalid parameter \"{name}\": {err}"))
    }
}

/// What an endpoint produced.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// `data` (encoded JSON) with warnings and infos.
    Data {
        json: String,
        warnings: Vec<String>,
        infos: Vec<String>,
    },
    /// 204 No Content.
    Empty,
    /// An error.
    Error(ApiError),
}

impl Outcome {
    pub(crate) fn data(json: String) -> Outcome {
        Outcome::Data {
            json,
            warnings: Vec::new(),
            infos: Vec::new(),
        }
    }
}

impl From<ApiError> for Outcome {
    fn from(e: ApiError) -> Outcome {
        Outcome::Error(e)
    }
}

/// A decoded request.
pub(crate) struct Req {
    pub(crate) form: Form,
    pub(crate) uri: Uri,
}

impl Req {
    /// Reads the form from the URL and, for form-encoded bodies, the body.
    pub(crate) async fn read(req: Request, max_body: usize) -> Result<Req, ApiError> {
        let (parts, body) = req.into_parts();
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.split(';')
                    .next()
                    .is_some_and(|m| m.trim() == "application/x-www-form-urlencoded")
            });
        let body = if is_form && matches!(parts.method, Method::POST | Method::PUT | Method::PATCH)
        {
            let b = axum::body::to_bytes(body, max_body)
                .await
                .map_err(|e| ApiError::bad_data(format!("error parsing form values: {e}")))?;
            Some(b)
        } else {
            None
        };
        Ok(Req {
            form: Form::new(parts.uri.query(), body.as_deref()),
            uri: parts.uri,
        })
    }
}

/// Runs a synchronous endpoint: readiness, decoding, the envelope.
pub(crate) async fn run(
    shared: Arc<Shared>,
    req: Request,
    f: fn(&Shared, &Req) -> Outcome,
) -> Response {
    if let Some(r) = not_ready(&shared) {
        return r;
    }
    let headers = req.headers().clone();
    let out = match Req::read(req, shared.api.options.max_body_bytes).await {
        Ok(r) => f(&shared, &r),
        Err(e) => Outcome::Error(e),
    };
    respond(&headers, out)
}

/// The 503 Prometheus answers with before it is ready.
pub(crate) fn not_ready(shared: &Shared) -> Option<Response> {
    if shared.api.ready.load(Ordering::Acquire) {
        return None;
    }
    let mut r = (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
    r.headers_mut()
        .insert("X-Prometheus-Stopping", HeaderValue::from_static("false"));
    Some(r)
}

/// Encodes an outcome with the envelope, compressed if the client accepts.
pub(crate) fn respond(req_headers: &HeaderMap, out: Outcome) -> Response {
    let (status, body) = match out {
        Outcome::Data {
            json,
            warnings,
            infos,
        } => (StatusCode::OK, envelope(&json, &warnings, &infos)),
        Outcome::Empty => return StatusCode::NO_CONTENT.into_response(),
        Outcome::Error(e) => (e.typ.status(), error_body(&e)),
    };
    compressed(req_headers, status, "application/json", body.into_bytes())
}

/// `{"status":"success","data":...,"warnings":[...],"infos":[...]}`.
pub(crate) fn envelope(data: &str, warnings: &[String], infos: &[String]) -> String {
    let mut w = Writer::with_capacity(data.len() + 64);
    w.obj().key("status").str("success").key("data").raw(data);
    for (key, list, what) in [("warnings", warnings, "warning"), ("infos", infos, "info")] {
        if list.is_empty() {
            continue;
        }
        w.key(key).arr();
        for s in list.iter().take(MAX_ANNOTATIONS) {
            w.str(s);
        }
        if list.len() > MAX_ANNOTATIONS {
            w.str(&format!(
                "{} more {what} annotations omitted",
                list.len() - MAX_ANNOTATIONS
            ));
        }
        w.end_arr();
    }
    w.end_obj();
    w.finish()
}

/// `{"status":"error","errorType":"...","error":"..."}`.
fn error_body(e: &ApiError) -> String {
    let mut s = String::with_capacity(e.msg.len() + 64);
    s.push_str(r#"{"status":"error","errorType":"#);
    escape_into(&mut s, e.typ.as_str());
    s.push_str(r#","error":"#);
    escape_into(&mut s, &e.msg);
    s.push('}');
    s
}

/// A response with `body`, gzip- or deflate-compressed when the request's
/// `Accept-Encoding` lists one (first listed wins, as Prometheus's
/// `CompressionHandler` picks), always with `Vary: Accept-Encoding`.
pub(crate) fn compressed(
    req_headers: &HeaderMap,
    status: StatusCode,
    content_type: &str,
    body: Vec<u8>,
) -> Response {
    let enc = req_headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .map(str::trim)
                .find(|e| *e == "gzip" || *e == "deflate")
        });
    let (body, enc) = match enc {
        Some("gzip") if !body.is_empty() => {
            let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            match z.write_all(&body).and_then(|()| z.finish()) {
                Ok(b) => (b, Some("gzip")),
                Err(_) => (body, None),
            }
        }
        Some("deflate") if !body.is_empty() => {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            match z.write_all(&body).and_then(|()| z.finish()) {
                Ok(b) => (b, Some("deflate")),
                Err(_) => (body, None),
            }
        }
        _ => (body, None),
    };
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Ok(ct) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, ct);
    }
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Some(e) = enc {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_limits_annotations() {
        let w: Vec<String> = (0..12).map(|i| format!("w{i}")).collect();
        let got = envelope("[]", &w, &["i".into()]);
        assert!(got.ends_with(r#""w9","2 more warning annotations omitted"],"infos":["i"]}"#));
        assert!(got.starts_with(r#"{"status":"success","data":[],"warnings":["w0""#));
    }

    #[test]
    fn error_envelope() {
        let e = ApiError::param("time", "cannot parse \"abc\" to a valid timestamp");
        assert_eq!(
            error_body(&e),
            r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"time\": cannot parse \"abc\" to a valid timestamp"}"#
        );
    }
}
