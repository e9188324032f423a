//! Hostile targets — an endless body, a slow drip, a hanging server, huge
//! labels, invalid UTF-8 — cost bounded memory and never delay a healthy
//! target's scrapes. Its own test binary, so the peak RSS it checks is its
//! own.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{MemStorage, Reply, Server, series, static_sets};

fn peak_rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_targets_are_bounded_and_isolated() {
    let healthy = Server::start(Reply::text("ok 1\n")).await;
    let endless = Server::start(Reply::Endless {
        content_type: "text/plain".into(),
        chunk: b"endless_metric{label=\"value\"} 1\n".repeat(2048),
    })
    .await;
    let drip = Server::start(Reply::Drip {
        content_type: "text/plain".into(),
        body: b"drip 1\n".repeat(100),
        delay: Duration::from_millis(5),
    })
    .await;
    let hang = Server::start(Reply::Hang).await;
    let huge_label = format!("huge{{l=\"{}\"}} 1\n", "x".repeat(1 << 20));
    let huge = Server::start(Reply::text(&huge_label)).await;
    let bad = Server::start(Reply::with(
        "text/plain",
        b"bad{l=\"\xc3\x28\"} 1\n".to_vec(),
    ))
    .await;
    let job = |name: &str, addr: &str, extra: &str| {
        format!(
            "- job_name: {name}\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\n  static_configs: [{{targets: ['{addr}']}}]\n{extra}"
        )
    };
    let yaml = format!(
        "scrape_configs:\n{}{}{}{}{}{}{}",
        job("healthy", &healthy.addr, ""),
        job("endless_limited", &endless.addr, "  body_size_limit: 1MB\n"),
        job("endless", &endless.addr, ""),
        job("drip", &drip.addr, ""),
        job("hang", &hang.addr, ""),
        job("huge", &huge.addr, "  label_value_length_limit: 1024\n"),
        job("bad", &bad.addr, ""),
    );
    let cfg = config::Config::load_str(&yaml).unwrap();
    let st = MemStorage::default();
    let options = scrape::Options {
        // Unset body_size_limit still stops at the ceiling.
        body_size_ceiling: Some(8 << 20),
        ..scrape::Options::default()
    };
    let before = peak_rss_kib();
    let m = scrape::Manager::new(Arc::new(st.clone()), options);
    m.apply_config(&cfg).unwrap();
    m.sync(static_sets(&cfg));
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let t = m.targets();
    m.stop().await;
    let peak = peak_rss_kib();

    let up = st.series(&series("up", "healthy", &healthy.addr, &[]));
    assert!(up.len() >= 12, "healthy target scraped {} times", up.len());
    assert!(up.iter().all(|(_, v)| *v == 1.0));
    for w in up.windows(2) {
        let gap = w[1].0 - w[0].0;
        assert!(
            (100..=350).contains(&gap),
            "healthy scrapes {gap} ms apart: {up:?}"
        );
    }
    let err = |job: &str| {
        t.active
            .iter()
            .find(|a| a.scrape_pool == job)
            .unwrap()
            .last_error
            .clone()
    };
    assert_eq!(err("endless_limited"), "body size limit exceeded");
    let e = err("endless");
    assert!(
        e == "body size limit exceeded" || e.ends_with("context deadline exceeded"),
        "{e}"
    );
    assert!(
        err("drip").ends_with("context deadline exceeded"),
        "{}",
        err("drip")
    );
    assert!(err("hang").ends_with("context deadline exceeded"));
    assert!(
        err("huge").starts_with("label_value_length_limit exceeded"),
        "{}",
        err("huge")
    );
    assert!(err("bad").contains("UTF-8"), "{}", err("bad"));
    for job in ["endless_limited", "endless", "drip", "hang", "huge", "bad"] {
        let a = t.active.iter().find(|a| a.scrape_pool == job).unwrap();
        assert_eq!(a.health, scrape::Health::Down, "{job}");
    }
    // Memory: an unbounded read of the endless body over 3 s of loopback
    // would take gigabytes.
    let grown_mib = peak.saturating_sub(before) / 1024;
    assert!(grown_mib < 200, "peak RSS grew by {grown_mib} MiB");
}
