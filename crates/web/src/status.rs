//! Targets, metadata, rules, alerts, Alertmanagers and `/api/v1/status/*`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;

use crate::api::{self, ApiError, ErrorType, Outcome, Req, Shared};
use crate::json::Writer;
use crate::params::{self, rfc3339_millis};
use crate::sources::{BuildInfo, RuntimeInfo, TargetMetadata, WalReplayStatus};

/// Go's zero `time.Time` in JSON.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
/// Most entries `/status/tsdb` lists.
const MAX_TSDB_LIMIT: i64 = 10_000;

macro_rules! endpoint {
    ($name:ident, $f:expr) => {
        #[doc = concat!("The `", stringify!($name), "` endpoint.")]
        pub(crate) async fn $name(State(shared): State<Arc<Shared>>, req: Request) -> Response {
            api::run(shared, req, $f).await
        }
    };
}

endpoint!(targets, targets_sync);
endpoint!(target_metadata, target_metadata_sync);
endpoint!(metadata, metadata_sync);
endpoint!(alerts, |_, _| Outcome::data(r#"{"alerts":[]}"#.into()));
endpoint!(rules, |_, _| Outcome::data(r#"{"groups":[]}"#.into()));
endpoint!(alertmanagers, alertmanagers_sync);
endpoint!(scrape_pools, scrape_pools_sync);
endpoint!(config, config_sync);
endpoint!(flags, flags_sync);
endpoint!(runtime_info, runtime_info_sync);
endpoint!(build_info, build_info_sync);
endpoint!(tsdb, tsdb_sync);

/// `GET /api/v1/status/walreplay`: answered before the server is ready.
pub(crate) async fn wal_replay(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let s = shared
        .api
        .tsdb
        .as_ref()
        .map_or(WalReplayStatus::default(), |t| t.wal_replay());
    let mut w = Writer::default();
    w.obj()
        .key("min")
        .int(s.min)
        .key("max")
        .int(s.max)
        .key("current")
        .int(s.current)
        .end_obj();
    api::respond(req.headers(), Outcome::data(w.finish()))
}

fn time_or_zero(t: Option<i64>) -> String {
    t.map_or_else(|| ZERO_TIME.to_string(), rfc3339_millis)
}

fn targets_sync(shared: &Shared, req: &Req) -> Outcome {
    // Prometheus reads these two from the URL only.
    let query = Some(req.uri.query().unwrap_or(""));
    let url = params::Form::new(query, None);
    let pool = url.get("scrapePool");
    let state = url.get("state").to_ascii_lowercase();
    let show_active = matches!(state.as_str(), "" | "any" | "active");
    let show_dropped = matches!(state.as_str(), "" | "any" | "dropped");
    let src = shared.api.targets.as_ref();
    let mut w = Writer::with_capacity(1024);
    w.obj().key("activeTargets").arr();
    if show_active && let Some(src) = src {
        for (p, list) in src.active() {
            if !pool.is_empty() && p != pool {
                continue;
            }
            for t in &list {
                w.obj();
                w.key("discoveredLabels").labels(&t.discovered_labels);
                w.key("labels").labels(&t.labels);
                w.key("scrapePool").str(&p);
                w.key("scrapeUrl").str(&t.scrape_url);
                w.key("globalUrl").str(&t.global_url);
                w.key("lastError").str(&t.last_error);
                w.key("lastScrape").str(&time_or_zero(t.last_scrape));
                w.key("lastScrapeDuration").go_float(t.last_scrape_duration);
                w.key("health").str(&t.health);
                w.key("scrapeInterval").str(&t.scrape_interval);
                w.key("scrapeTimeout").str(&t.scrape_timeout);
                w.end_obj();
            }
        }
    }
    w.end_arr().key("droppedTargets").arr();
    if show_dropped && let Some(src) = src {
        for (p, list) in src.dropped() {
            if !pool.is_empty() && p != pool {
                continue;
            }
            for t in &list {
                w.obj();
                w.key("discoveredLabels").labels(&t.discovered_labels);
                w.key("scrapePool").str(&p);
                w.end_obj();
            }
        }
    }
    w.end_arr().key("droppedTargetCounts");
    if show_dropped {
        let counts = src.map(|s| s.dropped_counts()).unwrap_or_default();
        w.obj();
        for (p, n) in &counts {
            w.key(p).uint(*n as u64);
        }
        w.end_obj();
    } else {
        w.raw("null");
    }
    w.end_obj();
    Outcome::data(w.finish())
}

/// `limit` of the metadata endpoints: -1 (none) unless given.
fn metadata_limit(req: &Req, name: &str) -> Result<i64, ApiError> {
    match req.form.get(name) {
        "" => Ok(-1),
        s => params::go_atoi(s).map_err(|_| ApiError::bad_data(format!("{name} must be a number"))),
    }
}

fn target_metadata_sync(shared: &Shared, req: &Req) -> Outcome {
    let run = || -> Result<Outcome, ApiError> {
        let limit = metadata_limit(req, "limit")?;
        let match_target = req.form.get("match_target");
        let matchers = if match_target.is_empty() {
            Vec::new()
        } else {
            params::parse_selector(match_target, shared.parser())
                .map_err(|e| ApiError::param("match_target", e))?
        };
        let metric = req.form.get("metric");
        let mut w = Writer::default();
        w.arr();
        let mut n: i64 = 0;
        let active = shared
            .api
            .targets
            .as_ref()
            .map(|s| s.active())
            .unwrap_or_default();
        for t in active.values().flatten() {
            if limit >= 0 && n >= limit {
                break;
            }
            if !matchers.iter().all(|m| m.matches_labels(&t.labels)) {
                continue;
            }
            for md in &t.metadata {
                if !metric.is_empty() && md.metric != metric {
                    continue;
                }
                w.obj().key("target").labels(&t.labels);
                if metric.is_empty() {
                    w.key("metric").str(&md.metric);
                }
                w.key("type").str(&md.kind);
                w.key("help").str(&md.help);
                w.key("unit").str(&md.unit);
                w.end_obj();
                n += 1;
            }
        }
        w.end_arr();
        Ok(Outcome::data(w.finish()))
    };
    run().unwrap_or_else(Outcome::Error)
}

fn metadata_sync(shared: &Shared, req: &Req) -> Outcome {
    let run = || -> Result<Outcome, ApiError> {
        let limit = metadata_limit(req, "limit")?;
        let per_metric = metadata_limit(req, "limit_per_metric")?;
        let metric = req.form.get("metric");
        let mut by_name: BTreeMap<String, Vec<TargetMetadata>> = BTreeMap::new();
        let active = shared
            .api
            .targets
            .as_ref()
            .map(|s| s.active())
            .unwrap_or_default();
        for md in active.values().flatten().flat_map(|t| &t.metadata) {
            if !metric.is_empty() && md.metric != metric {
                continue;
            }
            let list = by_name.entry(md.metric.clone()).or_default();
            if per_metric > 0 && list.len() as i64 >= per_metric {
                continue;
            }
            if !list.contains(md) {
                list.push(md.clone());
            }
        }
        let mut w = Writer::default();
        w.obj();
        for (i, (name, list)) in by_name.iter().enumerate() {
            if limit >= 0 && i as i64 >= limit {
                break;
            }
            w.key(name).arr();
            for md in list {
                w.obj();
                w.key("type").str(&md.kind);
                w.key("help").str(&md.help);
                w.key("unit").str(&md.unit);
                w.end_obj();
            }
            w.end_arr();
        }
        w.end_obj();
        Ok(Outcome::data(w.finish()))
    };
    run().unwrap_or_else(Outcome::Error)
}

fn alertmanagers_sync(shared: &Shared, _: &Req) -> Outcome {
    let (active, dropped) = shared
        .api
        .alertmanagers
        .as_ref()
        .map(|a| (a.active(), a.dropped()))
        .unwrap_or_default();
    let mut w = Writer::default();
    w.obj();
    for (key, list) in [
        ("activeAlertmanagers", &active),
        ("droppedAlertmanagers", &dropped),
    ] {
        w.key(key).arr();
        for u in list {
            w.obj().key("url").str(u).end_obj();
        }
        w.end_arr();
    }
    w.end_obj();
    Outcome::data(w.finish())
}

fn scrape_pools_sync(shared: &Shared, _: &Req) -> Outcome {
    let pools: Vec<String> = shared
        .api
        .targets
        .as_ref()
        .map(|t| t.pools())
        .unwrap_or_default();
    let mut w = Writer::default();
    w.obj().key("scrapePools").strings(&pools).end_obj();
    Outcome::data(w.finish())
}

fn config_sync(shared: &Shared, _: &Req) -> Outcome {
    let yaml = shared
        .api
        .status
        .as_ref()
        .map(|s| s.config_yaml())
        .unwrap_or_default();
    let mut w = Writer::default();
    w.obj().key("yaml").str(&yaml).end_obj();
    Outcome::data(w.finish())
}

fn flags_sync(shared: &Shared, _: &Req) -> Outcome {
    let flags = shared
        .api
        .status
        .as_ref()
        .map(|s| s.flags())
        .unwrap_or_default();
    let mut w = Writer::default();
    w.obj();
    for (k, v) in &flags {
        w.key(k).str(v);
    }
    w.end_obj();
    Outcome::data(w.finish())
}

fn runtime_info_sync(shared: &Shared, _: &Req) -> Outcome {
    let info = match &shared.api.status {
        Some(s) => match s.runtime_info() {
            Ok(i) => i,
            Err(e) => return ApiError::new(ErrorType::Internal, e).into(),
        },
        None => RuntimeInfo {
            start_time: shared.started,
            cwd: std::env::current_dir()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_default(),
            server_time: shared.now(),
            reload_config_success: true,
            last_config_time: shared.started,
            gomaxprocs: std::thread::available_parallelism().map_or(1, |n| n.get() as i64),
            ..RuntimeInfo::default()
        },
    };
    let mut w = Writer::default();
    w.obj();
    w.key("startTime").str(&rfc3339_millis(info.start_time));
    w.key("CWD").str(&info.cwd);
    w.key("hostname").str(&info.hostname);
    w.key("serverTime").str(&rfc3339_millis(info.server_time));
    w.key("reloadConfigSuccess")
        .bool(info.reload_config_success);
    w.key("lastConfigTime")
        .str(&rfc3339_millis(info.last_config_time));
    w.key("corruptionCount").int(info.corruption_count);
    w.key("goroutineCount").int(info.goroutine_count);
    w.key("GOMAXPROCS").int(info.gomaxprocs);
    w.key("GOMEMLIMIT").int(info.gomemlimit);
    w.key("GOGC").str(&info.gogc);
    w.key("GODEBUG").str(&info.godebug);
    w.key("storageRetention").str(&info.storage_retention);
    w.end_obj();
    Outcome::data(w.finish())
}

fn build_info_sync(shared: &Shared, _: &Req) -> Outcome {
    let b = shared.api.status.as_ref().map_or_else(
        || BuildInfo {
            version: env!("CARGO_PKG_VERSION").into(),
            ..BuildInfo::default()
        },
        |s| s.build_info(),
    );
    let mut w = Writer::default();
    w.obj();
    w.key("version").str(&b.version);
    w.key("revision").str(&b.revision);
    w.key("branch").str(&b.branch);
    w.key("buildUser").str(&b.build_user);
    w.key("buildDate").str(&b.build_date);
    w.key("goVersion").str(&b.go_version);
    w.end_obj();
    Outcome::data(w.finish())
}

fn tsdb_sync(shared: &Shared, req: &Req) -> Outcome {
    let limit = match req.form.get("limit") {
        "" => 10,
        s => match params::go_atoi(s) {
            Ok(n) if (1..=MAX_TSDB_LIMIT).contains(&n) => n as usize,
            Ok(n) if n > MAX_TSDB_LIMIT => {
                return ApiError::bad_data(format!("limit must not exceed {MAX_TSDB_LIMIT}"))
                    .into();
            }
            _ => return ApiError::bad_data("limit must be a positive number").into(),
        },
    };
    let Some(src) = &shared.api.tsdb else {
        return ApiError::new(ErrorType::Unavailable, "TSDB statistics are not available").into();
    };
    let s = match src.stats(limit) {
        Ok(s) => s,
        Err(e) => return ApiError::new(ErrorType::Internal, e).into(),
    };
    let mut w = Writer::with_capacity(1024);
    w.obj().key("headStats").obj();
    w.key("numSeries").uint(s.num_series);
    w.key("numLabelPairs").int(s.num_label_pairs);
    w.key("chunkCount").int(s.chunk_count);
    w.key("minTime").int(s.min_time);
    w.key("maxTime").int(s.max_time);
    w.end_obj();
    for (key, list) in [
        ("seriesCountByMetricName", &s.series_count_by_metric_name),
        (
            "labelValueCountByLabelName",
            &s.label_value_count_by_label_name,
        ),
        ("memoryInBytesByLabelName", &s.memory_in_bytes_by_label_name),
        (
            "seriesCountByLabelValuePair",
            &s.series_count_by_label_value_pair,
        ),
    ] {
        w.key(key).arr();
        for (name, value) in list.iter().take(limit) {
            w.obj()
                .key("name")
                .str(name)
                .key("value")
                .uint(*value)
                .end_obj();
        }
        w.end_arr();
    }
    w.end_obj();
    Outcome::data(w.finish())
}
