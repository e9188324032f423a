//! Metadata queries: `/api/v1/series`, `/api/v1/labels`,
//! `/api/v1/label/<name>/values` and `/api/v1/query_exemplars`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use model::Labels;
use model::matcher::Matcher;
use promql_syntax::Expr;
use storage::{LabelHints, SelectHints, StorageError};

use crate::api::{self, ApiError, ErrorType, Outcome, Req, Shared};
use crate::json::Writer;
use crate::params::{self, MAX_TIME, MIN_TIME};

const TRUNCATED: &str = "results truncated due to limit";

/// `GET|POST /api/v1/series`.
pub(crate) async fn series(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    api::run(shared, req, series_sync).await
}

/// `GET|POST /api/v1/labels`.
pub(crate) async fn label_names(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    api::run(shared, req, label_names_sync).await
}

/// `GET /api/v1/label/<name>/values`.
pub(crate) async fn label_values(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    api::run(shared, req, label_values_sync).await
}

/// `GET|POST /api/v1/query_exemplars`.
pub(crate) async fn exemplars(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    api::run(shared, req, exemplars_sync).await
}

fn storage_error(e: StorageError) -> ApiError {
    match e {
        StorageError::Canceled => ApiError::new(ErrorType::Canceled, e.to_string()),
        _ => ApiError::new(ErrorType::Execution, e.to_string()),
    }
}

/// `start`, `end` (defaults: the API's min and max times) and `limit`.
fn range_and_limit(req: &Req) -> Result<(i64, i64, usize), ApiError> {
    let limit = params::limit_param(&req.form).map_err(|e| ApiError::param("limit", e))?;
    let start = params::time_param(&req.form, "start", MIN_TIME)
        .map_err(|e| ApiError::param("start", e))?;
    let end =
        params::time_param(&req.form, "end", MAX_TIME).map_err(|e| ApiError::param("end", e))?;
    Ok((start, end, limit))
}

fn series_sync(shared: &Shared, req: &Req) -> Outcome {
    match series_impl(shared, req) {
        Ok(o) => o,
        Err(e) => e.into(),
    }
}

fn series_impl(shared: &Shared, req: &Req) -> Result<Outcome, ApiError> {
    let matches = req.form.all("match[]");
    if matches.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let (start, end, limit) = range_and_limit(req)?;
    let sets = params::matcher_sets(&matches, shared.parser())
        .map_err(|e| ApiError::param("match[]", e))?;
    let q = shared
        .api
        .queryable
        .querier(start, end)
        .map_err(storage_error)?;
    let hints = SelectHints {
        start,
        end,
        func: "series".into(),
        limit: params::hint_limit(limit),
        ..SelectHints::default()
    };
    let mut warnings = Vec::new();
    let mut found: Vec<Labels> = Vec::new();
    for ms in &sets {
        let mut set = q.select(sets.len() > 1, Some(&hints), ms);
        while let Some(s) = set.next() {
            found.push(s.map_err(storage_error)?.labels().clone());
        }
        warnings.extend(set.warnings());
    }
    if sets.len() > 1 {
        found.sort();
        found.dedup();
    }
    if limit > 0 && found.len() > limit {
        found.truncate(limit);
        warnings.push(TRUNCATED.into());
    }
    let mut w = Writer::with_capacity(64 * found.len() + 2);
    w.arr();
    for l in &found {
        w.labels(l);
    }
    w.end_arr();
    Ok(Outcome::Data {
        json: w.finish(),
        warnings,
        infos: Vec::new(),
    })
}

/// The `match[]` sets of a label request (none is fine).
fn optional_matchers(shared: &Shared, req: &Req) -> Result<Vec<Vec<Matcher>>, ApiError> {
    params::matcher_sets(&req.form.all("match[]"), shared.parser()).map_err(ApiError::bad_data)
}

fn label_names_sync(shared: &Shared, req: &Req) -> Outcome {
    let run = || -> Result<Outcome, ApiError> {
        let (start, end, limit) = range_and_limit(req)?;
        let sets = optional_matchers(shared, req)?;
        let q = shared
            .api
            .queryable
            .querier(start, end)
            .map_err(storage_error)?;
        let hints = LabelHints {
            limit: params::hint_limit(limit),
        };
        let (names, warnings) = collect(&sets, |ms| q.label_names(&hints, ms))?;
        Ok(strings_outcome(names, warnings, limit))
    };
    run().unwrap_or_else(Outcome::Error)
}

fn label_values_sync(shared: &Shared, req: &Req) -> Outcome {
    let run = || -> Result<Outcome, ApiError> {
        let name = label_name_from_path(req.uri.path())?;
        let (start, end, limit) = range_and_limit(req)?;
        let sets = optional_matchers(shared, req)?;
        let q = shared
            .api
            .queryable
            .querier(start, end)
            .map_err(storage_error)?;
        let hints = LabelHints {
            limit: params::hint_limit(limit),
        };
        let (values, warnings) = collect(&sets, |ms| q.label_values(&name, &hints, ms))?;
        Ok(strings_outcome(values, warnings, limit))
    };
    run().unwrap_or_else(Outcome::Error)
}

/// Runs a label read once per matcher set (once without matchers when
/// there are none) and unions the sorted results.
fn collect(
    sets: &[Vec<Matcher>],
    mut read: impl FnMut(&[Matcher]) -> Result<(Vec<String>, Vec<String>), StorageError>,
) -> Result<(Vec<String>, Vec<String>), ApiError> {
    if sets.len() <= 1 {
        let ms = sets.first().map_or(&[][..], Vec::as_slice);
        let (mut v, w) = read(ms).map_err(storage_error)?;
        v.sort();
        return Ok((v, w));
    }
    let mut all = Vec::new();
    let mut warnings = Vec::new();
    for ms in sets {
        let (v, w) = read(ms).map_err(storage_error)?;
        all.extend(v);
        for x in w {
            if !warnings.contains(&x) {
                warnings.push(x);
            }
        }
    }
    all.sort();
    all.dedup();
    Ok((all, warnings))
}

fn strings_outcome(mut v: Vec<String>, mut warnings: Vec<String>, limit: usize) -> Outcome {
    if limit > 0 && v.len() > limit {
        v.truncate(limit);
        warnings.push(TRUNCATED.into());
    }
    let mut w = Writer::with_capacity(16 * v.len() + 2);
    w.strings(&v);
    Outcome::Data {
        json: w.finish(),
        warnings,
        infos: Vec::new(),
    }
}

/// The `<name>` of `/label/<name>/values`, percent-decoded and
/// `U__`-unescaped.
fn label_name_from_path(path: &str) -> Result<String, ApiError> {
    let raw = path
        .split_once("/label/")
        .map(|(_, rest)| rest.strip_suffix("/values").unwrap_or(rest))
        .unwrap_or("");
    let mut name = params::unescape_path(raw).unwrap_or_else(|| raw.to_string());
    if name.starts_with("U__") {
        name = unescape_name(&name);
    }
    if name.is_empty() {
        return Err(ApiError::bad_data(format!(
            "invalid label name: {}",
            params::go_quote(&name)
        )));
    }
    Ok(name)
}

/// `model.UnescapeName` with value-encoding escaping: after `U__`, `__` is
/// `_` and `_<hex>_` is the code point; anything malformed leaves the name
/// as it was.
pub(crate) fn unescape_name(name: &str) -> String {
    let Some(rest) = name.strip_prefix("U__") else {
        return name.to_string();
    };
    let b = rest.as_bytes();
    let mut out = String::with_capacity(rest.len());
    let mut i = 0;
    while i < b.len() {
        let Some(c) = rest[i..].chars().next() else {
            break;
        };
        if c != '_' {
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        i += 1;
        match b.get(i) {
            None => return name.to_string(),
            Some(b'_') => {
                out.push('_');
                i += 1;
                continue;
            }
            Some(_) => {}
        }
        let mut v: u32 = 0;
        let mut digits = 0;
        loop {
            match b.get(i) {
                None => return name.to_string(),
                Some(b'_') => break,
                Some(&h) => {
                    if digits >= 6 {
                        return name.to_string();
                    }
                    let d = match h.to_ascii_lowercase() {
                        c @ b'0'..=b'9' => u32::from(c - b'0'),
                        c @ b'a'..=b'f' => u32::from(c - b'a' + 10),
                        _ => return name.to_string(),
                    };
                    v = v * 16 + d;
                    digits += 1;
                    i += 1;
                }
            }
        }
        i += 1;
        match char::from_u32(v) {
            Some(c) => out.push(c),
            None => return name.to_string(),
        }
    }
    out
}

fn exemplars_sync(shared: &Shared, req: &Req) -> Outcome {
    let run = || -> Result<Outcome, ApiError> {
        let start = params::time_param(&req.form, "start", MIN_TIME)
            .map_err(|e| ApiError::param("start", e))?;
        let end = params::time_param(&req.form, "end", MAX_TIME)
            .map_err(|e| ApiError::param("end", e))?;
        if end < start {
            return Err(ApiError::bad_data(
                "end timestamp must not be before start timestamp",
            ));
        }
        let expr = promql_syntax::parse_with(req.form.get("query"), shared.parser())
            .map_err(|e| ApiError::bad_data(e.to_string()))?;
        let mut selectors = Vec::new();
        extract_selectors(&expr, &mut selectors);
        if selectors.is_empty() {
            return Ok(Outcome::Empty);
        }
        let found = match &shared.api.exemplars {
            Some(src) => src
                .select(start, end, &selectors)
                .map_err(|e| ApiError::new(ErrorType::Execution, e))?,
            None => Vec::new(),
        };
        let mut w = Writer::default();
        w.arr();
        for s in &found {
            w.obj().key("seriesLabels").labels(&s.series_labels);
            w.key("exemplars").arr();
            for e in &s.exemplars {
                w.obj().key("labels").labels(&e.labels);
                w.key("value").value(e.value);
                w.key("timestamp").timestamp(e.timestamp.0);
                w.end_obj();
            }
            w.end_arr().end_obj();
        }
        w.end_arr();
        Ok(Outcome::data(w.finish()))
    };
    run().unwrap_or_else(Outcome::Error)
}

/// The matchers of every vector selector in `e` (`parser.ExtractSelectors`).
fn extract_selectors(e: &Expr, out: &mut Vec<Vec<Matcher>>) {
    match e {
        Expr::VectorSelector(vs) => out.push(vs.matchers.clone()),
        Expr::MatrixSelector(ms) => out.push(ms.vector_selector.matchers.clone()),
        _ => {
            for c in e.children() {
                extract_selectors(c, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescaping() {
        assert_eq!(unescape_name("U__http_2e_status__code"), "http.status_code");
        // A lone `_` starts a code point: `_c` is not hex, so nothing changes.
        assert_eq!(
            unescape_name("U__http_2e_status_code"),
            "U__http_2e_status_code"
        );
        assert_eq!(unescape_name("U__a__b"), "a_b");
        assert_eq!(unescape_name("U__bad_zz_"), "U__bad_zz_");
        assert_eq!(unescape_name("U__open_2e"), "U__open_2e");
        assert_eq!(unescape_name("U___1f600_"), "😀");
        assert_eq!(unescape_name("plain"), "plain");
    }

    #[test]
    fn names_from_paths() {
        assert_eq!(
            label_name_from_path("/label/job/values"),
            Ok("job".to_string())
        );
        assert_eq!(
            label_name_from_path("/api/v1/label/U__a_2e_b/values"),
            Ok("a.b".to_string())
        );
        assert_eq!(
            label_name_from_path("/label/a%20b/values"),
            Ok("a b".to_string())
        );
    }
}
