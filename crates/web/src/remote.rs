//! `/api/v1/write` (the remote write receiver) and `/api/v1/read`
//! (remote read): body reading here, everything else in the `remote` crate,
//! run on the blocking pool.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api::{Shared, not_ready};
use crate::metrics::InFlight;

fn to_http(r: ::remote::Response) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = (status, Body::from(r.body)).into_response();
    for (name, value) in r.headers {
        if let Ok(v) = HeaderValue::from_str(&value)
            // `from_bytes` lower-cases the mixed-case names.
            && let Ok(n) = HeaderName::from_bytes(name.as_bytes())
        {
            out.headers_mut().insert(n, v);
        }
    }
    out
}

fn header_str(req: &Request, name: header::HeaderName) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn body(req: Request, limit: usize) -> Result<Vec<u8>, Response> {
    match axum::body::to_bytes(req.into_body(), limit).await {
        Ok(b) => Ok(b.to_vec()),
        Err(e) => Err(to_http(::remote::Response::text(
            413,
            format!("request body too large or unreadable: {e}"),
        ))),
    }
}

/// `POST /api/v1/write`.
pub(crate) async fn write(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    if let Some(r) = not_ready(&shared) {
        return r;
    }
    let app = match (&shared.api.appendable, shared.api.remote_write) {
        (Some(app), true) => app.clone(),
        _ => {
            return to_http(::remote::Response::text(
                404,
                "remote write receiver needs to be enabled with --web.enable-remote-write-receiver",
            ));
        }
    };
    let ct = header_str(&req, header::CONTENT_TYPE);
    let ce = header_str(&req, header::CONTENT_ENCODING);
    let body = match body(req, shared.api.options.max_body_bytes).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let metrics = shared.metrics.remote_write.clone();
    let work = tokio::task::spawn_blocking(move || {
        ::remote::handle_write(
            app.as_ref(),
            ct.as_deref(),
            ce.as_deref(),
            &body,
            &::remote::Limits::default(),
            &metrics,
        )
    })
    .await;
    match work {
        Ok(r) => to_http(r),
        Err(e) => to_http(::remote::Response::text(500, e)),
    }
}

/// Frames of a streamed read waiting to be sent.
const STREAM_QUEUE_FRAMES: usize = 16;

/// A response body fed frame by frame from the blocking pool.
struct ChannelBody(tokio::sync::mpsc::Receiver<Vec<u8>>);

impl axum::body::HttpBody for ChannelBody {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|o| o.map(|b| Ok(http_body::Frame::data(axum::body::Bytes::from(b)))))
    }
}

/// `POST /api/v1/read`: `SAMPLES`, or `STREAMED_XOR_CHUNKS` when the API
/// has a chunk encoder and the client prefers it.
pub(crate) async fn read(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    if let Some(r) = not_ready(&shared) {
        return r;
    }
    let limits = ::remote::ReadLimits::default();
    let body = match body(req, limits.max_decompressed_bytes).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let streaming = shared.api.chunk_encoder.is_some();
    let plan = match ::remote::plan_read(&body, &limits, streaming) {
        Ok(p) => p,
        Err(r) => return to_http(r),
    };
    let shared2 = shared.clone();
    if plan.response_type == ::remote::prompb::RESPONSE_SAMPLES {
        let work = tokio::task::spawn_blocking(move || {
            let _in_flight = InFlight::new(&shared2.metrics.remote_read_queries);
            ::remote::answer_samples(
                shared2.api.queryable.as_ref(),
                &plan.request,
                &shared2.api.options.external_labels,
                &limits,
            )
        })
        .await;
        return match work {
            Ok(r) => to_http(r),
            Err(e) => to_http(::remote::Response::text(500, e)),
        };
    }
    let (tx, rx) = tokio::sync::mpsc::channel(STREAM_QUEUE_FRAMES);
    tokio::task::spawn_blocking(move || {
        let _in_flight = InFlight::new(&shared2.metrics.remote_read_queries);
        let Some(encoder) = shared2.api.chunk_encoder.as_deref() else {
            return;
        };
        let result = ::remote::stream_read(
            shared2.api.queryable.as_ref(),
            &plan.request,
            &shared2.api.options.external_labels,
            ::remote::stream::DEFAULT_MAX_BYTES_IN_FRAME,
            encoder,
            &mut |frame| tx.blocking_send(frame).is_ok(),
        );
        if let Err(e) = result {
            // The status is sent already: the stream just ends early.
            tracing::error!(err = %e, "streamed remote read failed");
        }
    });
    let mut r = Response::new(Body::new(ChannelBody(rx)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(::remote::stream::CONTENT_TYPE),
    );
    r
}
