//! `/metrics`, `/-/healthy`, `/-/ready`, `/-/reload`, `/-/quit` and the
//! admin APIs (`/api/v1/admin/tsdb/*`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use expfmt::Format;

use crate::api::{self, ApiError, ErrorType, Outcome, Req, Shared};
use crate::json::Writer;
use crate::params::{self, MAX_TIME, MIN_TIME};

/// `GET /metrics`: self-metrics in the negotiated format.
pub(crate) async fn metrics(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let accept = req
        .headers()
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = Format::negotiate(accept);
    let mut families = shared
        .api
        .metrics
        .as_ref()
        .map(|m| m.gather())
        .unwrap_or_default();
    families.extend(shared.metrics.families());
    families.sort_by(|a, b| a.name.cmp(&b.name));
    let body = match format {
        Format::Protobuf => {
            let mut out = Vec::new();
            expfmt::encode_protobuf(&families, &mut out);
            out
        }
        Format::OpenMetrics => {
            let mut out = String::new();
            expfmt::encode_openmetrics(&families, &mut out);
            out.into_bytes()
        }
        Format::Text | Format::Text1 => {
            let mut out = String::new();
            expfmt::encode_text(&families, &mut out);
            out.into_bytes()
        }
    };
    api::compressed(req.headers(), StatusCode::OK, format.content_type(), body)
}

/// `GET /-/healthy`.
pub(crate) async fn healthy(State(shared): State<Arc<Shared>>) -> Response {
    let text = format!("{} is Healthy.\n", shared.api.options.app_name);
    (StatusCode::OK, text).into_response()
}

/// `HEAD /-/healthy`.
pub(crate) async fn healthy_head() -> StatusCode {
    StatusCode::OK
}

/// `GET /-/ready`: 200 once ready, 503 before.
pub(crate) async fn ready(State(shared): State<Arc<Shared>>) -> Response {
    if let Some(r) = api::not_ready(&shared) {
        return r;
    }
    let text = format!("{} is Ready.\n", shared.api.options.app_name);
    (StatusCode::OK, text).into_response()
}

/// `HEAD /-/ready`.
pub(crate) async fn ready_head(State(shared): State<Arc<Shared>>) -> Response {
    if let Some(r) = api::not_ready(&shared) {
        return r;
    }
    StatusCode::OK.into_response()
}

const LIFECYCLE_DISABLED: &str = "Lifecycle API is not enabled.";

/// `GET /-/reload` and `GET /-/quit`.
pub(crate) async fn post_only() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        "Only POST or PUT requests allowed",
    )
        .into_response()
}

/// `POST|PUT /-/reload`.
pub(crate) async fn reload(State(shared): State<Arc<Shared>>) -> Response {
    if !shared.api.options.enable_lifecycle {
        return (StatusCode::FORBIDDEN, LIFECYCLE_DISABLED).into_response();
    }
    let Some(l) = shared.api.lifecycle.clone() else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed to reload config: reloading is not available\n",
        )
            .into_response();
    };
    match tokio::task::spawn_blocking(move || l.reload()).await {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {e}\n"),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {e}\n"),
        )
            .into_response(),
    }
}

/// `POST|PUT /-/quit`.
pub(crate) async fn quit(State(shared): State<Arc<Shared>>) -> Response {
    if !shared.api.options.enable_lifecycle {
        return (StatusCode::FORBIDDEN, LIFECYCLE_DISABLED).into_response();
    }
    let first = shared.api.lifecycle.as_ref().is_some_and(|l| l.quit());
    let text = if first {
        "Requesting termination... Goodbye!"
    } else {
        "Termination already in progress."
    };
    (StatusCode::OK, text).into_response()
}

/// The admin API's gate: the flag, then an implementation.
fn admin(shared: &Shared) -> Result<&dyn crate::AdminSource, ApiError> {
    if !shared.api.options.enable_admin_api {
        return Err(ApiError::new(ErrorType::Unavailable, "admin APIs disabled"));
    }
    shared.api.admin.as_deref().ok_or_else(|| {
        ApiError::new(
            ErrorType::Unavailable,
            "admin APIs not supported by this storage",
        )
    })
}

/// `POST|PUT /api/v1/admin/tsdb/delete_series`: 204 when done.
pub(crate) async fn delete_series(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    api::run(shared, req, delete_series_sync).await
}

fn delete_series_sync(shared: &Shared, req: &Req) -> Outcome {
    let run = || -> Result<Outcome, ApiError> {
        let admin = admin(shared)?;
        let matches = req.form.all("match[]");
        if matches.is_empty() {
            return Err(ApiError::bad_data("no match[] parameter provided"));
        }
        let start = params::time_param(&req.form, "start", MIN_TIME)
            .map_err(|e| ApiError::param("start", e))?;
        let end = params::time_param(&req.form, "end", MAX_TIME)
            .map_err(|e| ApiError::param("end", e))?;
        for m in matches {
            let ms = params::parse_selector(m, shared.parser())
                .map_err(|e| ApiError::param("match[]", e))?;
            admin
                .delete_series(start, end, &ms)
                .map_err(|e| ApiError::new(ErrorType::Internal, e))?;
        }
        Ok(Outcome::Empty)
    };
    run().unwrap_or_else(Outcome::Error)
}

/// `POST|PUT /api/v1/admin/tsdb/clean_tombstones`: 204 when done.
pub(crate) async fn clean_tombstones(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    api::run(shared, req, |shared, _| {
        let run = || -> Result<Outcome, ApiError> {
            admin(shared)?
                .clean_tombstones()
                .map_err(|e| ApiError::new(ErrorType::Internal, e))?;
            Ok(Outcome::Empty)
        };
        run().unwrap_or_else(Outcome::Error)
    })
    .await
}

/// `POST|PUT /api/v1/admin/tsdb/snapshot`: `{"name":"<dir>"}`.
pub(crate) async fn snapshot(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    api::run(shared, req, |shared, req| {
        let run = || -> Result<Outcome, ApiError> {
            let admin = admin(shared)?;
            let skip_head = match req.form.get("skip_head") {
                "" => false,
                s => parse_go_bool(s).ok_or_else(|| {
                    ApiError::param(
                        "skip_head",
                        format!(
                            "unable to parse boolean: strconv.ParseBool: parsing {}: invalid syntax",
                            params::go_quote(s)
                        ),
                    )
                })?,
            };
            let name = admin
                .snapshot(skip_head)
                .map_err(|e| ApiError::new(ErrorType::Internal, format!("create snapshot: {e}")))?;
            let mut w = Writer::default();
            w.obj().key("name").str(&name).end_obj();
            Ok(Outcome::data(w.finish()))
        };
        run().unwrap_or_else(Outcome::Error)
    })
    .await
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}
