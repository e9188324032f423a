//! `ember server --web.config.file`: HTTPS with a certificate generated
//! here, basic authentication (good, wrong and missing credentials, unknown
//! users) and the configured response headers, through real TLS
//! connections; a bad file stops the server at start with an error naming
//! the file and the field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(dir: &Path, port: u16, web_config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ember"))
        .arg("server")
        .arg(format!("--web.config.file={}", web_config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("ember.log")).unwrap())
        .spawn()
        .expect("start ember server")
}

/// A raw HTTP/1.0 response: status line, headers (lower-cased names), body.
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn parse(raw: &str) -> Option<Resp> {
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
        .collect();
    Some(Resp {
        status,
        headers,
        body: body.to_string(),
    })
}

fn tls_client(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// GET over TLS, with `Authorization: Basic` when `auth` is given.
fn https_get(
    client: &Arc<rustls::ClientConfig>,
    port: u16,
    path: &str,
    auth: Option<(&str, &str)>,
) -> Option<Resp> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).ok()?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let conn = rustls::ClientConnection::new(client.clone(), "localhost".try_into().ok()?).ok()?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let auth = auth
        .map(|(u, p)| {
            format!(
                "Authorization: Basic {}\r\n",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        })
        .unwrap_or_default();
    write!(tls, "GET {path} HTTP/1.0\r\nHost: localhost\r\n{auth}\r\n").ok()?;
    let mut raw = Vec::new();
    // A peer closing without close_notify still gave us the response.
    let _ = tls.read_to_end(&mut raw);
    parse(&String::from_utf8_lossy(&raw))
}

#[test]
fn https_basic_auth_and_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("server.crt"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), cert.signing_key.serialize_pem()).unwrap();
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let web = dir.join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS12\n\
             basic_auth_users:\n  alice: {hash}\n\
             http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let _server = Server(start(dir, port, &web));
    let client = tls_client(&cert.cert.pem());

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if https_get(&client, port, "/-/ready", Some(("alice", "s3cret")))
            .is_some_and(|r| r.status == 200)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no HTTPS answer; log:\n{}",
            std::fs::read_to_string(dir.join("ember.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let ok = https_get(
        &client,
        port,
        "/api/v1/query?query=1",
        Some(("alice", "s3cret")),
    )
    .unwrap();
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body.contains("\"status\":\"success\""), "{}", ok.body);
    assert_eq!(ok.header("x-frame-options"), Some("deny"));
    assert_eq!(
        ok.header("strict-transport-security"),
        Some("max-age=31536000")
    );

    for (what, auth) in [
        ("no credentials", None),
        ("a wrong password", Some(("alice", "wrong"))),
        ("an unknown user", Some(("mallory", "s3cret"))),
        ("an empty password", Some(("alice", ""))),
    ] {
        let r = https_get(&client, port, "/api/v1/query?query=1", auth).unwrap();
        assert_eq!(r.status, 401, "{what}");
        assert_eq!(r.header("www-authenticate"), Some("Basic"), "{what}");
        assert_eq!(r.body, "Unauthorized\n", "{what}");
        assert_eq!(
            r.header("x-frame-options"),
            Some("deny"),
            "headers on 401 too ({what})"
        );
    }
    // A good password still works after failures (and from the cache).
    for _ in 0..3 {
        let r = https_get(&client, port, "/-/healthy", Some(("alice", "s3cret"))).unwrap();
        assert_eq!(r.status, 200);
    }

    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(plain, "GET /-/healthy HTTP/1.0\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    let _ = plain.read_to_end(&mut raw);
    assert!(
        !String::from_utf8_lossy(&raw).starts_with("HTTP/1."),
        "plain HTTP answered"
    );

    // A client that does not trust the certificate fails the handshake.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    assert!(https_get(&tls_client(&other.cert.pem()), port, "/-/healthy", None).is_none());
}

#[test]
fn basic_auth_over_plain_http_and_changes_apply_without_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let web = dir.join("web.yml");
    let alice = bcrypt::hash("one", 4).unwrap();
    std::fs::write(&web, format!("basic_auth_users:\n  alice: {alice}\n")).unwrap();
    let port = free_port();
    let _server = Server(start(dir, port, &web));
    let get = |auth: &str| -> Option<u16> {
        let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(s, "GET /-/healthy HTTP/1.0\r\n{auth}\r\n").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        parse(&out).map(|r| r.status)
    };
    let basic = |u: &str, p: &str| {
        format!(
            "Authorization: Basic {}\r\n",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&basic("alice", "one")) != Some(200) {
        assert!(Instant::now() < deadline, "server did not answer");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get(""), Some(401));
    // Replace the password: the new one works within a few seconds, the old one stops.
    let two = bcrypt::hash("two", 4).unwrap();
    std::fs::write(
        &web,
        format!("basic_auth_users:\n  alice: {two}\n  bob: {two}\n"),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(&basic("bob", "two")) != Some(200) {
        assert!(
            Instant::now() < deadline,
            "the changed file was not applied"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(get(&basic("alice", "one")), Some(401));
    assert_eq!(get(&basic("alice", "two")), Some(200));
}

#[test]
fn a_bad_web_config_stops_the_server_naming_file_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let web = dir.join("web.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  min_version: TLS9\n",
    )
    .unwrap();
    let mut child = start(dir, free_port(), &web);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "ember kept running with a bad web config"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let log = std::fs::read_to_string(dir.join("ember.log")).unwrap();
    assert!(
        log.contains("web.yml") && log.contains("min_version"),
        "{log}"
    );
}
