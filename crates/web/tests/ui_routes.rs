//! The built-in UI's routes: pages answer with the app's HTML under the
//! prefix, assets with their content type and ETag (304 on a match), `/`
//! redirects to `/query`, unknown assets are 404.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

async fn get(path: &str, etag: Option<&str>) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::get(path);
    if let Some(e) = etag {
        req = req.header(header::IF_NONE_MATCH, e);
    }
    let resp = web::ui::router("/prom")
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = to_bytes(resp.into_body(), 1 << 24).await.unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn pages_assets_and_redirect() {
    for page in ["/query", "/graph", "/targets/", "/tsdb-status"] {
        let (status, headers, body) = get(page, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(
            body.contains("/prom"),
            "{page}: the page carries the prefix"
        );
    }
    let (status, headers, _) = get("/", None).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(headers[header::LOCATION], "/prom/query");

    let (status, headers, body) = get("/assets/app.js", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(!body.is_empty());
    let etag = headers[header::ETAG].to_str().unwrap().to_string();
    let (status, _, body) = get("/assets/app.js", Some(&etag)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());

    let (status, _, _) = get("/assets/nope.js", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
