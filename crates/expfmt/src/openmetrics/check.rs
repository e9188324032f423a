//! The OpenMetrics rules that span lines: metric families, their metadata,
//! sample names, metric grouping, timestamps, histogram points and values.
//!
//! The rules are those of the specification as the OpenMetrics project's
//! reference parser (client_python's `openmetrics/parser.py`) enforces them
//! for the conformance suite:
//!
//! - a family starts with metadata for a new name, or with a sample whose
//!   name is not one of the current family's sample names (then it is of
//!   type unknown); metadata for the current family after its samples,
//!   repeated metadata, and a name any earlier family could produce
//!   (`foo_created` after counter `foo`) are errors;
//! - within a family, the samples of one metric (a label set, minus `le`,
//!   `quantile` or the stateset label) are contiguous; within a metric,
//!   timestamps are all present or all absent and do not go backwards
//!   (except for info);
//! - per-type rules: stateset samples carry the family-name label and are
//!   0 or 1; info samples are 1; quantiles lie in [0, 1] with non-negative
//!   values; `_total`, `_count`, `_sum`, `_bucket`, `_gcount` are not NaN
//!   or negative (`_gsum` may be negative); buckets and counts are
//!   integers; exemplars sit only on counter `_total` and histogram
//!   `_bucket` samples, with at most 128 characters of labels;
//! - a histogram point (same metric and timestamp) has buckets in strictly
//!   increasing `le` order, `+Inf` spelled so and present, non-decreasing
//!   counts, `_count` equal to the `+Inf` bucket, `_count` if and only if
//!   `_sum`/`_gsum`, no `_sum` with negative buckets and no negative
//!   `_gsum` without them.
//!
//! Checks are streaming: a histogram point or a family is checked when the
//! next one starts (or at `# EOF`), so the error may come after the
//! offending samples were returned; OpenMetrics makes the whole exposition
//! invalid then.
//!
//! Fast path: the current metric's key is compared in place; the set of
//! metrics seen in a family keeps only a hash and the line where each
//! started (a hash hit re-reads that line to compare exactly), so the only
//! growing structure is one pre-sized hash map.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use model::MetricType;

use crate::LabelsView;
use crate::lex::num;

/// A rule broken at `offset` (a line start).
#[derive(Debug)]
pub(super) struct CheckError {
    pub(super) offset: usize,
    pub(super) message: String,
}

type Result<T> = std::result::Result<T, CheckError>;

fn fail<T>(offset: usize, message: String) -> Result<T> {
    Err(CheckError { offset, message })
}

/// A metadata line.
pub(super) enum Meta<'s> {
    Help,
    Type(MetricType),
    Unit(&'s str),
}

/// One sample line, as the checker needs it.
pub(super) struct SampleInfo<'p, 'a> {
    /// The full sample name (with suffix), unescaped.
    pub(super) name: &'p str,
    /// The same name as a slice of the input, when it is one.
    pub(super) name_in_input: Option<&'a str>,
    pub(super) labels: LabelsView<'p>,
    pub(super) value: f64,
    /// The timestamp in nanoseconds.
    pub(super) ts: Option<i128>,
    /// With an exemplar: the characters in its label names and values.
    pub(super) exemplar_chars: Option<usize>,
    /// Where the line starts.
    pub(super) offset: usize,
}

/// Reads back the name and labels of the sample line at an offset (cold
/// path: only on a hash hit in the set of seen metrics).
pub(super) type Reread<'r> = dyn FnMut(usize) -> Option<(String, Vec<(String, String)>)> + 'r;

struct Family<'a> {
    name: Cow<'a, str>,
    kind: Option<MetricType>,
    help: bool,
    /// `Some(non_empty)` once a UNIT line was seen.
    unit: Option<bool>,
    samples: bool,
}

impl Family<'_> {
    fn kind(&self) -> MetricType {
        self.kind.unwrap_or(MetricType::Unknown)
    }
}

/// The histogram point under construction.
#[derive(Default)]
struct Point {
    active: bool,
    /// The line of its latest sample (where point errors are reported).
    offset: usize,
    ts: Option<i128>,
    bucket: Option<f64>,
    value: f64,
    count: Option<f64>,
    negative_buckets: bool,
    sum: bool,
    gsum: bool,
    negative_gsum: bool,
}

/// A sample name a family may produce: base plus suffix, compared as the
/// concatenation.
#[derive(Clone, Debug)]
struct NameKey<'a> {
    base: Cow<'a, str>,
    suffix: &'static str,
}

impl NameKey<'_> {
    fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        self.base.bytes().chain(self.suffix.bytes())
    }
}

impl PartialEq for NameKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.base.len() + self.suffix.len() == other.base.len() + other.suffix.len()
            && self.bytes().eq(other.bytes())
    }
}

impl Eq for NameKey<'_> {}

impl Hash for NameKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for b in self.bytes() {
            state.write_u8(b);
        }
        state.write_u8(0xff);
    }
}

/// Passes a precomputed `u64` hash through.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The sample-name suffixes of each type.
fn suffixes(kind: Option<MetricType>) -> &'static [&'static str] {
    match kind {
        Some(MetricType::Counter) => &["_total", "_created"],
        Some(MetricType::Summary) => &["", "_count", "_sum", "_created"],
        Some(MetricType::Histogram) => &["_count", "_sum", "_bucket", "_created"],
        Some(MetricType::GaugeHistogram) => &["_gcount", "_gsum", "_bucket"],
        Some(MetricType::Info) => &["_info"],
        _ => &[""],
    }
}

fn is_histogram(kind: MetricType) -> bool {
    matches!(kind, MetricType::Histogram | MetricType::GaugeHistogram)
}

fn is_integer(v: f64) -> bool {
    v.is_finite() && v.fract() == 0.0
}

/// Which label does not tell metrics apart.
enum Exclude<'s> {
    Nothing,
    All,
    Label(&'s str),
}

fn exclusion<'s>(kind: MetricType, suffix: &str, family: &'s str) -> Exclude<'s> {
    match kind {
        MetricType::Info => Exclude::All,
        MetricType::Summary if suffix.is_empty() => Exclude::Label("quantile"),
        MetricType::Stateset => Exclude::Label(family),
        k if is_histogram(k) && suffix == "_bucket" => Exclude::Label("le"),
        _ => Exclude::Nothing,
    }
}

/// Writes the metric key: the label pairs sorted by name, length-prefixed.
fn build_key<'x>(
    out: &mut Vec<u8>,
    order: &mut Vec<u32>,
    n: usize,
    get: impl Fn(usize) -> (&'x str, &'x str),
    exclude: &Exclude<'_>,
) {
    out.clear();
    if matches!(exclude, Exclude::All) {
        return;
    }
    order.clear();
    order.extend(
        (0..n as u32).filter(|&i| !matches!(exclude, Exclude::Label(l) if get(i as usize).0 == *l)),
    );
    order.sort_unstable_by(|&a, &b| get(a as usize).0.cmp(get(b as usize).0));
    for &i in order.iter() {
        let (name, value) = get(i as usize);
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        out.extend_from_slice(value.as_bytes());
    }
}

/// The 128-bit product of `a` and `b`, folded to 64 bits.
fn fold(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

/// A fast hash of a metric key: wyhash-style folded multiplies over 16-byte
/// blocks, which mix in both directions (an earlier rotate-multiply chain
/// collided on real-looking keys).
fn hash_key(k: &[u8]) -> u64 {
    const P: [u64; 4] = [
        0xa076_1d64_78bd_642f,
        0xe703_7ed1_a0b4_28db,
        0x8ebc_6af0_9c88_c6e3,
        0x5899_65cc_7537_4cc3,
    ];
    let word = |b: &[u8]| {
        let mut a = [0u8; 8];
        a[..b.len()].copy_from_slice(b);
        u64::from_le_bytes(a)
    };
    let mut h = P[0] ^ k.len() as u64;
    let mut blocks = k.chunks_exact(16);
    for c in &mut blocks {
        h = fold(word(&c[..8]) ^ P[1], word(&c[8..]) ^ h);
    }
    let rest = blocks.remainder();
    let (a, b) = if rest.len() > 8 {
        (word(&rest[..8]), word(&rest[8..]))
    } else {
        (word(rest), 0)
    };
    h = fold(a ^ P[1], b ^ h ^ P[2]);
    fold(h ^ P[3], k.len() as u64 ^ P[1])
}

/// The family state of an OpenMetrics parse.
pub(super) struct Checker<'a> {
    fam: Option<Family<'a>>,
    names: HashSet<NameKey<'a>>,
    /// The current metric's key, and a buffer for the next sample's.
    group: Vec<u8>,
    key: Vec<u8>,
    has_group: bool,
    group_ts: Option<i128>,
    /// Metrics seen in the family: key hash -> line offset.
    seen: HashMap<u64, usize, BuildHasherDefault<IdHasher>>,
    /// Entries whose hash collided with a different key.
    seen_overflow: Vec<(u64, usize)>,
    order: Vec<u32>,
    point: Point,
    /// The metric-key hash (replaceable in tests to force collisions).
    pub(super) hash: fn(&[u8]) -> u64,
}

impl<'a> Checker<'a> {
    /// A checker sized for an input of `input_len` bytes.
    pub(super) fn new(input_len: usize) -> Checker<'a> {
        let mut seen = HashMap::default();
        seen.reserve((input_len / 256).clamp(16, 1 << 16));
        Checker {
            fam: None,
            names: HashSet::with_capacity(64),
            group: Vec::new(),
            key: Vec::new(),
            has_group: false,
            group_ts: None,
            seen,
            seen_overflow: Vec::new(),
            order: Vec::new(),
            point: Point::default(),
            hash: hash_key,
        }
    }

    fn register(
        names: &mut HashSet<NameKey<'a>>,
        base: Cow<'a, str>,
        suffix: &'static str,
        offset: usize,
    ) -> Result<()> {
        let key = NameKey { base, suffix };
        if names.contains(&key) {
            let base = key.base;
            return fail(
                offset,
                format!("name \"{base}{suffix}\" clashes with an earlier metric family"),
            );
        }
        names.insert(key);
        Ok(())
    }

    /// Registers the suffixed names of a family whose type is now fixed.
    fn register_typed(
        names: &mut HashSet<NameKey<'a>>,
        fam: &Family<'a>,
        offset: usize,
    ) -> Result<()> {
        for &s in suffixes(fam.kind) {
            if !s.is_empty() {
                Self::register(names, fam.name.clone(), s, offset)?;
            }
        }
        Ok(())
    }

    fn start_family(
        &mut self,
        name: Cow<'a, str>,
        kind: Option<MetricType>,
        offset: usize,
    ) -> Result<()> {
        Self::register(&mut self.names, name.clone(), "", offset)?;
        self.fam = Some(Family {
            name,
            kind,
            help: false,
            unit: None,
            samples: false,
        });
        Ok(())
    }

    fn end_family(&mut self, offset: usize) -> Result<()> {
        let Some(fam) = self.fam.take() else {
            return Ok(());
        };
        if !fam.samples {
            Self::register_typed(&mut self.names, &fam, offset)?;
        }
        if self.point.active {
            point_checks(&self.point, &fam.name)?;
        }
        self.has_group = false;
        self.group_ts = None;
        self.seen.clear();
        self.seen_overflow.clear();
        self.point = Point::default();
        Ok(())
    }

    /// At `# EOF` (line at `offset`).
    pub(super) fn finish(&mut self, offset: usize) -> Result<()> {
        self.end_family(offset)
    }

    /// A `# HELP`/`# TYPE`/`# UNIT` line for `name`.
    pub(super) fn metadata(
        &mut self,
        name: &str,
        name_in_input: Option<&'a str>,
        meta: Meta<'_>,
        offset: usize,
    ) -> Result<()> {
        match &self.fam {
            Some(f) if f.name == name => {
                if f.samples {
                    return fail(offset, format!("metadata for {name:?} after its samples"));
                }
            }
            _ => {
                self.end_family(offset)?;
                let cow = name_in_input.map_or_else(|| Cow::Owned(name.to_string()), Cow::Borrowed);
                self.start_family(cow, None, offset)?;
            }
        }
        let Some(f) = self.fam.as_mut() else {
            return fail(offset, "internal error: no metric family".to_string());
        };
        let no_unit = |kind: Option<MetricType>| {
            matches!(kind, Some(MetricType::Info | MetricType::Stateset))
        };
        match meta {
            Meta::Help => {
                if f.help {
                    return fail(offset, format!("duplicate HELP for {name:?}"));
                }
                f.help = true;
            }
            Meta::Type(kind) => {
                if f.kind.is_some() {
                    return fail(offset, format!("duplicate TYPE for {name:?}"));
                }
                f.kind = Some(kind);
                if no_unit(f.kind) && f.unit == Some(true) {
                    return fail(
                        offset,
                        format!("{kind} metric family {name:?} must not have a unit"),
                    );
                }
            }
            Meta::Unit(unit) => {
                if f.unit.is_some() {
                    return fail(offset, format!("duplicate UNIT for {name:?}"));
                }
                f.unit = Some(!unit.is_empty());
                if !unit.is_empty() {
                    let suffixed = name.strip_suffix(unit).is_some_and(|s| s.ends_with('_'));
                    if !suffixed {
                        return fail(
                            offset,
                            format!("unit {unit:?} is not a suffix of metric family name {name:?}"),
                        );
                    }
                    if let (true, Some(kind)) = (no_unit(f.kind), f.kind) {
                        return fail(
                            offset,
                            format!("{kind} metric family {name:?} must not have a unit"),
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// A sample line.
    pub(super) fn sample(&mut self, s: &SampleInfo<'_, 'a>, reread: &mut Reread<'_>) -> Result<()> {
        let off = s.offset;
        let fits = self.fam.as_ref().and_then(|f| {
            let rest = s.name.strip_prefix(&*f.name)?;
            suffixes(f.kind).iter().find(|&&x| x == rest).copied()
        });
        let suffix = match fits {
            Some(x) => x,
            None => {
                self.end_family(off)?;
                let cow = s
                    .name_in_input
                    .map_or_else(|| Cow::Owned(s.name.to_string()), Cow::Borrowed);
                self.start_family(cow, Some(MetricType::Unknown), off)?;
                ""
            }
        };
        let Some(fam) = self.fam.as_mut() else {
            return fail(off, "internal error: no metric family".to_string());
        };
        if !fam.samples {
            fam.samples = true;
            Self::register_typed(&mut self.names, fam, off)?;
        }
        let fam: &Family<'a> = fam;
        let kind = fam.kind();
        let name: &str = &fam.name;
        let labels = &s.labels;
        let value = s.value;

        if kind == MetricType::Stateset && labels.get(name).is_none() {
            return fail(
                off,
                format!("stateset sample is missing the {name:?} label"),
            );
        }
        let mut le = f64::NAN;
        if suffix == "_bucket" {
            let Some(raw) = labels.get("le") else {
                return fail(off, "histogram bucket without le label".to_string());
            };
            le = match num::parse_value(raw) {
                Ok(v) if !v.is_nan() => v,
                _ => return fail(off, format!("invalid le label value {raw:?}")),
            };
            if le == f64::INFINITY && raw != "+Inf" {
                return fail(
                    off,
                    format!("le label value {raw:?} must be written \"+Inf\""),
                );
            }
            if !is_integer(value) {
                return fail(off, "bucket value must be an integer".to_string());
            }
        }
        if matches!(suffix, "_count" | "_gcount") && !is_integer(value) {
            return fail(off, format!("{suffix} value must be an integer"));
        }
        if kind == MetricType::Summary && suffix.is_empty() {
            let Some(raw) = labels.get("quantile") else {
                return fail(off, "summary quantile without quantile label".to_string());
            };
            match num::parse_value(raw) {
                Ok(q) if (0.0..=1.0).contains(&q) => {}
                _ => {
                    return fail(
                        off,
                        format!(
                            "invalid quantile label value {raw:?}: must be a number from 0 to 1"
                        ),
                    );
                }
            }
        }

        // Metric grouping and timestamps.
        let exclude = exclusion(kind, suffix, name);
        let get = |i: usize| {
            let (n, v) = labels.spans[i];
            (
                n.resolve(labels.input, labels.scratch),
                v.resolve(labels.input, labels.scratch),
            )
        };
        build_key(&mut self.key, &mut self.order, labels.len(), get, &exclude);
        let new_group = !self.has_group || self.key != self.group;
        if new_group {
            let h = (self.hash)(&self.key);
            let mut candidates: Vec<usize> = Vec::new();
            if self.seen.contains_key(&h) || !self.seen_overflow.is_empty() {
                // Cold path: a hash hit is an interleaved metric or a collision.
                candidates.extend(self.seen.get(&h));
                candidates.extend(
                    self.seen_overflow
                        .iter()
                        .filter(|(x, _)| *x == h)
                        .map(|(_, o)| *o),
                );
            }
            let mut other = Vec::new();
            for &at in &candidates {
                if let Some((n, l)) = reread(at) {
                    let rest = n.strip_prefix(name).unwrap_or("");
                    let ex = exclusion(kind, rest, name);
                    build_key(
                        &mut other,
                        &mut self.order,
                        l.len(),
                        |i| (l[i].0.as_str(), l[i].1.as_str()),
                        &ex,
                    );
                    if other == self.key {
                        return fail(
                            off,
                            format!(
                                "metric interleaved in family {name:?}: its label set appeared earlier, separated by other metrics"
                            ),
                        );
                    }
                }
            }
            if candidates.is_empty() {
                self.seen.insert(h, off);
            } else {
                self.seen_overflow.push((h, off));
            }
            std::mem::swap(&mut self.group, &mut self.key);
            self.has_group = true;
        } else {
            match (self.group_ts, s.ts) {
                (Some(_), None) | (None, Some(_)) => {
                    return fail(
                        off,
                        "mix of samples with and without timestamp in one metric".to_string(),
                    );
                }
                (Some(prev), Some(t)) if t < prev && kind != MetricType::Info => {
                    return fail(off, "timestamp went backwards within a metric".to_string());
                }
                _ => {}
            }
        }
        self.group_ts = s.ts;

        // Values.
        if kind == MetricType::Stateset && value != 0.0 && value != 1.0 {
            return fail(off, "stateset value must be 0 or 1".to_string());
        }
        if kind == MetricType::Info && value != 1.0 {
            return fail(off, "info value must be 1".to_string());
        }
        if kind == MetricType::Summary && suffix.is_empty() && value < 0.0 {
            return fail(off, "quantile value must not be negative".to_string());
        }
        if matches!(
            suffix,
            "_total" | "_sum" | "_count" | "_bucket" | "_gcount" | "_gsum"
        ) && value.is_nan()
        {
            return fail(off, format!("{suffix} value must not be NaN"));
        }
        if matches!(suffix, "_total" | "_sum" | "_count" | "_bucket" | "_gcount") && value < 0.0 {
            return fail(off, format!("{suffix} value must not be negative"));
        }
        if let Some(chars) = s.exemplar_chars {
            let allowed = (is_histogram(kind) && suffix == "_bucket")
                || (kind == MetricType::Counter && suffix == "_total");
            if !allowed {
                return fail(
                    off,
                    "exemplars are only allowed on counter _total and histogram _bucket samples"
                        .to_string(),
                );
            }
            if chars > 128 {
                return fail(
                    off,
                    format!("exemplar labels have {chars} characters, more than 128"),
                );
            }
        }

        // Histogram points.
        if is_histogram(kind) {
            if !self.point.active || new_group || self.point.ts != s.ts {
                if self.point.active {
                    point_checks(&self.point, name)?;
                }
                self.point = Point {
                    active: true,
                    ts: s.ts,
                    ..Point::default()
                };
            }
            let p = &mut self.point;
            p.offset = off;
            match suffix {
                "_bucket" => {
                    if le < 0.0 {
                        p.negative_buckets = true;
                    }
                    if p.bucket.is_some_and(|prev| le <= prev) {
                        return fail(
                            off,
                            "histogram buckets out of order: le must increase".to_string(),
                        );
                    }
                    if value < p.value {
                        return fail(off, "histogram bucket counts must not decrease".to_string());
                    }
                    p.bucket = Some(le);
                    p.value = value;
                }
                "_count" | "_gcount" => p.count = Some(value),
                "_sum" => p.sum = true,
                "_gsum" => {
                    p.gsum = true;
                    p.negative_gsum |= value < 0.0;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// The rules for a complete histogram point.
fn point_checks(p: &Point, name: &str) -> Result<()> {
    let msg = if p.bucket != Some(f64::INFINITY) {
        "has no +Inf bucket"
    } else if p.count.is_some_and(|c| c != p.value) {
        "has a count that differs from its +Inf bucket"
    } else if p.sum && p.count.is_none() {
        "has _sum but no _count"
    } else if p.gsum && p.count.is_none() {
        "has _gsum but no _gcount"
    } else if !(p.sum || p.gsum) && p.count.is_some() {
        "has a count but no sum"
    } else if p.negative_buckets && p.sum {
        "has _sum and negative buckets"
    } else if !p.negative_buckets && p.negative_gsum {
        "has a negative _gsum but no negative buckets"
    } else {
        return Ok(());
    };
    fail(p.offset, format!("histogram {name:?} {msg}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_key_hashes_do_not_collide_on_structured_keys() {
        let mut seen = HashSet::new();
        let (mut key, mut order) = (Vec::new(), Vec::new());
        let mut n = 0;
        for pod in 0..100 {
            for handler in 0..40 {
                for code in ["200", "201", "404", "500", "503"] {
                    let l = [
                        ("pod", format!("api-{pod:04}")),
                        ("handler", format!("/api/v1/item/{handler}")),
                        ("code", code.to_string()),
                    ];
                    build_key(
                        &mut key,
                        &mut order,
                        l.len(),
                        |i| (l[i].0, l[i].1.as_str()),
                        &Exclude::Nothing,
                    );
                    seen.insert(hash_key(&key));
                    n += 1;
                }
            }
        }
        assert_eq!(seen.len(), n);
    }
}
