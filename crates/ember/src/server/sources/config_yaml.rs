//! `/api/v1/status/config`: the loaded configuration in the layout of
//! Prometheus's own YAML, not in the layout of `config`'s Rust types.
//!
//! The configuration is serialized (secrets already `<secret>`), read back
//! as an ordered [`Yaml`] tree and reshaped as Go's `yaml` package writes
//! Prometheus's structs:
//!
//! - the HTTP client settings (`http`) are inline in their scrape,
//!   Alertmanager or service discovery section, the proxy settings inline
//!   as `proxy_url`, `no_proxy`, `proxy_from_environment` and
//!   `proxy_connect_header`;
//! - the discovery sections (`discovery`) are inline after the other
//!   fields, as `<mechanism>_sd_configs`, sections Ember does not run
//!   written as they were read;
//! - scrape protocols keep their dots (`OpenMetricsText1.0.0`);
//! - `omitempty`: zero values (`false`, `0`, `""`, `0s`, `0B`, null, empty
//!   lists and maps, sections whose fields are all zero) are left out,
//!   except the fields Prometheus always writes ([`ALWAYS`]);
//! - Ember's bookkeeping (`unsupported`) is left out.
//!
//! Known approximations: where Prometheus keeps a pointer to a zero value
//! (`scrape_native_histograms: false` filled in from `global`), or a
//! default Ember leaves unset (`runtime.gogc`), the field is not written.

use config::Yaml;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// Fields without `omitempty` in Prometheus's structs: written even when
/// zero (inside a section that is written at all).
const ALWAYS: &[&str] = &[
    "job_name",
    "honor_timestamps",
    "track_timestamps_staleness",
    "enable_compression",
    "follow_redirects",
    "enable_http2",
    "insecure_skip_verify",
    "targets",
];

/// Maps whose keys are data (label names, parameters, header names), not
/// fields: their entries are kept even when empty.
const DATA_MAPS: &[&str] = &[
    "external_labels",
    "labels",
    "params",
    "http_headers",
    "proxy_connect_header",
    "endpoint_params",
    "headers",
];

/// Ember's own fields, which Prometheus's configuration does not have.
const INTERNAL: &[&str] = &["unsupported"];

/// The configuration as Prometheus writes it on `/api/v1/status/config`.
pub(crate) fn render(cfg: &config::Config) -> String {
    let tree = match tree(cfg) {
        Ok(t) => t,
        Err(e) => return format!("# cannot render the configuration: {e}\n"),
    };
    serde_saphyr::to_string(&Out(&tree))
        .unwrap_or_else(|e| format!("# cannot render the configuration: {e}\n"))
}

fn tree(cfg: &config::Config) -> Result<Yaml, String> {
    let json = serde_json::to_string(cfg).map_err(|e| e.to_string())?;
    let Yaml::Map(top) = serde_json::from_str::<Yaml>(&json).map_err(|e| e.to_string())? else {
        return Err("not a mapping".into());
    };
    let mut out = Vec::with_capacity(top.len());
    for (k, v) in top {
        if INTERNAL.contains(&k.as_str()) {
            continue;
        }
        let v = match (k.as_str(), v) {
            ("scrape_configs", Yaml::Seq(list)) => Yaml::Seq(
                list.into_iter()
                    .zip(&cfg.scrape_configs)
                    .map(|(sc, typed)| inline_discovery(sc, &typed.discovery))
                    .collect(),
            ),
            ("alerting", Yaml::Map(fields)) => Yaml::Map(
                fields
                    .into_iter()
                    .map(|(fk, fv)| match (fk.as_str(), fv) {
                        ("alertmanagers", Yaml::Seq(list)) => {
                            let list = list
                                .into_iter()
                                .zip(&cfg.alerting.alertmanagers)
                                .map(|(am, typed)| inline_discovery(am, &typed.discovery))
                                .collect();
                            (fk, Yaml::Seq(list))
                        }
                        (_, fv) => (fk, fv),
                    })
                    .collect(),
            ),
            (_, v) => v,
        };
        out.push((k, v));
    }
    Ok(omit_zero(reshape(Yaml::Map(out)), false))
}

/// Replaces a section's `discovery` field by its `*_sd_configs` lists,
/// appended after the other fields (as Prometheus's marshaller does).
fn inline_discovery(section: Yaml, typed: &config::discovery::Discovery) -> Yaml {
    let Yaml::Map(fields) = section else {
        return section;
    };
    let mut out = Vec::with_capacity(fields.len() + 2);
    let mut sd = Vec::new();
    for (k, v) in fields {
        if k != "discovery" {
            out.push((k, v));
            continue;
        }
        let Yaml::Map(lists) = v else { continue };
        for (name, list) in lists {
            if name == "other" {
                continue;
            }
            sd.push((name, list));
        }
        // Sections Ember does not run, as written, grouped by mechanism.
        for o in &typed.other {
            let key = format!("{}_sd_configs", o.mechanism);
            match sd.iter_mut().find(|(k, _)| *k == key) {
                Some((_, Yaml::Seq(list))) => list.push(o.yaml.clone()),
                _ => sd.push((key, Yaml::Seq(vec![o.yaml.clone()]))),
            }
        }
    }
    out.extend(sd);
    Yaml::Map(out)
}

/// Inlines `http` and `proxy`, restores the scrape protocols' dots.
fn reshape(v: Yaml) -> Yaml {
    match v {
        Yaml::Map(fields) => {
            let mut out = Vec::with_capacity(fields.len());
            for (k, v) in fields {
                match (k.as_str(), v) {
                    ("http", Yaml::Map(inner)) => {
                        if let Yaml::Map(inner) = reshape(Yaml::Map(inner)) {
                            out.extend(inner);
                        }
                    }
                    ("proxy", Yaml::Map(inner)) => {
                        for (pk, pv) in inner {
                            let name = match pk.as_str() {
                                "url" => "proxy_url".to_string(),
                                "from_environment" => "proxy_from_environment".to_string(),
                                "connect_header" => "proxy_connect_header".to_string(),
                                _ => pk,
                            };
                            out.push((name, reshape(pv)));
                        }
                    }
                    ("scrape_protocols" | "fallback_scrape_protocol", v) => {
                        out.push((k, protocol_names(v)));
                    }
                    (_, v) => out.push((k, reshape(v))),
                }
            }
            Yaml::Map(out)
        }
        Yaml::Seq(list) => Yaml::Seq(list.into_iter().map(reshape).collect()),
        v => v,
    }
}

/// `OpenMetricsText1_0_0` (the Rust variant) → `OpenMetricsText1.0.0`.
fn protocol_names(v: Yaml) -> Yaml {
    match v {
        Yaml::String(s) => Yaml::String(s.replace('_', ".")),
        Yaml::Seq(list) => Yaml::Seq(list.into_iter().map(protocol_names).collect()),
        v => v,
    }
}

/// Go's `omitempty` for `yaml`: a zero value, or a struct of zero values.
fn is_zero(v: &Yaml) -> bool {
    match v {
        Yaml::Null => true,
        Yaml::Bool(b) => !b,
        Yaml::Int(i) => *i == 0,
        Yaml::UInt(u) => *u == 0,
        Yaml::Float(f) => *f == 0.0,
        Yaml::String(s) => s.is_empty() || s == "0s" || s == "0B",
        Yaml::Seq(list) => list.is_empty(),
        Yaml::Map(fields) => fields.iter().all(|(_, v)| is_zero(v)),
    }
}

/// Leaves out zero fields (not the entries of data maps, `data`).
fn omit_zero(v: Yaml, data: bool) -> Yaml {
    match v {
        Yaml::Map(fields) => Yaml::Map(
            fields
                .into_iter()
                .filter(|(k, v)| data || ALWAYS.contains(&k.as_str()) || !is_zero(v))
                .map(|(k, v)| {
                    let data = DATA_MAPS.contains(&k.as_str());
                    (k, omit_zero(v, data))
                })
                .collect(),
        ),
        Yaml::Seq(list) => Yaml::Seq(list.into_iter().map(|v| omit_zero(v, false)).collect()),
        v => v,
    }
}

/// Serializes a [`Yaml`] tree with mappings as mappings, in order.
struct Out<'a>(&'a Yaml);

impl Serialize for Out<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Yaml::Null => s.serialize_unit(),
            Yaml::Bool(b) => s.serialize_bool(*b),
            Yaml::Int(i) => s.serialize_i64(*i),
            Yaml::UInt(u) => s.serialize_u64(*u),
            Yaml::Float(f) => s.serialize_f64(*f),
            Yaml::String(t) => s.serialize_str(t),
            Yaml::Seq(list) => {
                let mut seq = s.serialize_seq(Some(list.len()))?;
                for v in list {
                    seq.serialize_element(&Out(v))?;
                }
                seq.end()
            }
            Yaml::Map(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, &Out(v))?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_layout() {
        let cfg = config::Config::load_str(
            "global:\n  scrape_interval: 30s\n  external_labels:\n    dc: eu\n\
             scrape_configs:\n  - job_name: a\n    honor_labels: true\n    basic_auth:\n      username: u\n      password: p\n\
             \x20   proxy_url: http://proxy:3128\n\
             \x20   static_configs:\n      - targets: ['h:1']\n\
             \x20   kubernetes_sd_configs:\n      - role: pod\n        namespaces:\n          names: [x]\n\
             \x20   relabel_configs:\n      - action: keep\n        regex: a\n        source_labels: [job]\n",
        )
        .unwrap();
        let got = render(&cfg);
        let want = "global:\n  scrape_interval: 30s\n  scrape_timeout: 10s\n  evaluation_interval: 1m\n  external_labels:\n    dc: eu\n";
        assert!(got.starts_with(want), "{got}");
        for line in [
            "- job_name: a\n  honor_labels: true\n  honor_timestamps: true\n  track_timestamps_staleness: false\n",
            "  scrape_protocols:\n  - OpenMetricsText1.0.0\n",
            "  basic_auth:\n    username: u\n    password: <secret>\n  follow_redirects: true\n  enable_http2: true\n  proxy_url: http://proxy:3128\n",
            "  static_configs:\n  - targets:\n    - h:1\n  kubernetes_sd_configs:\n  - role: pod\n    namespaces:\n      names:\n      - x\n",
            "  relabel_configs:\n  - source_labels:\n    - job\n    separator: ;\n    regex: a\n    replacement: $1\n    action: keep\n",
        ] {
            assert!(got.contains(line), "{line:?} not in:\n{got}");
        }
        for absent in [
            "discovery",
            "http:\n",
            "unsupported",
            "tls_config",
            "sample_limit",
            "alerting",
            "storage",
            "runtime",
        ] {
            assert!(!got.contains(absent), "{absent} in:\n{got}");
        }
    }
}
