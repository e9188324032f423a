//! One scrape's CPU work: parse the body, map each sample through the
//! scrape cache (or, for a new series, merge target labels and apply
//! `metric_relabel_configs`), check limits, append, write stale markers for
//! vanished series, and the report series. Synchronous: the loop runs it in
//! `spawn_blocking`.
//!
//! Fast path: a series already in the cache costs one hash lookup of its raw
//! bytes and one append with the cached reference; no labels are built.

use std::sync::Arc;
use std::time::Duration;

use config::scrape::ScrapeConfig;
use expfmt::{AnyParser, Entry, Format, HistogramValue, LabelsView, Parser};
use model::labels::METRIC_NAME;
use model::{Labels, LabelsBuilder, STALE_NAN, Timestamp, is_stale_nan};
use storage::{AppendError, Appender, Exemplar, Sample, SeriesRef};

use crate::cache::{Cache, is_series_part_of_family};

/// Samples further in the future than this are out of bounds.
const MAX_FUTURE: i64 = 10 * 60 * 1000;

/// What a loop needs to turn a body into appends; fixed for its lifetime.
#[derive(Debug)]
pub(crate) struct Settings {
    /// The job's configuration.
    pub(crate) cfg: Arc<ScrapeConfig>,
    /// The target's public labels.
    pub(crate) target_labels: Labels,
    /// The target's scrape timeout.
    pub(crate) timeout: Duration,
}

/// Counts reported in the report series.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Samples in the exposition.
    pub(crate) total: u64,
    /// Samples left after metric relabeling.
    pub(crate) added: u64,
    /// Series new to the cache.
    pub(crate) series_added: u64,
}

/// Per-scrape tallies for the self-metrics.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Tally {
    pub(crate) out_of_order: u64,
    pub(crate) duplicate: u64,
    pub(crate) out_of_bounds: u64,
    pub(crate) sample_limit: bool,
    pub(crate) label_limit: bool,
}

/// A loop's mutable state, moved into the blocking task and back.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) cache: Cache,
    builder: LabelsBuilder,
    conflicts: Vec<(String, String)>,
    family: String,
    report: Vec<(Labels, Option<SeriesRef>)>,
}

/// The report series: name, help-free.
const REPORT_NAMES: [&str; 8] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
    "scrape_timeout_seconds",
    "scrape_sample_limit",
    "scrape_body_size_bytes",
];

/// The format to parse a response with: its `Content-Type`, else the
/// fallback protocol; errors worded as Prometheus's.
pub(crate) fn format_for(content_type: &str, fallback: Option<Format>) -> Result<Format, String> {
    if content_type.trim().is_empty() {
        return fallback.ok_or_else(|| {
            "non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target".to_owned()
        });
    }
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let version = parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("version")).then(|| v.trim().trim_matches('"').to_owned())
    });
    match media.as_str() {
        "text/plain" => Ok(if version.as_deref() == Some("1.0.0") {
            Format::Text1
        } else {
            Format::Text
        }),
        "application/openmetrics-text" => Ok(Format::OpenMetrics),
        "application/vnd.google.protobuf" => Ok(Format::Protobuf),
        _ => fallback.ok_or_else(|| {
            format!("received unsupported Content-Type {content_type:?} and no fallback_scrape_protocol specified for target")
        }),
    }
}

/// The parser for a body, honouring the histogram options.
fn parser<'a>(s: &Settings, format: Format, body: &'a [u8]) -> Result<AnyParser<'a>, String> {
    match format {
        Format::Protobuf => {
            let classic = !s.cfg.scrape_native_histograms || s.cfg.always_scrape_classic_histograms;
            Ok(AnyParser::Protobuf(
                expfmt::protobuf::ProtobufParser::new(body).with_classic_histograms(classic),
            ))
        }
        f => AnyParser::new(f, body).map_err(|e| e.to_string()),
    }
}

enum Value<'p> {
    Float(f64),
    Hist(HistogramValue<'p>),
}

impl State {
    /// Merges target labels into the builder (holding the scraped labels)
    /// as `honor_labels` says.
    fn merge_target_labels(&mut self, s: &Settings) {
        let b = &mut self.builder;
        if s.cfg.honor_labels {
            for (n, v) in s.target_labels.iter() {
                if b.get(n).is_none() {
                    b.set(n, v);
                }
            }
            return;
        }
        self.conflicts.clear();
        for (n, v) in s.target_labels.iter() {
            if let Some(existing) = b.get(n) {
                self.conflicts.push((n.to_owned(), existing.to_owned()));
            }
            b.set(n, v);
        }
        // Shorter names first, as Prometheus resolves them.
        self.conflicts.sort_by_key(|(n, _)| n.len());
        for (n, v) in &self.conflicts {
            let mut name = n.clone();
            loop {
                name.insert_str(0, "exported_");
                if b.get(&name).is_none() {
                    b.set(&name, v);
                    break;
                }
            }
        }
    }

    /// The report series' labels and references, built on first use.
    fn report_series(&mut self, s: &Settings) -> &mut Vec<(Labels, Option<SeriesRef>)> {
        if self.report.is_empty() {
            for name in REPORT_NAMES {
                let mut b = s.target_labels.to_builder();
                b.set(METRIC_NAME, name);
                self.report.push((b.labels(), None));
            }
        }
        &mut self.report
    }
}

/// Prometheus's `verifyLabelLimits`.
fn verify_label_limits(cfg: &ScrapeConfig, lset: &Labels) -> Result<(), String> {
    let met = lset.get(METRIC_NAME).unwrap_or("");
    let met50: String = met.chars().take(50).collect();
    if cfg.label_limit > 0 && lset.len() as u64 > cfg.label_limit {
        return Err(format!(
            "label_limit exceeded (metric: {met50}, number of labels: {}, limit: {})",
            lset.len(),
            cfg.label_limit
        ));
    }
    for (n, v) in lset.iter() {
        if cfg.label_name_length_limit > 0 && n.len() as u64 > cfg.label_name_length_limit {
            let n50: String = n.chars().take(50).collect();
            return Err(format!(
                "label_name_length_limit exceeded (metric: {met50}, label name: {n50}, length: {}, limit: {})",
                n.len(),
                cfg.label_name_length_limit
            ));
        }
        let vlen = v.chars().count() as u64;
        if cfg.label_value_length_limit > 0 && vlen > cfg.label_value_length_limit {
            let n50: String = n.chars().take(50).collect();
            let v50: String = v.chars().take(50).collect();
            return Err(format!(
                "label_value_length_limit exceeded (metric: {met50}, label name: {n50}, value: {v50:?}, length: {vlen}, limit: {})",
                cfg.label_value_length_limit
            ));
        }
    }
    Ok(())
}

fn valid_names(cfg: &ScrapeConfig, lset: &Labels) -> bool {
    let v = cfg.metric_name_validation_scheme;
    lset.iter().all(|(n, _)| {
        if n == METRIC_NAME {
            true
        } else {
            v.is_valid_label_name(n)
        }
    }) && lset
        .get(METRIC_NAME)
        .is_some_and(|m| v.is_valid_metric_name(m))
}

/// Why a scraped series has no final labels.
struct LabelsError {
    text: String,
    /// A label limit was exceeded.
    label_limit: bool,
}

/// Builds the series' final labels ([`final_labels`]) into `out` unless it
/// holds them already (a cached series' labels are built only when needed).
fn fill_labels(
    out: &mut Option<Labels>,
    st: &mut State,
    s: &Settings,
    name: &str,
    labels: &LabelsView<'_>,
) -> Result<(), LabelsError> {
    if out.is_none() {
        *out = final_labels(st, s, name, labels)?;
    }
    Ok(())
}

/// The final labels of a scraped series: its own labels and name, the
/// target's labels merged as `honor_labels` says, `metric_relabel_configs`
/// applied, then checked (names, limits). `None`: relabeling dropped it.
fn final_labels(
    st: &mut State,
    s: &Settings,
    name: &str,
    labels: &LabelsView<'_>,
) -> Result<Option<Labels>, LabelsError> {
    let cfg = &*s.cfg;
    let b = &mut st.builder;
    b.clear();
    b.set(METRIC_NAME, name);
    for (n, v) in labels.iter() {
        b.set(n, v);
    }
    st.merge_target_labels(s);
    if !model::relabel::process_builder(&mut st.builder, &cfg.metric_relabel_configs) {
        return Ok(None);
    }
    let lset = st.builder.labels();
    if lset.is_empty() {
        return Ok(None);
    }
    let fail = |text: String, label_limit: bool| Err(LabelsError { text, label_limit });
    if !lset.has(METRIC_NAME) {
        return fail("missing metric name (__name__ label)".to_owned(), false);
    }
    if !valid_names(cfg, &lset) {
        return fail(format!("invalid metric name or label names: {lset}"), false);
    }
    if let Err(e) = verify_label_limits(cfg, &lset) {
        return fail(e, true);
    }
    Ok(Some(lset))
}

fn exemplar_labels(view: &LabelsView<'_>) -> Labels {
    Labels::from_pairs(view.iter())
}

/// Parses `body` and appends its samples at `default_t`. Returns the
/// counts and, on failure (parse error, limits, storage), the reason; the
/// caller then rolls back and calls [`append_stale`] with `failed`.
pub(crate) fn append_scrape(
    app: &mut dyn Appender,
    st: &mut State,
    s: &Settings,
    body: &[u8],
    format: Format,
    default_t: Timestamp,
    tally: &mut Tally,
) -> (Counts, Result<(), String>) {
    let mut counts = Counts::default();
    if body.is_empty() {
        // An empty scrape: only stale markers; the cache is not flushed.
        return (counts, append_stale(app, st, default_t, false));
    }
    let cfg = &*s.cfg;
    let mut p = match parser(s, format, body) {
        Ok(p) => p,
        Err(e) => return (counts, Err(e)),
    };
    let iter = st.cache.iter();
    let mut appended: u64 = 0;
    let mut sample_limit_hit = false;
    let mut err: Option<String> = None;
    while let Some(entry) = p.next() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                err = Some(e.to_string());
                break;
            }
        };
        let (series, name, labels, value, ts, exemplar, hist_exemplars) = match entry {
            Entry::Type { metric, kind } => {
                st.family.clear();
                st.family.push_str(metric);
                st.cache.set_type(metric, kind);
                continue;
            }
            Entry::Help { metric, text } => {
                st.family.clear();
                st.family.push_str(metric);
                st.cache.set_help(metric, text);
                continue;
            }
            Entry::Unit { metric, unit } => {
                st.family.clear();
                st.family.push_str(metric);
                st.cache.set_unit(metric, unit);
                continue;
            }
            Entry::Comment(_) => continue,
            Entry::Sample(x) => (
                x.series,
                x.name,
                x.labels,
                Value::Float(x.value),
                x.timestamp,
                x.exemplar,
                &[][..],
            ),
            Entry::Histogram(h) => {
                if !cfg.scrape_native_histograms {
                    continue;
                }
                (
                    h.series,
                    h.name,
                    h.labels,
                    Value::Hist(h.value),
                    h.timestamp,
                    None,
                    h.exemplars,
                )
            }
        };
        counts.total += 1;
        let explicit_ts = if cfg.honor_timestamps { ts } else { None };
        let t = explicit_ts.map_or(default_t, Timestamp);
        let key = st.cache.key(series);
        if st.cache.is_dropped(&key) {
            continue;
        }
        let track = explicit_ts.is_none() || cfg.track_timestamps_staleness;
        // Fast path: a known series.
        let (cached, already, mut new_labels) = match st.cache.lookup(&key) {
            Some((i, already)) => (Some(i), already, None),
            None => match final_labels(st, s, name, &labels) {
                Ok(Some(lset)) => (None, false, Some(lset)),
                Ok(None) => {
                    st.cache.add_dropped(key);
                    continue;
                }
                Err(e) => {
                    tally.label_limit |= e.label_limit;
                    err = Some(e.text);
                    break;
                }
            },
        };
        let result = if already && explicit_ts.is_none() {
            Err(AppendError::DuplicateTimestamp)
        } else {
            let stale = matches!(value, Value::Float(v) if is_stale_nan(v));
            if !stale {
                appended += 1;
            }
            if cfg.sample_limit > 0 && appended > cfg.sample_limit {
                sample_limit_hit = true;
                counts.added += 1;
                continue;
            }
            if t.0 > default_t.0 + MAX_FUTURE {
                Err(AppendError::OutOfBounds)
            } else {
                let sample = match &value {
                    Value::Float(v) => Sample::Float(*v),
                    Value::Hist(HistogramValue::Int(h)) => Sample::Histogram(h),
                    Value::Hist(HistogramValue::Float(h)) => Sample::FloatHistogram(h),
                };
                let by_ref = match cached.and_then(|i| st.cache.entry(i).series_ref()) {
                    Some(r) => app.append_by_ref(r, t, sample),
                    None => Ok(None),
                };
                match by_ref {
                    Ok(Some(r)) => Ok(r),
                    Err(e) => Err(e),
                    // The storage does not know the series (any more): append
                    // with its labels, built again for a cached series.
                    Ok(None) => {
                        if let Err(e) = fill_labels(&mut new_labels, st, s, name, &labels) {
                            err = Some(e.text);
                            break;
                        }
                        match &new_labels {
                            Some(l) => app.append(None, l, t, sample),
                            None => continue,
                        }
                    }
                }
            }
        };
        let series_ref = match result {
            Ok(r) => Some(r),
            Err(AppendError::OutOfOrder) => {
                tally.out_of_order += 1;
                None
            }
            Err(AppendError::DuplicateTimestamp) => {
                tally.duplicate += 1;
                None
            }
            Err(AppendError::OutOfBounds) | Err(AppendError::TooOld) => {
                tally.out_of_bounds += 1;
                None
            }
            Err(e) => {
                err = Some(e.to_string());
                break;
            }
        };
        counts.added += 1;
        let Some(r) = series_ref else {
            continue;
        };
        match cached {
            Some(i) => {
                let e = st.cache.entry(i);
                e.set_ref(Some(r));
                if track {
                    Cache::track(iter, e);
                }
            }
            None => {
                let i = st.cache.add(key, Some(r));
                let e = st.cache.entry(i);
                if track {
                    Cache::track(iter, e);
                }
                if !sample_limit_hit {
                    counts.series_added += 1;
                }
                if let (Some(meta), Some(l)) = (st.cache.metadata(&st.family), &new_labels)
                    && is_series_part_of_family(name, &st.family, meta.kind)
                    && let Err(e) = app.update_metadata(Some(r), l, meta)
                {
                    tracing::debug!(err = %e, "metadata not appended");
                }
            }
        }
        if exemplar.is_none() && hist_exemplars.is_empty() {
            continue;
        }
        // Exemplars are rare: a cached series' labels are built again.
        if let Err(e) = fill_labels(&mut new_labels, st, s, name, &labels) {
            err = Some(e.text);
            break;
        }
        let Some(series_labels) = &new_labels else {
            continue;
        };
        if let Some(ex) = exemplar {
            let x = Exemplar {
                labels: exemplar_labels(&ex.labels),
                value: ex.value,
                timestamp: ex.timestamp.map_or(t, Timestamp),
            };
            if let Err(err) = app.append_exemplar(Some(r), series_labels, &x) {
                tracing::debug!(err = %err, "exemplar not appended");
            }
        }
        for ex in hist_exemplars {
            // Native histogram exemplars without a timestamp are dropped,
            // as in Prometheus.
            let Some(ts) = ex.timestamp else { continue };
            let x = Exemplar {
                labels: Labels::from_pairs(ex.labels.iter().map(|(a, b)| (a, b))),
                value: ex.value,
                timestamp: Timestamp(ts),
            };
            if let Err(err) = app.append_exemplar(Some(r), series_labels, &x) {
                tracing::debug!(err = %err, "exemplar not appended");
            }
        }
    }
    if sample_limit_hit {
        tally.sample_limit = true;
        if err.is_none() {
            err = Some("sample limit exceeded".to_owned());
        }
    }
    if let Some(e) = err {
        return (counts, Err(e));
    }
    if let Err(e) = stale_markers(app, st, default_t, false) {
        return (counts, Err(e));
    }
    st.cache.iter_done(true);
    (counts, Ok(()))
}

fn stale_markers(
    app: &mut dyn Appender,
    st: &mut State,
    t: Timestamp,
    failed: bool,
) -> Result<(), String> {
    let mut err = None;
    st.cache.for_each_stale(failed, |e| {
        if err.is_some() {
            return;
        }
        // A series the storage no longer knows gets no marker: it holds no
        // sample to mark, and its labels are not kept here.
        let Some(r) = e.series_ref() else { return };
        match app.append_by_ref(r, t, Sample::Float(STALE_NAN)) {
            Ok(r) => e.set_ref(r),
            // Expected when the target went away and came back.
            Err(AppendError::OutOfOrder | AppendError::DuplicateTimestamp) => {}
            Err(x) => err = Some(x.to_string()),
        }
    });
    err.map_or(Ok(()), Err)
}

/// Stale markers for what the previous scrape exposed and this one did not
/// (with `failed`: everything the previous scrape exposed), then ends the
/// iteration without flushing the cache.
pub(crate) fn append_stale(
    app: &mut dyn Appender,
    st: &mut State,
    t: Timestamp,
    failed: bool,
) -> Result<(), String> {
    let r = stale_markers(app, st, t, failed);
    st.cache.iter_done(false);
    r
}

/// What the report series say about one scrape.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Report {
    pub(crate) up: bool,
    pub(crate) duration: Duration,
    pub(crate) counts: Counts,
    /// Body bytes; -1 when `body_size_limit` was exceeded.
    pub(crate) body_bytes: i64,
}

/// Appends the report series (`up`, `scrape_duration_seconds`, ...); with
/// `report` `None`, their stale markers (the target went away).
pub(crate) fn append_report(
    app: &mut dyn Appender,
    st: &mut State,
    s: &Settings,
    t: Timestamp,
    report: Option<Report>,
) -> Result<(), String> {
    let values: [f64; 8] = match report {
        Some(r) => [
            if r.up { 1.0 } else { 0.0 },
            r.duration.as_secs_f64(),
            r.counts.total as f64,
            r.counts.added as f64,
            r.counts.series_added as f64,
            s.timeout.as_secs_f64(),
            s.cfg.sample_limit as f64,
            r.body_bytes as f64,
        ],
        None => [STALE_NAN; 8],
    };
    let n = if s.cfg.extra_scrape_metrics { 8 } else { 5 };
    let series = st.report_series(s);
    for ((labels, r), v) in series.iter_mut().zip(values).take(n) {
        match app.append(*r, labels, t, Sample::Float(v)) {
            Ok(x) => *r = Some(x),
            Err(AppendError::OutOfOrder | AppendError::DuplicateTimestamp) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}
