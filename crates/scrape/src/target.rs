//! Targets: Prometheus's target-building step (`PopulateLabels`), the
//! scrape URL, the identity hash and the scrape offset.

use std::collections::BTreeMap;
use std::time::Duration;

use config::scrape::ScrapeConfig;
use discovery::{ADDRESS_LABEL, TargetGroup};
use model::{Labels, LabelsBuilder, relabel};

/// `__scheme__`.
pub const SCHEME_LABEL: &str = "__scheme__";
/// `__metrics_path__`.
pub const METRICS_PATH_LABEL: &str = "__metrics_path__";
/// `__scrape_interval__`.
pub const SCRAPE_INTERVAL_LABEL: &str = "__scrape_interval__";
/// `__scrape_timeout__`.
pub const SCRAPE_TIMEOUT_LABEL: &str = "__scrape_timeout__";
/// Prefix of URL parameter labels.
pub const PARAM_PREFIX: &str = "__param_";
/// Prefix of discovery metadata labels.
pub const META_PREFIX: &str = "__meta_";

/// A target to scrape, as built from discovered labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Labels after relabeling, `__meta_*` removed (keeps `__address__`,
    /// `__scheme__`, `__param_*`, ...).
    pub labels: Labels,
    /// Labels as discovered, before relabeling.
    pub discovered: Labels,
    /// The public labels (no `__` prefix): what every sample gets.
    pub public: Labels,
    /// The URL scraped.
    pub url: String,
    /// Scrape interval (from `__scrape_interval__`).
    pub interval: Duration,
    /// Scrape timeout (from `__scrape_timeout__`).
    pub timeout: Duration,
    /// Identity: a hash of the labels and the URL.
    pub hash: u64,
}

/// What became of one discovered target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Built {
    /// Scraped.
    Active(Target),
    /// Dropped by relabeling; holds the discovered labels.
    Dropped(Labels),
}

impl Target {
    /// Where the target scrapes from for the offset: `(hash XOR seed) mod
    /// interval`, counted from the next multiple of `interval` since the
    /// epoch, as Prometheus's `Target.offset`. `now_nanos` is the wall clock.
    pub fn offset(&self, interval: Duration, seed: u64, now_nanos: u128) -> Duration {
        let iv = interval.as_nanos().max(1);
        let base = iv - now_nanos % iv;
        let offset = u128::from(self.hash ^ seed) % iv;
        let mut next = base + offset;
        if next > iv {
            next -= iv;
        }
        Duration::from_nanos(u64::try_from(next).unwrap_or(u64::MAX))
    }
}

/// FNV-1a, 64 bits.
pub(crate) fn fnv64a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Builds the targets of one group: per target an [`Built`] or an error
/// naming it (`instance <i> in group <source>: <why>`).
pub fn targets_from_group(
    group: &TargetGroup,
    cfg: &ScrapeConfig,
    b: &mut LabelsBuilder,
) -> Vec<Result<Built, String>> {
    group
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            b.clear();
            for (n, v) in t.iter() {
                b.set(n, v);
            }
            for (n, v) in group.labels.iter() {
                if !t.has(n) {
                    b.set(n, v);
                }
            }
            populate_labels(b, cfg)
                .map_err(|e| format!("instance {i} in group {}: {e}", group.source))
        })
        .collect()
}

/// `PopulateLabels` on the labels in `b` (target and group labels merged).
pub fn populate_labels(b: &mut LabelsBuilder, cfg: &ScrapeConfig) -> Result<Built, String> {
    let interval = cfg.scrape_interval.to_string();
    let timeout = cfg.scrape_timeout.to_string();
    for (k, v) in [
        ("job", cfg.job_name.as_str()),
        (SCRAPE_INTERVAL_LABEL, &interval),
        (SCRAPE_TIMEOUT_LABEL, &timeout),
        (METRICS_PATH_LABEL, &cfg.metrics_path),
        (SCHEME_LABEL, &cfg.scheme),
    ] {
        if b.get(k).is_none() {
            b.set(k, v);
        }
    }
    for (k, v) in &cfg.params {
        let name = format!("{PARAM_PREFIX}{k}");
        if let Some(first) = v.first()
            && b.get(&name).is_none()
        {
            b.set(&name, first);
        }
    }
    let discovered = b.labels();
    if !relabel::process_builder(b, &cfg.relabel_configs) {
        return Ok(Built::Dropped(discovered));
    }
    if b.iter().next().is_none() {
        return Ok(Built::Dropped(discovered));
    }
    let addr = b.get(ADDRESS_LABEL).unwrap_or("").to_owned();
    if addr.is_empty() {
        return Err("no address".to_owned());
    }
    if addr.contains('/') {
        return Err(format!(
            "{} is not a valid hostname",
            model::matcher::go_quote(&addr)
        ));
    }
    let interval_s = b.get(SCRAPE_INTERVAL_LABEL).unwrap_or("").to_owned();
    let interval = config::Duration::parse(&interval_s)
        .map_err(|e| format!("error parsing scrape interval: {e}"))?;
    if interval.is_zero() {
        return Err("scrape interval cannot be 0".to_owned());
    }
    let timeout_s = b.get(SCRAPE_TIMEOUT_LABEL).unwrap_or("").to_owned();
    let timeout = config::Duration::parse(&timeout_s)
        .map_err(|e| format!("error parsing scrape timeout: {e}"))?;
    if timeout.is_zero() {
        return Err("scrape timeout cannot be 0".to_owned());
    }
    if timeout > interval {
        return Err(format!(
            "scrape timeout cannot be greater than scrape interval ({} > {})",
            model::matcher::go_quote(&timeout_s),
            model::matcher::go_quote(&interval_s)
        ));
    }
    b.retain(|n, _| !n.starts_with(META_PREFIX));
    if b.get("instance").is_none() {
        b.set("instance", &addr);
    }
    let labels = b.labels();
    let public = Labels::from_sorted(labels.iter().filter(|(n, _)| !n.starts_with("__")));
    let url = target_url(&labels, &cfg.params);
    let hash = fnv64a(&[
        format!("{:016}", labels.stable_hash()).as_bytes(),
        url.as_bytes(),
    ]);
    Ok(Built::Active(Target {
        labels,
        discovered,
        public,
        url,
        interval: interval.as_std(),
        timeout: timeout.as_std(),
        hash,
    }))
}

/// `scheme://address/path?params`, the parameters from the configuration
/// with `__param_*` labels replacing their first value, encoded like Go's
/// `url.Values.Encode` (sorted by key).
pub fn target_url(labels: &Labels, params: &BTreeMap<String, Vec<String>>) -> String {
    let mut q: BTreeMap<String, Vec<String>> = params.clone();
    for (n, v) in labels.iter() {
        if let Some(k) = n.strip_prefix(PARAM_PREFIX) {
            match q.get_mut(k) {
                Some(vals) if !vals.is_empty() => vals[0] = v.to_owned(),
                _ => {
                    q.insert(k.to_owned(), vec![v.to_owned()]);
                }
            }
        }
    }
    let mut url = format!(
        "{}://{}{}",
        labels.get(SCHEME_LABEL).unwrap_or(""),
        labels.get(ADDRESS_LABEL).unwrap_or(""),
        labels.get(METRICS_PATH_LABEL).unwrap_or("")
    );
    let mut first = true;
    for (k, vals) in &q {
        for v in vals {
            url.push(if first { '?' } else { '&' });
            first = false;
            query_escape(k, &mut url);
            url.push('=');
            query_escape(v, &mut url);
        }
    }
    url
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str, out: &mut String) {
    for &c in s.as_bytes() {
        match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(c));
            }
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(HEX[usize::from(c >> 4)]));
                out.push(char::from(HEX[usize::from(c & 15)]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cfg(yaml: &str) -> ScrapeConfig {
        let c = config::Config::load_str(yaml).unwrap();
        c.scrape_configs.into_iter().next().unwrap()
    }

    fn build(
        c: &ScrapeConfig,
        target: &[(&str, &str)],
        group: &[(&str, &str)],
    ) -> Result<Built, String> {
        let g = TargetGroup {
            source: "0".to_owned(),
            targets: vec![Labels::from_pairs(target.iter().copied())],
            labels: Labels::from_pairs(group.iter().copied()),
        };
        targets_from_group(&g, c, &mut LabelsBuilder::new()).remove(0)
    }

    #[test]
    fn populates_like_prometheus() {
        let c = cfg(
            "scrape_configs:\n- job_name: j\n  params: {module: [http_2xx, x], 'a b': ['c&d']}\n",
        );
        let Built::Active(t) = build(
            &c,
            &[("__address__", "h:9100"), ("env", "t")],
            &[("env", "g"), ("__meta_x", "1"), ("dc", "eu")],
        )
        .unwrap() else {
            panic!("dropped")
        };
        assert_eq!(
            t.public.to_string(),
            r#"{dc="eu", env="t", instance="h:9100", job="j"}"#
        );
        assert_eq!(
            t.url,
            "http://h:9100/metrics?a+b=c%26d&module=http_2xx&module=x"
        );
        assert_eq!(t.discovered.get("__meta_x"), Some("1"));
        assert_eq!(t.labels.get("__meta_x"), None);
        assert_eq!(t.labels.get("__param_module"), Some("http_2xx"));
        assert_eq!(t.interval, Duration::from_secs(60));
        assert_eq!(t.timeout, Duration::from_secs(10));
    }

    #[test]
    fn relabels_drops_and_overrides() {
        let c = cfg(r#"
scrape_configs:
- job_name: j
  relabel_configs:
  - {source_labels: [__meta_keep], regex: 'no', action: drop}
  - {source_labels: [__meta_iv], regex: '(.+)', target_label: __scrape_interval__}
  - {source_labels: [__meta_path], regex: '(.+)', target_label: __address__}
"#);
        assert!(matches!(
            build(&c, &[("__address__", "a:1"), ("__meta_keep", "no")], &[]),
            Ok(Built::Dropped(_))
        ));
        let Built::Active(t) =
            build(&c, &[("__address__", "a:1"), ("__meta_iv", "15s")], &[]).unwrap()
        else {
            panic!()
        };
        assert_eq!(t.interval, Duration::from_secs(15));
        assert_eq!(
            build(&c, &[("__address__", "a:1"), ("__meta_iv", "1s")], &[]).unwrap_err(),
            r#"instance 0 in group 0: scrape timeout cannot be greater than scrape interval ("10s" > "1s")"#
        );
        assert_eq!(
            build(&c, &[("__address__", "a:1"), ("__meta_path", "a/b")], &[]).unwrap_err(),
            r#"instance 0 in group 0: "a/b" is not a valid hostname"#
        );
        assert_eq!(
            build(&c, &[("x", "1")], &[]).unwrap_err(),
            "instance 0 in group 0: no address"
        );
    }

    #[test]
    fn offset_is_within_interval_and_spread() {
        let c = cfg("scrape_configs:\n- job_name: j\n");
        let iv = Duration::from_secs(10);
        let mut offsets = Vec::new();
        for i in 0..100 {
            let addr = format!("host{i}:80");
            let Built::Active(t) = build(&c, &[("__address__", addr.as_str())], &[]).unwrap()
            else {
                panic!()
            };
            // At an instant on the grid, the offset is the phase itself.
            let o = t.offset(iv, 7, 1_000 * iv.as_nanos());
            assert!(o <= iv);
            assert_eq!(o, t.offset(iv, 7, 1_000 * iv.as_nanos()));
            offsets.push(o.as_secs());
        }
        // Spread over the interval: every second of it gets some targets.
        for s in 0..10 {
            assert!(offsets.contains(&s), "no target in second {s}: {offsets:?}");
        }
    }
}
