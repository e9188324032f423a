//! `--web.config.file` validation agrees with Debian's `promtool check
//! web-config` (2.42) on good and bad files: same verdict for each, and our
//! error names the file and the field. Certificates are generated here.
//!
//! Messages differ where 2.42 and 3.x differ (`missing cert_file` in 2.42,
//! `missing one of cert or cert_file` in 3.x); only verdicts are compared.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

const PROMTOOL: &str = "/usr/bin/promtool";
const HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

fn promtool_accepts(file: &Path) -> bool {
    let out = Command::new(PROMTOOL)
        .args(["check", "web-config"])
        .arg(file)
        .output()
        .expect("run /usr/bin/promtool (install Debian's prometheus package)");
    out.status.success()
}

#[test]
fn promtool_check_web_config_agrees() {
    assert!(
        Path::new(PROMTOOL).exists(),
        "{PROMTOOL} is missing: install Debian's prometheus package"
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("server.crt"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), cert.signing_key.serialize_pem()).unwrap();
    std::fs::write(dir.join("garbage.key"), "not a key\n").unwrap();
    let tls = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";

    // (name, YAML, good?, a word our error must contain)
    let cases: Vec<(&str, String, bool, &str)> = vec![
        ("empty", String::new(), true, ""),
        ("users", format!("basic_auth_users:\n  alice: {HASH}\n  bob: {HASH}\n"), true, ""),
        ("tls", tls.to_string(), true, ""),
        ("tls_abs", format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            dir.join("server.crt").display(), dir.join("server.key").display()), true, ""),
        ("tls13", format!("{tls}  min_version: TLS13\n  max_version: TLS13\n"), true, ""),
        ("suites", format!("{tls}  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n"), true, ""),
        ("tls13_suite_ignored", format!("{tls}  cipher_suites: [TLS_AES_128_GCM_SHA256]\n"), true, ""),
        ("curves", format!("{tls}  curve_preferences: [X25519, CurveP256]\n"), true, ""),
        ("verify_clients", format!("{tls}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: server.crt\n"), true, ""),
        ("request_clients", format!("{tls}  client_auth_type: RequestClientCert\n"), true, ""),
        ("prefer", format!("{tls}  prefer_server_cipher_suites: false\n"), true, ""),
        ("headers", "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n    X-Content-Type-Options: nosniff\n".into(), true, ""),
        ("all", format!("{tls}basic_auth_users:\n  alice: {HASH}\nhttp_server_config:\n  http2: false\n  headers:\n    Content-Security-Policy: default-src 'self'\n"), true, ""),
        ("plain_password", "basic_auth_users:\n  alice: secret\n".into(), false, "basic_auth_users.alice"),
        ("bad_cost", format!("basic_auth_users:\n  alice: {}\n", HASH.replace("$10$", "$99$")), false, "cost"),
        ("unknown_field", "foo: 1\n".into(), false, "foo"),
        ("unknown_tls_field", "tls_server_config:\n  certfile: a\n".into(), false, "certfile"),
        ("cert_only", "tls_server_config:\n  cert_file: server.crt\n".into(), false, "key_file"),
        ("key_only", "tls_server_config:\n  key_file: server.key\n".into(), false, "cert_file"),
        ("auth_type_only", "tls_server_config:\n  client_auth_type: RequireAnyClientCert\n".into(), false, "cert_file"),
        ("bad_auth_type", format!("{tls}  client_auth_type: Sometimes\n"), false, "client_auth_type"),
        ("ca_without_policy", format!("{tls}  client_ca_file: server.crt\n"), false, "Client Auth Policy"),
        ("bad_min_version", format!("{tls}  min_version: TLS9\n"), false, "min_version"),
        ("bad_max_version", "tls_server_config:\n  max_version: SSL3\n".into(), false, "max_version"),
        ("bad_cipher", format!("{tls}  cipher_suites: [TLS_BOGUS]\n"), false, "cipher_suites"),
        ("bad_curve", format!("{tls}  curve_preferences: [Curve9]\n"), false, "curve_preferences"),
        ("missing_cert", "tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n".into(), false, "cert_file"),
        ("missing_key", "tls_server_config:\n  cert_file: server.crt\n  key_file: nope.key\n".into(), false, "key_file"),
        ("garbage_key", "tls_server_config:\n  cert_file: server.crt\n  key_file: garbage.key\n".into(), false, "X509KeyPair"),
        ("key_as_cert", "tls_server_config:\n  cert_file: server.key\n  key_file: server.key\n".into(), false, "X509KeyPair"),
        ("header_not_allowed", "http_server_config:\n  headers:\n    Server: ember\n".into(), false, "Server"),
        ("header_bad_value", "http_server_config:\n  headers:\n    X-Frame-Options: allow-all\n".into(), false, "X-Frame-Options"),
        ("not_yaml", "tls_server_config: [\n".into(), false, "YAML"),
    ];
    let mut disagreements = Vec::new();
    for (name, yaml, good, needle) in &cases {
        let file = dir.join(format!("{name}.yml"));
        std::fs::write(&file, yaml).unwrap();
        let theirs = promtool_accepts(&file);
        let ours = web::WebConfig::load(&file);
        if theirs != *good {
            disagreements.push(format!(
                "{name}: promtool says good={theirs}, the table says {good}"
            ));
        }
        match &ours {
            Ok(_) if !theirs => disagreements.push(format!("{name}: we accept, promtool refuses")),
            Err(e) if theirs => {
                disagreements.push(format!("{name}: we refuse ({e}), promtool accepts"))
            }
            Err(e) => {
                let msg = e.to_string();
                if !msg.contains(&format!("{name}.yml")) || !msg.contains(needle) {
                    disagreements.push(format!(
                        "{name}: error {msg:?} should name the file and {needle:?}"
                    ));
                }
            }
            Ok(_) => {}
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
