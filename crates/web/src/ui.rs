//! The built-in UI: the single-page app's routes and its embedded assets
//! (from `web-ui`), mounted beside the API.

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Routes of the UI. `external_path` is the path prefix the browser sees
/// (the path of `--web.external-url`, empty for none): the page's base URL.
pub fn router(external_path: &str) -> Router {
    let prefix = web_ui::normalize_prefix(external_path);
    let root_target = format!("{prefix}/query");
    let mut r = Router::new()
        .route("/", get(move || async move { found(&root_target) }))
        .route("/assets/{*path}", get(asset));
    for route in web_ui::SPA_ROUTES.iter().filter(|r| **r != "/") {
        let p = prefix.clone();
        let page = move || async move { page(&p) };
        r = r.route(route, get(page.clone()));
        r = r.route(&format!("{route}/"), get(page));
    }
    r
}

/// A 302 Found, as Prometheus redirects `/`.
fn found(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::FOUND)
        .header(header::LOCATION, location)
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn page(prefix: &str) -> Response {
    let mut resp = web_ui::index_html(prefix).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(a) = web_ui::asset(&path) else {
        return (StatusCode::NOT_FOUND, "404 page not found\n").into_response();
    };
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == a.etag));
    let mut builder = Response::builder()
        .header(header::ETAG, a.etag)
        .header(header::CACHE_CONTROL, "no-cache");
    if matches {
        builder = builder.status(StatusCode::NOT_MODIFIED);
        return builder
            .body(Body::empty())
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    builder
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, a.content_type)
        .body(Body::from(a.body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
