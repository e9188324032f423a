//! Ember's built-in web UI: a single-page app of hand-written,
//! dependency-free ES modules, a style sheet and an icon, embedded in the
//! binary at build time (no Node, no bundler, no network at build time).
//!
//! The crate only owns the bytes; serving them is the `web` crate's job:
//!
//! - [`index_html`] renders the page for every UI route listed in
//!   [`SPA_ROUTES`] (a `GET` on any of them, below the route prefix, answers
//!   `200 text/html` with this page; the browser-side router picks the view);
//! - [`asset`] answers `GET <prefix>/assets/<path>` — body, content type and
//!   a strong `ETag` for `If-None-Match` revalidation.
//!
//! The page reads its base path from a `<meta name="ember-prefix">` tag that
//! [`index_html`] fills in, so the UI works below `--web.route-prefix` and
//! behind a proxy that serves it at the path of `--web.external-url`.
//!
//! The browser code talks only to Prometheus's documented HTTP API
//! (`/api/v1/query`, `/api/v1/query_range`, `/api/v1/labels`, …). Its pure
//! parts (PromQL tokenizer, completion context, ticks, URL state) are tested
//! with Node's built-in test runner from `tests/js.rs`.

use std::sync::OnceLock;

/// One embedded file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asset {
    /// The file's bytes.
    pub body: &'static [u8],
    /// The `Content-Type` header value.
    pub content_type: &'static str,
    /// A strong entity tag, quotes included (`"…"`), derived from the bytes.
    pub etag: &'static str,
}

/// The paths (below the route prefix) at which the web server must answer
/// with [`index_html`]. `/` may instead redirect to `/query`, as Prometheus
/// does. `/alerts` and `/rules` render a placeholder until the rules engine
/// exists.
pub const SPA_ROUTES: &[&str] = &[
    "/",
    "/query",
    "/graph",
    "/targets",
    "/service-discovery",
    "/config",
    "/flags",
    "/status",
    "/tsdb-status",
    "/alerts",
    "/rules",
];

const JS: &str = "text/javascript; charset=utf-8";

/// Declares the embedded files: `(path below assets/, content type)`.
macro_rules! embedded {
    ($(($path:literal, $ct:expr)),* $(,)?) => {
        /// Every embedded file: path below `assets/`, bytes, content type.
        static FILES: &[(&str, &[u8], &str)] = &[
            $(($path, include_bytes!(concat!("../assets/", $path)), $ct)),*
        ];
    };
}

embedded![
    ("index.html", "text/html; charset=utf-8"),
    ("style.css", "text/css; charset=utf-8"),
    ("favicon.svg", "image/svg+xml"),
    ("app.js", JS),
    ("api.js", JS),
    ("chart.js", JS),
    ("complete.js", JS),
    ("dom.js", JS),
    ("editor.js", JS),
    ("format.js", JS),
    ("promql.js", JS),
    ("query_page.js", JS),
    ("router.js", JS),
    ("state.js", JS),
    ("status_pages.js", JS),
];

/// The placeholder in `index.html` that [`index_html`] replaces.
const PREFIX_PLACEHOLDER: &str = "{{EMBER_PREFIX}}";

/// The entity tags of [`FILES`], in the same order; computed once.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        FILES
            .iter()
            .map(|(_, body, _)| format!("\"{:016x}\"", fnv1a64(body)))
            .collect()
    })
}

/// FNV-1a, 64 bits: enough to tell versions of one file apart.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The embedded file at `path` (relative to the assets directory, e.g.
/// `app.js`; a leading `/` is ignored), or `None`. `index.html` is not
/// served this way: it needs the route prefix, see [`index_html`].
pub fn asset(path: &str) -> Option<Asset> {
    let path = path.trim_start_matches('/');
    if path == "index.html" {
        return None;
    }
    let i = FILES.iter().position(|(p, _, _)| *p == path)?;
    let (_, body, content_type) = FILES[i];
    let etag = etags().get(i)?;
    Some(Asset {
        body,
        content_type,
        etag,
    })
}

/// The paths [`asset`] serves, for listing or tests.
pub fn asset_paths() -> impl Iterator<Item = &'static str> {
    FILES
        .iter()
        .map(|(p, _, _)| *p)
        .filter(|p| *p != "index.html")
}

/// Whether `path` (below the route prefix, with its leading `/`) is a page of
/// the UI that must be answered with [`index_html`].
pub fn is_spa_route(path: &str) -> bool {
    let path = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    SPA_ROUTES.contains(&path)
}

/// Normalises a route prefix: `""`, `"/"` → `""`; otherwise one leading `/`
/// and no trailing `/` (`"prom/"` → `"/prom"`).
pub fn normalize_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

/// The UI's page with `route_prefix` (the path at which the browser reaches
/// the server's root: `--web.route-prefix`, or the path of
/// `--web.external-url` when a proxy strips it) injected, HTML-escaped, as
/// the `<base href>` and the `ember-prefix` meta tag.
pub fn index_html(route_prefix: &str) -> String {
    let template = FILES
        .iter()
        .find(|(p, _, _)| *p == "index.html")
        .map_or(&b""[..], |(_, body, _)| body);
    let template = String::from_utf8_lossy(template);
    let prefix = html_escape(&normalize_prefix(route_prefix));
    template.replace(PREFIX_PLACEHOLDER, &prefix)
}

/// Escapes text for an HTML attribute value in double quotes.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_quoted_and_stable() {
        let a = asset("app.js").expect("app.js");
        assert!(a.etag.starts_with('"') && a.etag.ends_with('"'));
        assert_eq!(a.etag.len(), 18);
        assert_eq!(asset("/app.js").map(|a| a.etag), Some(a.etag));
        assert_ne!(asset("style.css").map(|a| a.etag), Some(a.etag));
    }

    #[test]
    fn fnv_known_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn prefixes_normalise() {
        assert_eq!(normalize_prefix(""), "");
        assert_eq!(normalize_prefix("/"), "");
        assert_eq!(normalize_prefix("prom/"), "/prom");
        assert_eq!(normalize_prefix("/a/b/"), "/a/b");
    }

    #[test]
    fn spa_routes() {
        assert!(is_spa_route("/query"));
        assert!(is_spa_route("/graph/"));
        assert!(is_spa_route("/"));
        assert!(!is_spa_route("/api/v1/query"));
        assert!(!is_spa_route("/assets/app.js"));
    }
}
