//! Providers through the manager: static configs, file_sd with a bad file
//! keeping the last good targets, http_sd keeping the last good targets on
//! failure.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use discovery::file::{FileOptions, FileProvider};
use discovery::http::HttpProvider;
use discovery::{Manager, ManagerOptions, Provider, TargetSets};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

fn fast() -> ManagerOptions {
    ManagerOptions {
        debounce: Duration::from_millis(30),
    }
}

/// Addresses per job, sorted.
fn addresses(s: &TargetSets, job: &str) -> Vec<String> {
    let mut v: Vec<String> = s
        .get(job)
        .into_iter()
        .flatten()
        .flat_map(|g| {
            g.targets
                .iter()
                .map(|t| t.get("__address__").unwrap().to_owned())
        })
        .collect();
    v.sort();
    v
}

async fn next(rx: &mut mpsc::Receiver<TargetSets>) -> TargetSets {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a snapshot in time")
        .unwrap()
}

/// Waits for a snapshot where `job` has exactly `want`.
async fn wait_for(rx: &mut mpsc::Receiver<TargetSets>, job: &str, want: &[&str]) -> TargetSets {
    loop {
        let s = next(rx).await;
        if addresses(&s, job) == want {
            return s;
        }
    }
}

#[tokio::test]
async fn static_configs_and_reload() {
    let cfg = config::Config::load_str(
        "scrape_configs:\n- job_name: a\n  static_configs: [{targets: ['h1:1', 'h2:2'], labels: {env: prod}}]\n- job_name: b\n  static_configs: [{targets: ['h3:3']}]\n",
    )
    .unwrap();
    let (mut m, mut rx) = Manager::new(fast());
    m.apply_config(&cfg);
    let s = wait_for(&mut rx, "a", &["h1:1", "h2:2"]).await;
    assert_eq!(addresses(&s, "b"), vec!["h3:3"]);
    let g = &s["a"][0];
    assert_eq!(g.source, "0");
    assert_eq!(g.labels.get("env"), Some("prod"));
    let cfg = config::Config::load_str(
        "scrape_configs:\n- job_name: a\n  static_configs: [{targets: ['h1:1', 'h2:2'], labels: {env: prod}}]\n- job_name: c\n  static_configs: [{targets: ['h4:4']}]\n",
    )
    .unwrap();
    m.apply_config(&cfg);
    let s = wait_for(&mut rx, "c", &["h4:4"]).await;
    assert!(!s.contains_key("b"));
    assert_eq!(addresses(&s, "a"), vec!["h1:1", "h2:2"]);
}

#[tokio::test]
async fn file_sd_keeps_last_good_targets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("targets.json");
    std::fs::write(&path, r#"[{"targets": ["a:1"], "labels": {"team": "x"}}]"#).unwrap();
    let sd = config::discovery::FileSdConfig {
        files: vec![format!("{}/*.json", dir.path().display())],
        refresh_interval: config::Duration::from_secs(300),
    };
    let p: Box<dyn Provider> = Box::new(FileProvider::new(
        &sd,
        FileOptions {
            poll_interval: Duration::from_millis(20),
        },
    ));
    let (mut m, mut rx) = Manager::new(fast());
    m.start_job("files".into(), Default::default(), vec![p]);
    let s = wait_for(&mut rx, "files", &["a:1"]).await;
    let g = &s["files"][0];
    assert_eq!(g.source, format!("{}:0", path.display()));
    assert_eq!(
        g.labels.get("__meta_filepath"),
        Some(path.to_str().unwrap())
    );
    assert_eq!(g.labels.get("team"), Some("x"));

    // A broken file: the last good targets stay.
    std::fs::write(&path, r#"[{"targets": ["b:1"#).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(addresses(&m.snapshot(), "files"), vec!["a:1"]);

    // Fixed, and a second file.
    std::fs::write(&path, r#"[{"targets": ["b:1"]}]"#).unwrap();
    std::fs::write(dir.path().join("more.json"), r#"[{"targets": ["c:1"]}]"#).unwrap();
    wait_for(&mut rx, "files", &["b:1", "c:1"]).await;
    // A removed file removes its targets.
    std::fs::remove_file(&path).unwrap();
    wait_for(&mut rx, "files", &["c:1"]).await;
}

/// A server answering each request with the next scripted response.
async fn serve(
    replies: Arc<Mutex<Vec<(u16, String, String)>>>,
    seen: Arc<Mutex<Vec<String>>>,
) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = l.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut tmp = [0u8; 2048];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut tmp).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&tmp[..n]),
                }
            }
            seen.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf).into_owned());
            let (status, ct, body) = {
                let mut r = replies.lock().unwrap();
                if r.len() > 1 {
                    r.remove(0)
                } else {
                    r[0].clone()
                }
            };
            let resp = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    addr
}

#[tokio::test]
async fn http_sd_refreshes_and_keeps_last_good() {
    let two = r#"[{"targets": ["a:1"], "labels": {"k": "v"}}, {"targets": ["b:1"]}]"#;
    let replies = Arc::new(Mutex::new(vec![
        (200, "application/json".to_owned(), two.to_owned()),
        (500, "application/json".to_owned(), "oops".to_owned()),
        (200, "text/html".to_owned(), "<html>".to_owned()),
        (
            200,
            "application/json; charset=utf-8".to_owned(),
            r#"[{"targets": ["c:1"]}]"#.to_owned(),
        ),
    ]));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let addr = serve(replies, seen.clone()).await;
    let url = format!("http://{addr}/sd");
    let yaml = format!(
        "scrape_configs:\n- job_name: h\n  http_sd_configs: [{{url: '{url}', refresh_interval: 100ms}}]\n"
    );
    let cfg = config::Config::load_str(&yaml).unwrap();
    let sd = &cfg.scrape_configs[0].discovery.http_sd_configs[0];
    let mut p = HttpProvider::new(sd).unwrap();

    let g = p.refresh().await.unwrap();
    assert_eq!(g.len(), 2);
    assert_eq!(g[0].source, format!("{url}:0"));
    assert_eq!(g[0].labels.get("__meta_url"), Some(url.as_str()));
    assert_eq!(g[0].labels.get("k"), Some("v"));
    let req = seen.lock().unwrap()[0].to_lowercase();
    assert!(req.contains("accept: application/json"), "{req}");
    assert!(
        req.contains("x-prometheus-refresh-interval-seconds: 0.1"),
        "{req}"
    );
    assert_eq!(
        p.refresh().await.unwrap_err().to_string(),
        format!("fetch targets from {url}: server returned HTTP status 500 Internal Server Error")
    );
    assert_eq!(
        p.refresh().await.unwrap_err().to_string(),
        format!("fetch targets from {url}: unsupported content type \"text/html\"")
    );
    // Fewer groups: the vanished index is emptied.
    let g = p.refresh().await.unwrap();
    assert_eq!(g.len(), 2);
    assert!(g[1].targets.is_empty());
    assert_eq!(g[1].source, format!("{url}:1"));
}

#[tokio::test]
async fn http_sd_failure_keeps_targets_in_the_manager() {
    let replies = Arc::new(Mutex::new(vec![
        (
            200,
            "application/json".to_owned(),
            r#"[{"targets": ["a:1"]}]"#.to_owned(),
        ),
        (503, "application/json".to_owned(), String::new()),
    ]));
    let addr = serve(replies, Arc::default()).await;
    let yaml = format!(
        "scrape_configs:\n- job_name: h\n  http_sd_configs: [{{url: 'http://{addr}/', refresh_interval: 50ms}}]\n"
    );
    let cfg = config::Config::load_str(&yaml).unwrap();
    let (mut m, mut rx) = Manager::new(fast());
    m.apply_config(&cfg);
    wait_for(&mut rx, "h", &["a:1"]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(addresses(&m.snapshot(), "h"), vec!["a:1"]);
}
