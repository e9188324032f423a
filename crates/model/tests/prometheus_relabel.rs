//! Interoperability test against the real Prometheus (`/usr/bin/prometheus`,
//! Debian's 2.42 in CI): the same `relabel_configs` YAML is given to
//! Prometheus and to Ember, and every target's relabeling outcome must agree.
//!
//! Prometheus runs on loopback with static targets on unreachable ports (the
//! scrape interval is an hour, so scrapes hardly happen) and reports its
//! targets on `/api/v1/targets`. The input to relabeling is each target's
//! discovered label set: the static labels and `__address__`, plus `job`,
//! `__scheme__`, `__metrics_path__`, `__scrape_interval__` and
//! `__scrape_timeout__`. Prometheus 2.42 corrupts the `discoveredLabels` it
//! reports once relabeling has run (its `relabel.Process` reuses the input's
//! storage for the output), so the test builds the same sets from the static
//! config, and checks them against the uncorrupted `discoveredLabels` of a
//! job whose only step changes nothing. For every job, Ember's results,
//! after Prometheus's post-step (`instance` defaults to `__address__`, labels
//! starting with `__` are hidden), must equal the `labels` of Prometheus's
//! active targets for that job (as a multiset), and the rest must be
//! dropped.
//!
//! The configs avoid the few places where 2.42 differs from 3.x (newlines in
//! values, deleting a label through a templated `target_label`), and Ember
//! validates them with legacy name rules, as 2.42 does.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use model::Labels;
use model::labels::NameValidation;
use model::relabel::{self, Config};
use serde::Deserialize;

const PROMETHEUS: &str = "/usr/bin/prometheus";
const WAIT: Duration = Duration::from_secs(30);

/// A static target group: targets and the labels they share.
struct Group {
    targets: Vec<String>,
    labels: &'static [(&'static str, &'static str)],
}

/// The target groups shared by every job: 50 targets.
fn groups() -> Vec<Group> {
    vec![
        Group {
            targets: (1..=20).map(|p| format!("127.0.0.1:{p}")).collect(),
            labels: &[
                ("env", "Prod"),
                ("team", "Team-A"),
                ("__meta_zone", "EU-West-1"),
                ("digits", "٣4"),
            ],
        },
        Group {
            targets: (21..=40).map(|p| format!("127.0.0.1:{p}")).collect(),
            labels: &[
                ("env", "staging"),
                ("team", "team_b"),
                ("region", "us_EAST_1"),
                ("instance", "custom-b"),
                ("digits", "42"),
            ],
        },
        Group {
            targets: [
                "Host-A.Example.invalid:9100",
                "host-b.example.invalid:9100",
                "HOST-C.example.invalid:8080",
                "[::1]:9100",
                "localhost:9090",
                "db-01.prod.invalid:5432",
                "db-02.PROD.invalid:5432",
                "web.cache.invalid:11211",
                "bücher.invalid:80",
                "x<y>.invalid:1234",
            ]
            .map(String::from)
            .to_vec(),
            labels: &[
                ("env", "dev"),
                ("Mixed_Case", "VaLuE"),
                ("__meta_zone", "us-central"),
            ],
        },
    ]
}

const TARGETS_PER_JOB: usize = 50;

fn static_configs() -> String {
    let mut out = String::from("    static_configs:\n");
    for g in groups() {
        let targets: Vec<String> = g.targets.iter().map(|t| format!("'{t}'")).collect();
        let labels: Vec<String> = g
            .labels
            .iter()
            .map(|(n, v)| format!("{n}: '{v}'"))
            .collect();
        out += &format!(
            "      - targets: [{}]\n        labels: {{{}}}\n",
            targets.join(", "),
            labels.join(", ")
        );
    }
    out
}

/// The label sets Prometheus relabels for `job`'s targets.
fn discovered(job: &str) -> Vec<Labels> {
    let mut out = Vec::new();
    for g in groups() {
        for t in &g.targets {
            let mut b = Labels::from_pairs(g.labels.iter().copied()).to_builder();
            b.set("__address__", t);
            for (n, v) in [
                ("job", job),
                ("__scrape_interval__", "1h"),
                ("__scrape_timeout__", "10s"),
                ("__metrics_path__", "/metrics"),
                ("__scheme__", "http"),
            ] {
                if b.get(n).is_none() {
                    b.set(n, v);
                }
            }
            out.push(b.labels());
        }
    }
    out
}

/// Jobs and their relabel configs (YAML), one per family of actions.
const JOBS: &[(&str, &str)] = &[
    (
        "identity",
        r#"
      - {action: keep}
"#,
    ),
    (
        "hashmod",
        r#"
      - {source_labels: [__address__], action: hashmod, modulus: 3, target_label: __tmp_h3}
      - {source_labels: [__address__], action: hashmod, modulus: 7, target_label: shard7}
      - {source_labels: [__address__, env], separator: '|', action: hashmod, modulus: 1000, target_label: shard1000}
      - {source_labels: [job, __address__], action: HashMod, modulus: 2147483647, target_label: shard_big}
      - {source_labels: [missing], action: hashmod, modulus: 18446744073709551615, target_label: shard_empty}
      - {source_labels: [__tmp_h3], regex: '1|2', action: keep}
"#,
    ),
    (
        "labelmap",
        r#"
      - {action: labelmap, regex: '__meta_(.+)', replacement: 'meta_$1'}
      - {action: labelmap, regex: '(env|team)', replacement: 'copy_${1}'}
      - {action: labelmap, regex: '([a-z]+)_([a-z]+)', replacement: '$2_$1'}
      - {action: labelmap, regex: '(?i)MIXED_(.*)', replacement: 'm_$1'}
"#,
    ),
    (
        "replace",
        r#"
      - {source_labels: [__address__], regex: '(.+):(\d+)', target_label: host, replacement: '$1'}
      - {source_labels: [__address__], regex: '(.+):(\d+)', target_label: port, replacement: '${2}'}
      - {source_labels: [host], regex: '(?P<first>[^.]+)\.(?P<rest>.*)', target_label: short, replacement: '${first}'}
      - {source_labels: [host], regex: '(?P<first>[^.]+)\.(?P<rest>.*)', target_label: domain_rev, replacement: '$rest/$first'}
      - {source_labels: [port], regex: '(\d)(\d*)', target_label: port_parts, replacement: '${1}x-$1x-$2-$$'}
      - {source_labels: [team], target_label: 'team_$1', replacement: '[$1]'}
      - {source_labels: [env, team], separator: '@', regex: '(.*)@(.*)', target_label: env_team, replacement: '$2 in $1'}
      - {target_label: constant, replacement: fixed}
      - {source_labels: [missing_label], target_label: from_missing, replacement: 'x${1}y'}
      - {source_labels: [env], regex: 'Prod', target_label: instance, replacement: 'prod-$1'}
      - {source_labels: [region], regex: '(.*)_(.*)_(.*)', target_label: region, replacement: ''}
      - {source_labels: [env], regex: 'nomatch', target_label: env, replacement: 'changed'}
"#,
    ),
    (
        "keepdrop",
        r#"
      - {source_labels: [env], regex: '(?i)prod|staging', action: keep}
      - {source_labels: [__address__], regex: '.*:1[0-9]', action: drop}
      - {source_labels: [team, __address__], regex: 'team_b;127\.0\.0\.1:3\d', action: drop}
      - {source_labels: [missing], regex: '', action: keep}
"#,
    ),
    (
        "equal",
        r#"
      - {source_labels: [__address__], action: hashmod, modulus: 2, target_label: __tmp_h2}
      - {source_labels: [__address__], action: hashmod, modulus: 4, target_label: __tmp_h4}
      - {source_labels: [__tmp_h2], action: keepequal, target_label: __tmp_h4}
      - {source_labels: [team], action: lowercase, target_label: __tmp_team_lower}
      - {source_labels: [team], action: dropequal, target_label: __tmp_team_lower}
      - {source_labels: [__tmp_h2, job], action: dropequal, target_label: __tmp_never}
"#,
    ),
    (
        "equal2",
        r#"
      - {source_labels: [env], action: lowercase, target_label: __tmp_env}
      - {source_labels: [__tmp_env], action: dropequal, target_label: env}
"#,
    ),
    (
        "case",
        r#"
      - {source_labels: [env], action: lowercase, target_label: env_lower}
      - {source_labels: [__address__], action: uppercase, target_label: addr_upper}
      - {source_labels: [team, region], action: lowercase, target_label: team_region}
      - {source_labels: [Mixed_Case], action: uppercase, target_label: Mixed_Case}
      - {source_labels: [__address__], action: lowercase, target_label: addr_lower}
"#,
    ),
    (
        "labelsets",
        r#"
      - {action: labeldrop, regex: '__meta_.*|team'}
      - {action: labelkeep, regex: '__.*|env|job|instance|region|digits|(?i)mixed_CASE'}
      - {action: labeldrop, regex: 'digit'}
"#,
    ),
    (
        "goregex",
        r#"
      - {source_labels: [__address__], regex: '[[:upper:]].*', target_label: m_upper, replacement: 'yes'}
      - {source_labels: [__address__], regex: '\Qhost-b.\E.*', target_label: m_quote, replacement: 'yes'}
      - {source_labels: [__address__], regex: '.*\bexample\b.*', target_label: m_word, replacement: 'yes'}
      - {source_labels: [__address__], regex: '(?i)HOST.*', target_label: m_fold, replacement: 'yes'}
      - {source_labels: [__address__], regex: '[^[]+', target_label: m_no_bracket, replacement: 'yes'}
      - {source_labels: [digits], regex: '\d+', target_label: m_ascii_digit, replacement: 'yes'}
      - {source_labels: [digits], regex: '\pN+', target_label: m_unicode_digit, replacement: 'yes'}
      - {source_labels: [digits], regex: '\w+', target_label: m_word_chars, replacement: 'yes'}
      - {source_labels: [__address__], regex: '.*\x3a\d{4,5}', target_label: m_hex, replacement: 'yes'}
      - {source_labels: [__address__], regex: '.*\072\d{2}', target_label: m_octal, replacement: 'yes'}
      - {source_labels: [__address__], regex: '[a&&b-z.]+:.*', target_label: m_amp_class, replacement: 'yes'}
      - {source_labels: [__address__], regex: 'x\<y\>.*', target_label: m_angle, replacement: 'yes'}
      - {source_labels: [__address__], regex: '(?i)BÜCHER.*', target_label: m_umlaut, replacement: 'yes'}
      - {source_labels: [Mixed_Case], regex: '(?i:value)', target_label: m_group_flag, replacement: 'yes'}
      - {source_labels: [__address__], regex: '[\d.]+:(?P<p>\d+)', target_label: 'p_${p}', replacement: '$p'}
      - {source_labels: [__address__], regex: 'x{0}.*:5\d*|a{,2}', target_label: m_brace, replacement: 'yes'}
      - {source_labels: [__address__], regex: '(?U)(.+)(\d+)', target_label: m_lazy, replacement: '$1|$2'}
      - {source_labels: [__address__], regex: '(.+?)(\d+)', target_label: m_lazy2, replacement: '$1|$2'}
      - {source_labels: [__address__], regex: '(.*?)(\d*)', target_label: m_lazy3, replacement: '$1|$2'}
      - {source_labels: [__address__], regex: '((a)|b)*.*', target_label: m_nested, replacement: '$1|$2'}
      - {source_labels: [env], regex: '[[:^lower:]]+.*', target_label: m_posix_neg, replacement: 'yes'}
      - {source_labels: [__address__], regex: '\[::1\]:\d+|db-0[12]\..*', target_label: m_escape, replacement: 'yes'}
      - {source_labels: [__address__], regex: '(?:(?:127|localhost)(?:\.0)*(?:\.1)?):([1-9]|1[0-5])', target_label: m_low_port, replacement: 'port$1'}
"#,
    ),
    (
        "chain",
        r#"
      - {source_labels: [__address__], regex: '127\.0\.0\.1:(\d+)', target_label: __address__, replacement: 'localhost:$1'}
      - {source_labels: [env], regex: 'Prod|dev', target_label: __tmp_keep, replacement: '1'}
      - {source_labels: [__tmp_keep, __address__], regex: '1;.*', action: keep}
      - {source_labels: [__address__], regex: '.*:(\d)', target_label: instance, replacement: 'single-digit-$1'}
      - {source_labels: [job], target_label: job, replacement: 'renamed-$1'}
      - {source_labels: [__scheme__, __metrics_path__, __scrape_interval__], separator: ' ', target_label: scrape}
      - {action: labelmap, regex: '__(meta|tmp)_(.*)', replacement: 'from_${1}_$2'}
"#,
    ),
];

fn prometheus_yml() -> String {
    let mut out =
        String::from("global:\n  scrape_interval: 1h\n  scrape_timeout: 10s\nscrape_configs:\n");
    for (job, configs) in JOBS {
        out += &format!("  - job_name: {job}\n");
        out += &static_configs();
        out += "    relabel_configs:";
        out += configs;
    }
    out
}

#[derive(Deserialize)]
struct PromConfig {
    scrape_configs: Vec<ScrapeConfig>,
}

#[derive(Deserialize)]
struct ScrapeConfig {
    job_name: String,
    #[serde(default)]
    relabel_configs: Vec<Config>,
}

/// Kills Prometheus and removes its directory on every path.
struct Guard {
    child: Option<Child>,
    dir: PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Guard {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local address").port()
}

/// A minimal HTTP/1.1 GET (handles `Content-Length` and chunked bodies).
fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let eol = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or_else(|| bad("bad chunk"))?;
            let size_text = String::from_utf8_lossy(&rest[..eol]);
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| bad("bad chunk size"))?;
            rest = &rest[eol + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(rest.get(..size).ok_or_else(|| bad("short chunk"))?);
            rest = rest.get(size + 2..).ok_or_else(|| bad("short chunk"))?;
        }
        body = out;
    }
    Ok((
        status,
        String::from_utf8(body).map_err(|_| bad("body is not UTF-8"))?,
    ))
}

fn labels_of(v: &serde_json::Value) -> Labels {
    let obj = v.as_object().expect("labels are a JSON object");
    Labels::from_pairs(
        obj.iter()
            .map(|(k, v)| (k.as_str(), v.as_str().expect("label values are strings"))),
    )
}

fn map_of(l: &Labels) -> BTreeMap<String, String> {
    l.iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

/// What Prometheus shows as a target's `labels` after relabeling:
/// `instance` defaults to `__address__`, `__`-prefixed labels are hidden.
fn public_target_labels(relabeled: &Labels) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = relabeled
        .iter()
        .filter(|(n, _)| !n.starts_with("__"))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    if !out.contains_key("instance") {
        out.insert(
            "instance".into(),
            relabeled.get("__address__").unwrap_or("").to_owned(),
        );
    }
    out
}

fn start_prometheus(dir: &Path, config: &Path, port: u16) -> Child {
    let log = std::fs::File::create(dir.join("prometheus.log")).expect("create the log file");
    let log2 = log.try_clone().expect("clone the log file");
    Command::new(PROMETHEUS)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .expect("start prometheus")
}

#[test]
fn relabeling_matches_prometheus() {
    assert!(
        Path::new(PROMETHEUS).exists(),
        "{PROMETHEUS} is missing: this test needs the real Prometheus (Debian package `prometheus`); install it, do not skip the test"
    );

    let yml = prometheus_yml();
    // Ember reads the very same text.
    let parsed: PromConfig =
        serde_saphyr::from_str(&yml).expect("Ember parses the relabel configs");
    let mut jobs: BTreeMap<String, Vec<Config>> = BTreeMap::new();
    let mut n_configs = 0;
    for mut sc in parsed.scrape_configs {
        for c in &mut sc.relabel_configs {
            c.validate(NameValidation::Legacy).unwrap_or_else(|e| {
                panic!(
                    "job {}: Ember rejects a config Prometheus accepts: {e}",
                    sc.job_name
                )
            });
        }
        n_configs += sc.relabel_configs.len();
        jobs.insert(sc.job_name, sc.relabel_configs);
    }
    assert_eq!(jobs.len(), JOBS.len());

    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir =
        std::env::temp_dir().join(format!("ember-prom-relabel-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    let mut guard = Guard {
        child: None,
        dir: dir.clone(),
    };
    let config_path = dir.join("prometheus.yml");
    std::fs::write(&config_path, &yml).expect("write prometheus.yml");
    let port = free_port();
    guard.child = Some(start_prometheus(&dir, &config_path, port));

    let expected_total = TARGETS_PER_JOB * JOBS.len();
    let deadline = Instant::now() + WAIT;
    let data = loop {
        if let Some(child) = guard.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            panic!("prometheus exited early with {status}:\n{}", guard.log());
        }
        if let Ok((200, body)) = http_get(port, "/api/v1/targets") {
            let v: serde_json::Value =
                serde_json::from_str(&body).expect("the targets API returns JSON");
            let data = v["data"].clone();
            let n = data["activeTargets"].as_array().map_or(0, Vec::len)
                + data["droppedTargets"].as_array().map_or(0, Vec::len);
            if n >= expected_total {
                break data;
            }
        }
        assert!(
            Instant::now() < deadline,
            "prometheus did not report {expected_total} targets within {WAIT:?}:\n{}",
            guard.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    };

    let active = data["activeTargets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let dropped = data["droppedTargets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut prom_active: BTreeMap<String, Vec<BTreeMap<String, String>>> = BTreeMap::new();
    let mut identity_discovered = Vec::new();
    for t in &active {
        let job = t["scrapePool"].as_str().unwrap_or("").to_owned();
        if job == "identity" {
            identity_discovered.push(map_of(&labels_of(&t["discoveredLabels"])));
        }
        prom_active
            .entry(job)
            .or_default()
            .push(map_of(&labels_of(&t["labels"])));
    }
    assert_eq!(
        active.len() + dropped.len(),
        expected_total,
        "every target is active or dropped"
    );

    // The reconstructed input is what Prometheus reports where relabeling
    // changed nothing.
    let mut want_identity: Vec<_> = discovered("identity").iter().map(map_of).collect();
    want_identity.sort();
    identity_discovered.sort();
    assert_eq!(
        identity_discovered, want_identity,
        "discovered labels of the identity job"
    );

    let mut mismatches = Vec::new();
    let mut summary = Vec::new();
    let mut n_active = 0;
    for (job, cfgs) in &jobs {
        let mut ember_active = Vec::new();
        let mut ember_dropped = 0;
        for input in discovered(job) {
            match relabel::process(&input, cfgs) {
                Some(out) => ember_active.push(public_target_labels(&out)),
                None => ember_dropped += 1,
            }
        }
        ember_active.sort();
        let mut prom = prom_active.remove(job).unwrap_or_default();
        prom.sort();
        n_active += prom.len();
        summary.push(format!(
            "{job}: {} configs, {} active, {} dropped",
            cfgs.len(),
            prom.len(),
            TARGETS_PER_JOB - prom.len()
        ));
        for got in &ember_active {
            if !prom.contains(got) {
                mismatches.push(format!(
                    "job {job}: Ember keeps {got:?}, Prometheus has no such target"
                ));
            }
        }
        for want in &prom {
            if !ember_active.contains(want) {
                mismatches.push(format!(
                    "job {job}: Prometheus keeps {want:?}, Ember has no such target"
                ));
            }
        }
        if ember_active.len() != prom.len() && mismatches.is_empty() {
            mismatches.push(format!(
                "job {job}: {} active in Ember, {} in Prometheus",
                ember_active.len(),
                prom.len()
            ));
        }
        assert_eq!(ember_active.len() + ember_dropped, TARGETS_PER_JOB);
    }
    eprintln!(
        "compared {expected_total} targets ({n_active} active, {} dropped) over {} jobs and {n_configs} relabel configs; {} mismatches\n  {}",
        expected_total - n_active,
        jobs.len(),
        mismatches.len(),
        summary.join("\n  ")
    );
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert!(
        prom_active.is_empty(),
        "active targets of unknown jobs: {prom_active:?}"
    );
}
