//! Label sets: sorted, packed into one shared buffer, cheap to clone and hash.
//!
//! A [`Labels`] value is a single reference-counted byte buffer holding the
//! pairs in ascending name order, each string prefixed by its length as a
//! LEB128 varint: `len(name) name len(value) value ...`. Cloning bumps a
//! reference count. The encoding is injective, so equality and hashing work on
//! the bytes; ordering compares pair by pair (name, then value), which is
//! Prometheus's order.
//!
//! [`PackedLabels`] borrows a label set in that same packed form from
//! another buffer (a WAL series record holds them so), checked once, for
//! reading without a copy.
//!
//! Names and values are arbitrary UTF-8 (Prometheus 3.x allows UTF-8 names);
//! whether a name is valid under the legacy rules is a separate question,
//! answered by [`is_valid_legacy_name`].

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The label holding the metric name.
pub const METRIC_NAME: &str = "__name__";
/// The label holding a histogram bucket's upper bound.
pub const BUCKET_LABEL: &str = "le";
/// The label holding a summary's quantile.
pub const QUANTILE_LABEL: &str = "quantile";

/// An immutable, sorted set of label pairs with unique names.
#[derive(Clone)]
pub struct Labels {
    buf: Arc<[u8]>,
}

impl Default for Labels {
    fn default() -> Self {
        Labels::empty()
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads one length-prefixed string starting at `*pos`.
///
/// The buffer was produced by [`put_str`] from `&str` values only, so the
/// decoded bytes are valid UTF-8 and the varints are well-formed.
fn get_str<'a>(buf: &'a [u8], pos: &mut usize) -> &'a str {
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[*pos];
        *pos += 1;
        len |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    let bytes = &buf[*pos..*pos + len];
    *pos += len;
    #[allow(unsafe_code)]
    // SAFETY: every byte range decoded here was written by `put_str` from a
    // `&str` or checked to be UTF-8 by `PackedLabels::new`, and the buffer
    // is immutable after construction.
    unsafe {
        std::str::from_utf8_unchecked(bytes)
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

impl Labels {
    /// The empty label set.
    pub fn empty() -> Labels {
        Labels {
            buf: Arc::from(&[][..]),
        }
    }

    /// Builds a label set from pairs in any order. Later duplicates of a name
    /// replace earlier ones; pairs with an empty value are dropped, as in
    /// Prometheus, where an empty value means "label not present".
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Labels {
        let mut b = Builder::new();
        for (n, v) in pairs {
            b.set(n.as_ref(), v.as_ref());
        }
        b.labels()
    }

    /// Builds a label set from pairs already sorted by name with unique names
    /// and non-empty values. Debug builds check the precondition.
    pub fn from_sorted<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Labels {
        Labels::from_sorted_in(&mut Vec::new(), pairs)
    }

    /// Like [`Labels::from_sorted`], encoding into `scratch` (cleared
    /// first, reused across calls): the label set costs one allocation.
    pub fn from_sorted_in<'a>(
        scratch: &mut Vec<u8>,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Labels {
        scratch.clear();
        let mut prev: Option<&str> = None;
        for (n, v) in pairs {
            debug_assert!(
                prev.is_none_or(|p| p < n),
                "labels not sorted or not unique at {n:?}"
            );
            prev = Some(n);
            put_str(scratch, n);
            put_str(scratch, v);
        }
        Labels {
            buf: Arc::from(&scratch[..]),
        }
    }

    /// A label set from its packed form ([`Labels::as_bytes`]: each name
    /// and value as a LEB128 length and UTF-8 bytes, names strictly
    /// ascending), the way Prometheus's WAL series records and the index
    /// store them; one allocation. `None` if `bytes` is not exactly that
    /// (a non-minimal length, bad UTF-8, names out of order or repeated).
    pub fn from_packed(bytes: &[u8]) -> Option<Labels> {
        PackedLabels::new(bytes).map(|l| l.to_labels())
    }

    /// The label set borrowed as a [`PackedLabels`].
    pub fn packed(&self) -> PackedLabels<'_> {
        PackedLabels { buf: &self.buf }
    }

    /// Iterates over the pairs in ascending name order.
    pub fn iter(&self) -> Iter<'_> {
        self.packed().iter()
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        for (n, v) in self.iter() {
            match n.cmp(name) {
                Ordering::Less => continue,
                Ordering::Equal => return Some(v),
                Ordering::Greater => return None,
            }
        }
        None
    }

    /// The metric name (`__name__`), if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Whether a pair named `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The packed representation; equal label sets have equal bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// A 64-bit hash of the pairs, stable across runs and platforms (a
    /// word-at-a-time multiply-rotate hash of the packed bytes, finished
    /// with MurmurHash3's avalanche so that every bit, low ones included,
    /// depends on every input bit). Not Prometheus's xxhash; never
    /// persisted.
    pub fn stable_hash(&self) -> u64 {
        self.packed().stable_hash()
    }

    /// Heap bytes owned by this value when it is the only reference.
    pub fn byte_size(&self) -> usize {
        self.buf.len() + 2 * std::mem::size_of::<usize>()
    }

    /// A builder starting from these labels.
    pub fn to_builder(&self) -> Builder {
        let mut b = Builder::new();
        b.reset(self);
        b
    }
}

/// See [`Labels::stable_hash`].
fn hash_bytes(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = (bytes.len() as u64).wrapping_mul(K);
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(a)).wrapping_mul(K);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut a = [0u8; 8];
        a[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(a)).wrapping_mul(K);
    }
    // MurmurHash3's fmix64.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        self.buf == other.buf
    }
}
impl Eq for Labels {}

impl Hash for Labels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.buf.hash(state)
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    /// Prometheus's order: pair by pair, name then value; a prefix sorts first.
    fn cmp(&self, other: &Self) -> Ordering {
        let mut a = self.iter();
        let mut b = other.iter();
        loop {
            match (a.next(), b.next()) {
                (None, None) => return Ordering::Equal,
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                (Some(x), Some(y)) => match x.cmp(&y) {
                    Ordering::Equal => continue,
                    o => return o,
                },
            }
        }
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Labels {
    /// Formats as `{a="1", b="2"}` with values quoted like Go's
    /// `strconv.Quote`, as Prometheus's `Labels.String()` does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (n, v)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if is_valid_legacy_name(n) {
                f.write_str(n)?;
            } else {
                write_quoted(f, n)?;
            }
            f.write_str("=")?;
            write_quoted(f, v)?;
        }
        f.write_str("}")
    }
}

fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    crate::matcher::write_go_quoted(f, s)
}

/// A label set borrowed in its packed form ([`Labels::as_bytes`]), checked
/// as [`Labels::from_packed`] checks it: for reading label sets in place
/// (WAL series records) without allocating one each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackedLabels<'a> {
    buf: &'a [u8],
}

impl<'a> PackedLabels<'a> {
    /// `bytes` as a label set, `None` unless it is exactly a packed one (a
    /// non-minimal length, bad UTF-8, names out of order or repeated).
    pub fn new(bytes: &'a [u8]) -> Option<PackedLabels<'a>> {
        match scan_packed(bytes, usize::MAX) {
            Some(end) if end == bytes.len() => Some(PackedLabels { buf: bytes }),
            _ => None,
        }
    }

    /// The label set of `pairs` pairs packed at the start of `bytes`, and
    /// the bytes it takes; `None` if they are not exactly that.
    pub fn prefix(bytes: &'a [u8], pairs: usize) -> Option<(PackedLabels<'a>, usize)> {
        let end = scan_packed(bytes, pairs)?;
        Some((PackedLabels { buf: &bytes[..end] }, end))
    }

    /// Iterates over the pairs in ascending name order.
    pub fn iter(&self) -> Iter<'a> {
        Iter {
            buf: self.buf,
            pos: 0,
        }
    }

    /// The packed bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// [`Labels::stable_hash`] of the same pairs.
    pub fn stable_hash(&self) -> u64 {
        hash_bytes(self.buf)
    }

    /// An owned copy (one allocation).
    pub fn to_labels(&self) -> Labels {
        Labels {
            buf: Arc::from(self.buf),
        }
    }
}

/// Checks up to `pairs` packed pairs from the start of `bytes` (all of
/// them if fewer): minimal LEB128 lengths, UTF-8, names strictly
/// ascending. Returns where the last one ends, or `None`; fewer pairs than
/// asked for is `None` unless the bytes end there and `pairs` is
/// `usize::MAX`.
fn scan_packed(bytes: &[u8], pairs: usize) -> Option<usize> {
    fn next<'a>(b: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let c = *b.get(*pos)?;
            *pos += 1;
            if shift >= usize::BITS - 7 || (c == 0 && shift > 0) {
                return None; // Too long, or not minimal.
            }
            len |= usize::from(c & 0x7f) << shift;
            if c < 0x80 {
                break;
            }
            shift += 7;
        }
        let s = b.get(*pos..pos.checked_add(len)?)?;
        *pos += len;
        Some(s)
    }
    let mut pos = 0;
    let mut prev: Option<&[u8]> = None;
    let mut n = 0;
    while n < pairs && (pairs != usize::MAX || pos < bytes.len()) {
        let name = next(bytes, &mut pos)?;
        next(bytes, &mut pos)?; // The value.
        // UTF-8 strings order like their bytes.
        if prev.is_some_and(|p| p >= name) {
            return None;
        }
        prev = Some(name);
        n += 1;
    }
    // All ASCII (the usual case): one vectorised check instead of a UTF-8
    // validation per string.
    let taken = &bytes[..pos];
    if !taken.is_ascii() {
        let mut at = 0;
        while at < pos {
            let name = next(taken, &mut at)?;
            let value = next(taken, &mut at)?;
            if std::str::from_utf8(name).is_err() || std::str::from_utf8(value).is_err() {
                return None;
            }
        }
    }
    Some(pos)
}

/// Iterator over the pairs of a [`Labels`].
#[derive(Clone)]
pub struct Iter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Iter<'_> {
    /// Where the next pair starts in the packed bytes (their length once
    /// all pairs are read): pair `i` spans the offsets before and after
    /// the `i`-th [`Iterator::next`].
    pub fn offset(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let n = get_str(self.buf, &mut self.pos);
        let v = get_str(self.buf, &mut self.pos);
        Some((n, v))
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// A reusable, mutable label set. Keep one per loop and call
/// [`Builder::reset`]: its buffers are reused, so steady-state use does not
/// allocate except for the final [`Builder::labels`].
#[derive(Default, Debug, Clone)]
pub struct Builder {
    /// Pairs, kept sorted by name with unique names; values may be empty
    /// until [`Builder::labels`] drops them.
    pairs: Vec<(String, String)>,
    len: usize,
}

impl Builder {
    /// An empty builder.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Replaces the contents with `labels`.
    pub fn reset(&mut self, labels: &Labels) {
        self.clear();
        for (n, v) in labels.iter() {
            self.push_slot(n, v);
        }
    }

    /// Removes every pair, keeping the allocations.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    fn push_slot(&mut self, n: &str, v: &str) {
        if self.len == self.pairs.len() {
            self.pairs.push((String::new(), String::new()));
        }
        let slot = &mut self.pairs[self.len];
        slot.0.clear();
        slot.0.push_str(n);
        slot.1.clear();
        slot.1.push_str(v);
        self.len += 1;
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.pairs[..self.len].binary_search_by(|(n, _)| n.as_str().cmp(name))
    }

    /// Sets `name` to `value`; an empty value deletes the label.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.find(name) {
            Ok(i) => {
                let v = &mut self.pairs[i].1;
                v.clear();
                v.push_str(value);
            }
            Err(i) => {
                if value.is_empty() {
                    return;
                }
                self.push_slot(name, value);
                // Move the new slot (at len-1) into place.
                self.pairs[i..self.len].rotate_right(1);
            }
        }
    }

    /// Deletes `name` if present.
    pub fn del(&mut self, name: &str) {
        if let Ok(i) = self.find(name) {
            self.pairs[i..self.len].rotate_left(1);
            self.len -= 1;
        }
    }

    /// The current value of `name` (empty values count as absent).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.find(name)
            .ok()
            .map(|i| self.pairs[i].1.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Iterates over the current non-empty pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.pairs[..self.len]
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Keeps only the pairs for which `keep(name, value)` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        let mut w = 0;
        for r in 0..self.len {
            let (n, v) = &self.pairs[r];
            if keep(n, v) {
                self.pairs.swap(w, r);
                w += 1;
            }
        }
        self.len = w;
    }

    /// The finished label set.
    pub fn labels(&self) -> Labels {
        Labels::from_sorted(self.iter())
    }
}

/// Whether `name` is a valid metric name under the legacy (pre-UTF-8) rules:
/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_valid_legacy_metric_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_' || b[0] == b':')
        && b[1..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

/// Whether `name` is a valid label name under the legacy rules:
/// `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_legacy_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Whether `name` is a valid metric or label name under the Prometheus 3.x
/// UTF-8 rules: any non-empty valid UTF-8 string. (`&str` is always UTF-8.)
pub fn is_valid_utf8_name(name: &str) -> bool {
    !name.is_empty()
}

/// The naming scheme that decides which names are valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NameValidation {
    /// Prometheus 3.x default: any non-empty UTF-8 string.
    #[default]
    Utf8,
    /// The legacy character set.
    Legacy,
}

impl NameValidation {
    /// Whether `name` is a valid label name under this scheme.
    pub fn is_valid_label_name(self, name: &str) -> bool {
        match self {
            NameValidation::Utf8 => is_valid_utf8_name(name),
            NameValidation::Legacy => is_valid_legacy_name(name),
        }
    }

    /// Whether `name` is a valid metric name under this scheme.
    pub fn is_valid_metric_name(self, name: &str) -> bool {
        match self {
            NameValidation::Utf8 => is_valid_utf8_name(name),
            NameValidation::Legacy => is_valid_legacy_metric_name(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_sorted_and_drops_empty() {
        let l = Labels::from_pairs([("b", "2"), ("a", "1"), ("c", ""), ("a", "3")]);
        assert_eq!(l.iter().collect::<Vec<_>>(), vec![("a", "3"), ("b", "2")]);
        assert_eq!(l.get("a"), Some("3"));
        assert_eq!(l.get("c"), None);
        assert_eq!(l.to_string(), r#"{a="3", b="2"}"#);
    }

    #[test]
    fn builder_set_del_retain() {
        let mut b = Builder::new();
        b.set("z", "1");
        b.set("a", "2");
        b.set("m", "3");
        b.del("z");
        b.set("m", "");
        assert_eq!(b.labels(), Labels::from_pairs([("a", "2")]));
        b.reset(&Labels::from_pairs([
            ("x", "1"),
            ("y", "2"),
            ("__tmp", "3"),
        ]));
        b.retain(|n, _| !n.starts_with("__"));
        assert_eq!(b.labels(), Labels::from_pairs([("x", "1"), ("y", "2")]));
    }

    #[test]
    fn order_is_pairwise() {
        let a = Labels::from_pairs([("a", "1")]);
        let b = Labels::from_pairs([("a", "1"), ("b", "1")]);
        let c = Labels::from_pairs([("aa", "0")]);
        assert!(a < b);
        assert!(b < c);
        let long = "x".repeat(300);
        let d = Labels::from_pairs([("a", long.as_str())]);
        assert_eq!(d.get("a"), Some(long.as_str()));
    }
}
