//! `/api/v1/write` (the remote write receiver) and `/api/v1/read`
//! (remote read): body reading here, everything else in the `remote` crate,
//! run on the blocking pool.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api::{Shared, not_ready};

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

/// `POST /api/v1/read`.
pub(crate) async fn read(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    if let Some(r) = not_ready(&shared) {
        return r;
    }
    let _in_flight = crate::metrics::InFlight::new(&shared.metrics.remote_read_queries);
    let limits = ::remote::ReadLimits::default();
    let body = match body(req, limits.max_decompressed_bytes).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let shared2 = shared.clone();
    let work = tokio::task::spawn_blocking(move || {
        ::remote::handle_read(
            shared2.api.queryable.as_ref(),
            &body,
            &shared2.api.options.external_labels,
            &limits,
        )
    })
    .await;
    match work {
        Ok(r) => to_http(r),
        Err(e) => to_http(::remote::Response::text(500, e)),
    }
}
