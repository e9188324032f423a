//! `apply_config` diffs pools: unchanged jobs keep their loops (no restart,
//! scrapes stay on their grid), changed jobs restart (keeping the scrape
//! cache when the change does not affect samples), removed jobs write stale
//! markers, new jobs start.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::time::Duration;

use common::{MemStorage, Reply, Server, manager, series, static_sets};
use model::is_stale_nan;

fn job(name: &str, addr: &str, extra: &str) -> String {
    format!(
        "- job_name: {name}\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\n  static_configs: [{{targets: ['{addr}']}}]\n{extra}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_unchanged_pools_running() {
    let srv = Server::start(Reply::text("m 1\n")).await;
    let a = srv.addr.as_str();
    let st = MemStorage::default();
    let before = format!(
        "scrape_configs:\n{}{}{}{}",
        job("keep", a, ""),
        job("timeout", a, ""),
        job("relabel", a, ""),
        job("removed", a, ""),
    );
    let (m, _) = manager(&st, &before);
    let added = |job: &str| st.series(&series("scrape_series_added", job, a, &[]));
    st.wait_for(Duration::from_secs(10), "two scrapes each", |_| {
        ["keep", "timeout", "relabel", "removed"]
            .iter()
            .all(|j| added(j).len() >= 2)
    })
    .await;

    let after = format!(
        "scrape_configs:\n{}{}{}{}",
        job("keep", a, ""),
        job("timeout", a, "").replace("150ms", "120ms"),
        job(
            "relabel",
            a,
            "  metric_relabel_configs:\n  - {target_label: tag, replacement: new}\n"
        ),
        job("added", a, ""),
    );
    let cfg = config::Config::load_str(&after).unwrap();
    let n_keep = added("keep").len();
    m.apply_config(&cfg).unwrap();
    m.sync(static_sets(&cfg));
    // Removed job: stale markers at once.
    let m_removed = series("m", "removed", a, &[]);
    st.wait_for(Duration::from_secs(5), "removed job stale", |s| {
        s.series(&m_removed)
            .last()
            .is_some_and(|(_, v)| is_stale_nan(*v))
    })
    .await;
    st.wait_for(Duration::from_secs(10), "scrapes after the reload", |_| {
        added("keep").len() >= n_keep + 4 && !added("added").is_empty()
    })
    .await;
    m.stop().await;

    // Unchanged: the same loop and cache (no series added again) and its
    // scrapes stay on their 200 ms grid across the reload.
    let keep = added("keep");
    assert!(keep[1..].iter().all(|(_, v)| *v == 0.0), "{keep:?}");
    for w in keep.windows(2) {
        let gap = w[1].0 - w[0].0;
        assert!(
            (100..=350).contains(&gap),
            "keep scrapes {gap} ms apart: {keep:?}"
        );
    }
    // Timeout change: restarted with the new timeout, cache handed over.
    let timeouts: Vec<String> = srv
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter_map(|r| {
            r.header("X-Prometheus-Scrape-Timeout-Seconds")
                .map(str::to_owned)
        })
        .collect();
    assert!(timeouts.contains(&"0.12".to_owned()), "{timeouts:?}");
    assert!(added("timeout").iter().skip(1).all(|(_, v)| *v == 0.0));
    // Relabel change: new series under the new rule; the old one goes stale.
    let new = series("m", "relabel", a, &[("tag", "new")]);
    assert!(!st.series(&new).is_empty());
    assert!(added("relabel").iter().any(|(_, v)| *v == 1.0));
    // Added job scrapes.
    assert!(!st.series(&series("m", "added", a, &[])).is_empty());
}
