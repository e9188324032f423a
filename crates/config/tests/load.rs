//! Loading and validating `prometheus.yml`: defaults, inheritance, errors
//! with their places, and the warnings for sections Ember does not run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use config::{Config, Duration};

#[track_caller]
fn err(yaml: &str, want: &str) {
    let e = Config::load_str(yaml).expect_err(yaml);
    assert_eq!(e.to_string(), want, "{yaml}");
}

#[test]
fn defaults_match_prometheus() {
    let c = Config::load_str("scrape_configs:\n  - job_name: a\n").unwrap();
    assert_eq!(c.global.scrape_interval, Duration::from_secs(60));
    assert_eq!(c.global.scrape_timeout, Duration::from_secs(10));
    assert_eq!(c.global.evaluation_interval, Duration::from_secs(60));
    let j = &c.scrape_configs[0];
    assert_eq!(j.metrics_path, "/metrics");
    assert_eq!(j.scheme, "http");
    assert!(!j.honor_labels);
    assert!(j.honor_timestamps);
    assert!(j.enable_compression);
    assert!(j.http.follow_redirects);
    assert!(j.http.enable_http2);
    assert_eq!(
        j.scrape_protocols,
        config::global::ScrapeProtocol::DEFAULT.to_vec()
    );
    assert_eq!(
        j.metric_name_escaping_scheme,
        config::global::EscapingScheme::AllowUtf8
    );
    assert!(c.warnings().is_empty());
}

#[test]
fn jobs_inherit_from_global() {
    let c = Config::load_str(
        "global:\n  scrape_interval: 5s\n  sample_limit: 10\n  scrape_native_histograms: true\nscrape_configs:\n  - job_name: a\n  - job_name: b\n    sample_limit: 3\n    scrape_interval: 1m\n",
    )
    .unwrap();
    let (a, b) = (&c.scrape_configs[0], &c.scrape_configs[1]);
    assert_eq!(a.scrape_interval, Duration::from_secs(5));
    assert_eq!(a.scrape_timeout, Duration::from_secs(5));
    assert_eq!(a.sample_limit, 10);
    assert_eq!(b.sample_limit, 3);
    // The global timeout was already capped at the global interval.
    assert_eq!(b.scrape_timeout, Duration::from_secs(5));
    assert_eq!(
        a.scrape_protocols[0],
        config::global::ScrapeProtocol::PrometheusProto
    );
}

#[test]
fn remote_write_defaults() {
    let c = Config::load_str("remote_write:\n  - url: http://a/push\n").unwrap();
    let rw = &c.remote_write[0];
    assert!(!rw.http.enable_http2);
    assert_eq!(rw.queue_config.max_shards, 50);
    assert_eq!(rw.remote_timeout, Duration::from_secs(30));
    assert_eq!(
        c.warnings(),
        vec!["remote_write is configured but not supported by Ember yet; it is ignored"]
    );
}

#[test]
fn errors_name_place_and_field() {
    // Type errors read as Go's decoder writes them (line only); the column
    // is still known.
    let e = Config::load_str("global:\n  foo: 1\n").expect_err("unknown field");
    assert_eq!(e.location(), Some(config::Location { line: 2, column: 3 }));
    assert_eq!(e.message(), "field foo not found in type config.plain");
    err(
        "global:\n  foo: 1\n",
        "parsing YAML file <input>: yaml: unmarshal errors:\n  line 2: field foo not found in type config.plain",
    );
    err(
        "scrape_configs:\n  - job_name: a\n  - job_name: a\n",
        "parsing YAML file <input>: line 3, column 5: found multiple scrape configs with job name \"a\"",
    );
    err(
        "scrape_configs:\n  - job_name: a\n    scrape_interval: 1x\n",
        "parsing YAML file <input>: line 3, column 22: not a valid duration string: \"1x\"",
    );
    err(
        "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 6s\n",
        "parsing YAML file <input>: line 2, column 5: scrape timeout greater than scrape interval for scrape config with job name \"a\"",
    );
    err(
        "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: hashmod\n        target_label: x\n",
        "parsing YAML file <input>: line 4, column 9: relabel configuration for hashmod requires non-zero modulus",
    );
    err(
        "scrape_configs:\n  - job_name: a\n    kubernetes_sd_configs:\n      - rolez: pod\n",
        "parsing YAML file <input>: yaml: unmarshal errors:\n  line 4: field rolez not found in type kubernetes.plain",
    );
}

#[test]
fn unsupported_sections_are_named() {
    let c = Config::load_str(
        "rule_files: [a.yml]\ntracing:\n  endpoint: x:4317\nscrape_configs:\n  - job_name: k\n    kubernetes_sd_configs:\n      - role: pod\n",
    )
    .unwrap();
    let w = c.warnings().join("\n");
    assert!(w.contains("kubernetes_sd_configs (job \"k\")"), "{w}");
    assert!(w.contains("tracing"), "{w}");
    assert!(w.contains("rule_files"), "{w}");
    assert_eq!(
        c.scrape_configs[0].discovery.other[0].mechanism,
        "kubernetes"
    );
}

#[test]
fn secrets_do_not_print() {
    let c = Config::load_str(
        "scrape_configs:\n  - job_name: a\n    basic_auth:\n      username: u\n      password: hunter2\n",
    )
    .unwrap();
    let dump = format!("{c:?}");
    assert!(!dump.contains("hunter2"), "{dump}");
    let pw = &c.scrape_configs[0]
        .http
        .basic_auth
        .as_ref()
        .unwrap()
        .password;
    assert_eq!(pw.expose(), "hunter2");
}

#[test]
fn scrape_config_files_are_merged() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("jobs")).unwrap();
    std::fs::write(
        dir.path().join("jobs/x.yml"),
        "scrape_configs:\n  - job_name: b\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("jobs/y.yml"),
        "scrape_configs:\n  - job_name: a\n",
    )
    .unwrap();
    let main = dir.path().join("prometheus.yml");
    std::fs::write(
        &main,
        "scrape_config_files: ['jobs/x.yml']\nscrape_configs:\n  - job_name: a\n",
    )
    .unwrap();
    let c = Config::load_file(&main).unwrap();
    let jobs: Vec<_> = c
        .scrape_configs()
        .unwrap()
        .into_iter()
        .map(|s| s.job_name)
        .collect();
    assert_eq!(jobs, ["a", "b"]);
    std::fs::write(
        &main,
        "scrape_config_files: ['jobs/*.yml']\nscrape_configs:\n  - job_name: a\n",
    )
    .unwrap();
    let e = Config::load_file(&main)
        .unwrap()
        .scrape_configs()
        .unwrap_err();
    assert!(
        e.to_string().contains(
            "found multiple scrape configs with job name \"a\", first found in main config file"
        ),
        "{e}"
    );
}
