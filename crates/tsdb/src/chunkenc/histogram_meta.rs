//! What the histogram and float-histogram chunks share: the counter-reset
//! header, the layout (zero threshold, schema, spans, custom bounds) written
//! once per chunk, and the bucket-layout arithmetic that decides whether a
//! histogram fits a chunk's layout and how to widen one to the other
//! (Prometheus's `histogram_meta.go`).

use model::histogram::{CounterResetHint, Span};

use super::Error;
use super::bstream::{BitReader, BitWriter};
use super::varbit::{put_varbit_int, put_varbit_uint, read_varbit_int, read_varbit_uint};

/// Size of the histogram chunk header: 2 bytes sample count, 1 flags byte.
pub(crate) const HEADER_SIZE: usize = 3;
/// Position of the flags byte.
pub(crate) const FLAGS_POS: usize = 2;
/// The schema of custom-bucket (NHCB) histograms.
pub(crate) const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// The top two bits of a histogram chunk's flags byte: what is known about a
/// counter reset between the previous chunk of the series and this one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CounterResetHeader {
    /// Not known; readers must compare (`00`).
    #[default]
    Unknown,
    /// The chunk was cut because of a counter reset (`10`).
    CounterReset,
    /// The chunk continues the previous one without a reset (`01`).
    NotCounterReset,
    /// The chunk holds gauge histograms (`11`).
    Gauge,
}

impl CounterResetHeader {
    /// Mask of the header bits in the flags byte.
    pub const MASK: u8 = 0b1100_0000;

    /// The header bits as stored in the flags byte.
    pub fn bits(self) -> u8 {
        match self {
            CounterResetHeader::Unknown => 0,
            CounterResetHeader::CounterReset => 0b1000_0000,
            CounterResetHeader::NotCounterReset => 0b0100_0000,
            CounterResetHeader::Gauge => 0b1100_0000,
        }
    }

    /// Decodes the header bits of a flags byte.
    pub fn from_flags(flags: u8) -> CounterResetHeader {
        match flags & Self::MASK {
            0b1000_0000 => CounterResetHeader::CounterReset,
            0b0100_0000 => CounterResetHeader::NotCounterReset,
            0b1100_0000 => CounterResetHeader::Gauge,
            _ => CounterResetHeader::Unknown,
        }
    }

    /// The hint a reader reports for the `read`-th sample (1-based) of a
    /// chunk with this header: gauge chunks say gauge; later samples of a
    /// counter chunk say "no reset"; the first sample says "unknown", since
    /// the previous chunk may be gone (Prometheus's `counterResetHint`).
    pub(crate) fn hint_for(self, read: u16) -> CounterResetHint {
        match self {
            CounterResetHeader::Gauge => CounterResetHint::Gauge,
            _ if read > 1 => CounterResetHint::NotCounterReset,
            _ => CounterResetHint::Unknown,
        }
    }
}

/// Sets the counter-reset bits of a chunk's flags byte.
pub(crate) fn set_header(bytes: &mut [u8], h: CounterResetHeader) {
    if let Some(f) = bytes.get_mut(FLAGS_POS) {
        *f = (*f & !CounterResetHeader::MASK) | h.bits();
    }
}

/// Reads the counter-reset bits of a chunk's flags byte.
pub(crate) fn get_header(bytes: &[u8]) -> CounterResetHeader {
    CounterResetHeader::from_flags(bytes.get(FLAGS_POS).copied().unwrap_or(0))
}

/// The layout a chunk's first sample dictates.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Layout {
    pub(crate) schema: i32,
    pub(crate) zero_threshold: f64,
    pub(crate) positive_spans: Vec<Span>,
    pub(crate) negative_spans: Vec<Span>,
    pub(crate) custom_values: Vec<f64>,
}

/// Writes the layout.
pub(crate) fn write_layout(
    w: &mut BitWriter,
    schema: i32,
    zero_threshold: f64,
    positive: &[Span],
    negative: &[Span],
    custom_values: &[f64],
) {
    put_zero_threshold(w, zero_threshold);
    put_varbit_int(w, i64::from(schema));
    put_spans(w, positive);
    put_spans(w, negative);
    if schema == CUSTOM_BUCKETS_SCHEMA {
        put_varbit_uint(w, custom_values.len() as u64);
        for &v in custom_values {
            put_custom_bound(w, v);
        }
    }
}

/// Reads the layout and checks the schema is one we can decode.
pub(crate) fn read_layout(r: &mut BitReader<'_>) -> Result<Layout, Error> {
    let zero_threshold = read_zero_threshold(r)?;
    let schema = read_varbit_int(r)?;
    let schema =
        i32::try_from(schema).map_err(|_| Error::Corrupt("histogram schema out of range"))?;
    if !(schema == CUSTOM_BUCKETS_SCHEMA || (-9..=8).contains(&schema)) {
        return Err(Error::UnknownSchema(schema));
    }
    let positive_spans = read_spans(r)?;
    let negative_spans = read_spans(r)?;
    let mut custom_values = Vec::new();
    if schema == CUSTOM_BUCKETS_SCHEMA {
        let n = read_varbit_uint(r)?;
        // Every bound takes at least one bit: reject counts the data cannot hold.
        if n > r.bits_left() as u64 {
            return Err(Error::Corrupt("more custom bounds than data"));
        }
        for _ in 0..n {
            custom_values.push(read_custom_bound(r)?);
        }
    }
    Ok(Layout {
        schema,
        zero_threshold,
        positive_spans,
        negative_spans,
        custom_values,
    })
}

fn put_spans(w: &mut BitWriter, spans: &[Span]) {
    put_varbit_uint(w, spans.len() as u64);
    for s in spans {
        put_varbit_uint(w, u64::from(s.length));
        put_varbit_int(w, i64::from(s.offset));
    }
}

fn read_spans(r: &mut BitReader<'_>) -> Result<Vec<Span>, Error> {
    let n = read_varbit_uint(r)?;
    // Every span takes at least two bits: reject counts the data cannot hold.
    if n > r.bits_left() as u64 / 2 {
        return Err(Error::Corrupt("more spans than data"));
    }
    let mut spans = Vec::new();
    for _ in 0..n {
        let length = read_varbit_uint(r)?;
        let offset = read_varbit_int(r)?;
        spans.push(Span {
            // Go truncates to 32 bits; so do we.
            length: length as u32,
            offset: offset as i32,
        });
    }
    Ok(spans)
}

/// Writes the zero threshold: `0` as one zero byte, a power of two
/// `2^-243 ..= 2^10` as one byte `exp + 243` (with `x = 0.5 * 2^exp`),
/// anything else as `0xff` and the 64 float bits.
fn put_zero_threshold(w: &mut BitWriter, zt: f64) {
    if zt == 0.0 {
        w.write_byte(0);
        return;
    }
    let bits = zt.to_bits();
    let biased = (bits >> 52) & 0x7ff;
    let mantissa = bits & ((1 << 52) - 1);
    // A positive normal power of two is 0.5 * 2^(biased - 1022).
    let exp = biased as i64 - 1022;
    if zt > 0.0 && mantissa == 0 && biased != 0 && (-242..=11).contains(&exp) {
        w.write_byte((exp + 243) as u8);
    } else {
        w.write_byte(0xff);
        w.write_bits(bits, 64);
    }
}

fn read_zero_threshold(r: &mut BitReader<'_>) -> Result<f64, Error> {
    match r.read_byte()? {
        0 => Ok(0.0),
        0xff => Ok(f64::from_bits(r.read_bits(64)?)),
        b => {
            // 0.5 * 2^(b - 243) = 2^(b - 244), always a normal float.
            let biased = (i64::from(b) - 244 + 1023) as u64;
            Ok(f64::from_bits(biased << 52))
        }
    }
}

/// Writes a custom bucket bound: a non-negative multiple of 0.001 up to
/// 33554.430 as `varbit_uint(x * 1000 + 1)`, anything else as a 0 bit and
/// the 64 float bits.
fn put_custom_bound(w: &mut BitWriter, f: f64) {
    let tf = f * 1000.0;
    let whole = {
        let i = tf.round();
        !tf.is_nan() && i / 1000.0 == f
    };
    if !(0.0..=33_554_430.0).contains(&tf) || !whole {
        w.write_bit(false);
        w.write_bits(f.to_bits(), 64);
        return;
    }
    put_varbit_uint(w, tf.round() as u64 + 1);
}

fn read_custom_bound(r: &mut BitReader<'_>) -> Result<f64, Error> {
    match read_varbit_uint(r)? {
        0 => Ok(f64::from_bits(r.read_bits(64)?)),
        v => Ok((v - 1) as f64 / 1000.0),
    }
}

/// Number of buckets the spans describe, saturating on corrupt input.
pub(crate) fn count_spans(spans: &[Span]) -> usize {
    spans
        .iter()
        .fold(0usize, |n, s| n.saturating_add(s.length as usize))
}

/// Yields the absolute bucket indices the spans describe.
pub(crate) struct BucketIndices<'a> {
    spans: &'a [Span],
    span: usize,
    left: u32,
    idx: i64,
}

impl<'a> BucketIndices<'a> {
    pub(crate) fn new(spans: &'a [Span]) -> BucketIndices<'a> {
        BucketIndices {
            spans,
            span: 0,
            left: 0,
            idx: 0,
        }
    }
}

impl Iterator for BucketIndices<'_> {
    type Item = i64;
    fn next(&mut self) -> Option<i64> {
        // The first index of span k is (first of k-1 + length of k-1 + offset of k),
        // which, with `idx` one past the last bucket, is idx + offset.
        while self.left == 0 {
            let s = self.spans.get(self.span)?;
            self.span += 1;
            self.idx += i64::from(s.offset);
            self.left = s.length;
        }
        self.left -= 1;
        let i = self.idx;
        self.idx += 1;
        Some(i)
    }
}

/// `num` new buckets with indices `bucket_idx ..` go in before the
/// `pos`-th bucket of the original slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Insert {
    pub(crate) pos: usize,
    pub(crate) num: usize,
    pub(crate) bucket_idx: i64,
}

fn push_insert(list: &mut Vec<Insert>, pos: usize, idx: i64) {
    if let Some(last) = list
        .last_mut()
        .filter(|l| l.pos == pos && l.bucket_idx + l.num as i64 == idx)
    {
        last.num += 1;
        return;
    }
    list.push(Insert {
        pos,
        num: 1,
        bucket_idx: idx,
    });
}

/// The inserts that widen a chunk's layout `a` to cover histogram layout `b`
/// (forward), and `b` to cover buckets of `a` that `b` lacks (backward),
/// given absolute bucket counts. `None` when a bucket in use in `a`
/// disappeared or any common bucket shrank: a counter reset.
pub(crate) fn expand_spans_and_buckets<V, IA, IB>(
    a: &[Span],
    b: &[Span],
    a_counts: IA,
    b_counts: IB,
) -> Option<(Vec<Insert>, Vec<Insert>)>
where
    V: PartialOrd + Default,
    IA: IntoIterator<Item = V>,
    IB: IntoIterator<Item = V>,
{
    let mut ai = BucketIndices::new(a).zip(a_counts);
    let mut bi = BucketIndices::new(b).zip(b_counts);
    let (mut fwd, mut bwd) = (Vec::new(), Vec::new());
    let (mut a_pos, mut b_pos) = (0usize, 0usize);
    let mut ac = ai.next();
    let mut bc = bi.next();
    loop {
        match (&ac, &bc) {
            (Some((ia, ca)), Some((ib, cb))) if ia == ib => {
                if ca > cb {
                    return None;
                }
                ac = ai.next();
                bc = bi.next();
                a_pos += 1;
                b_pos += 1;
            }
            (Some((ia, ca)), other) if other.as_ref().is_none_or(|(ib, _)| ia < ib) => {
                // `b` lacks a bucket of `a`: fine only if it was empty.
                if *ca != V::default() {
                    return None;
                }
                push_insert(&mut bwd, b_pos, *ia);
                ac = ai.next();
                a_pos += 1;
            }
            (_, Some((ib, _))) => {
                // `a` lacks a bucket of `b`: the chunk must widen.
                push_insert(&mut fwd, a_pos, *ib);
                bc = bi.next();
                b_pos += 1;
            }
            (None, None) => return Some((fwd, bwd)),
            // Unreachable: (Some, _) is covered by the two arms above.
            (Some(_), _) => return None,
        }
    }
}

/// Like [`expand_spans_and_buckets`] but for gauge histograms: counts are
/// ignored and both sides may gain buckets. Also returns the merged spans.
pub(crate) fn expand_spans_both_ways(
    a: &[Span],
    b: &[Span],
) -> (Vec<Insert>, Vec<Insert>, Vec<Span>) {
    let mut ai = BucketIndices::new(a);
    let mut bi = BucketIndices::new(b);
    let (mut fwd, mut bwd, mut merged) = (Vec::new(), Vec::new(), SpanBuilder::default());
    let (mut a_pos, mut b_pos) = (0usize, 0usize);
    let mut av = ai.next();
    let mut bv = bi.next();
    loop {
        match (av, bv) {
            (Some(x), Some(y)) if x == y => {
                merged.push(x);
                av = ai.next();
                bv = bi.next();
                a_pos += 1;
                b_pos += 1;
            }
            (Some(x), y) if y.is_none_or(|y| x < y) => {
                merged.push(x);
                push_insert(&mut bwd, b_pos, x);
                av = ai.next();
                a_pos += 1;
            }
            (_, Some(y)) => {
                merged.push(y);
                push_insert(&mut fwd, a_pos, y);
                bv = bi.next();
                b_pos += 1;
            }
            _ => return (fwd, bwd, merged.spans),
        }
    }
}

/// Builds spans from ascending bucket indices.
#[derive(Default)]
struct SpanBuilder {
    spans: Vec<Span>,
    last: Option<i64>,
}

impl SpanBuilder {
    fn push(&mut self, idx: i64) {
        match (self.last, self.spans.last_mut()) {
            (Some(last), Some(s)) if idx == last + 1 => s.length += 1,
            (Some(last), _) => self.spans.push(Span {
                offset: (idx - last - 1) as i32,
                length: 1,
            }),
            (None, _) => self.spans.push(Span {
                offset: idx as i32,
                length: 1,
            }),
        }
        self.last = Some(idx);
    }
}

/// The spans of `spans` widened by the buckets the inserts add.
pub(crate) fn adjust_for_inserts(spans: &[Span], inserts: &[Insert]) -> Vec<Span> {
    if inserts.is_empty() {
        return spans.to_vec();
    }
    let mut out = SpanBuilder::default();
    let mut extra = inserts
        .iter()
        .flat_map(|ins| (0..ins.num as i64).map(move |k| ins.bucket_idx + k))
        .peekable();
    for idx in BucketIndices::new(spans) {
        while let Some(&e) = extra.peek() {
            if e >= idx {
                break;
            }
            out.push(e);
            extra.next();
        }
        out.push(idx);
    }
    for e in extra {
        out.push(e);
    }
    out.spans
}

/// A bucket value: integer deltas or absolute float counts.
pub(crate) trait BucketValue:
    Copy + Default + std::ops::Add<Output = Self> + std::ops::Neg<Output = Self>
{
}
impl BucketValue for i64 {}
impl BucketValue for f64 {}

/// Applies inserts to a bucket slice. With `deltas`, values are deltas to
/// the previous bucket: an inserted run starts with the delta back to zero
/// and the next original bucket absorbs it; otherwise inserted buckets are
/// simply zero.
pub(crate) fn insert_buckets<V: BucketValue>(
    input: &[V],
    inserts: &[Insert],
    deltas: bool,
) -> Vec<V> {
    let extra: usize = inserts.iter().map(|i| i.num).sum();
    let mut out = Vec::with_capacity(input.len() + extra);
    let mut v = V::default();
    let mut ii = 0;
    for (i, &d) in input.iter().enumerate() {
        let mut inserted = false;
        while let Some(ins) = inserts.get(ii).filter(|ins| ins.pos == i) {
            for k in 0..ins.num {
                out.push(if deltas && !inserted && k == 0 {
                    -v
                } else {
                    V::default()
                });
            }
            inserted = true;
            ii += 1;
        }
        out.push(if deltas && inserted { d + v } else { d });
        v = v + d;
    }
    for ins in inserts.get(ii..).unwrap_or_default() {
        for k in 0..ins.num {
            out.push(if deltas && k == 0 { -v } else { V::default() });
        }
        v = V::default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(v: &[(i32, u32)]) -> Vec<Span> {
        v.iter()
            .map(|&(offset, length)| Span { offset, length })
            .collect()
    }

    #[test]
    fn bucket_indices_follow_offsets() {
        let s = sp(&[(0, 2), (2, 1), (3, 2), (3, 1), (1, 1)]);
        let idx: Vec<i64> = BucketIndices::new(&s).collect();
        assert_eq!(idx, vec![0, 1, 4, 8, 9, 13, 15]);
        let s = sp(&[(-2, 1), (0, 0), (1, 1)]);
        assert_eq!(BucketIndices::new(&s).collect::<Vec<_>>(), vec![-2, 0]);
    }

    #[test]
    fn expansion_matches_prometheus_example() {
        // The example in Prometheus's expandIntSpansAndBuckets comment.
        let a = sp(&[(0, 2), (2, 1), (3, 2), (3, 1), (1, 1)]);
        let b = sp(&[(0, 3), (1, 1), (1, 4), (3, 3)]);
        let a_abs = [6i64, 3, 3, 2, 4, 5, 1];
        let b_abs = [6i64, 3, 0, 3, 0, 0, 2, 4, 5, 0, 1];
        let (fwd, bwd) = expand_spans_and_buckets(&a, &b, a_abs, b_abs).unwrap();
        assert!(bwd.is_empty());
        assert_eq!(
            fwd,
            vec![
                Insert {
                    pos: 2,
                    num: 1,
                    bucket_idx: 2
                },
                Insert {
                    pos: 3,
                    num: 2,
                    bucket_idx: 6
                },
                Insert {
                    pos: 6,
                    num: 1,
                    bucket_idx: 14
                },
            ]
        );
        let deltas = [6i64, -3, 0, -1, 2, 1, -4];
        assert_eq!(
            insert_buckets(&deltas, &fwd, true),
            vec![6, -3, -3, 3, -3, 0, 2, 2, 1, -5, 1]
        );
        assert_eq!(adjust_for_inserts(&a, &fwd), b);
        // A shrinking bucket is a reset; a vanished used bucket too.
        assert!(
            expand_spans_and_buckets(&a, &b, a_abs, [6i64, 2, 0, 3, 0, 0, 2, 4, 5, 0, 1]).is_none()
        );
        let a_short = sp(&[(0, 2), (2, 1), (3, 2), (3, 1)]);
        assert!(expand_spans_and_buckets(&a, &a_short, a_abs, [6i64, 3, 3, 2, 4, 5]).is_none());
        // The other way round only empty buckets vanish: backward inserts.
        let (fwd, bwd) = expand_spans_and_buckets(&b, &a, b_abs, a_abs).unwrap();
        assert!(fwd.is_empty());
        assert_eq!(bwd.iter().map(|i| i.num).sum::<usize>(), 4);
        // A vanished empty bucket needs a backward insert.
        let (fwd, bwd) =
            expand_spans_and_buckets(&sp(&[(0, 2)]), &sp(&[(1, 1)]), [0i64, 1], [2i64]).unwrap();
        assert!(fwd.is_empty());
        assert_eq!(
            bwd,
            vec![Insert {
                pos: 0,
                num: 1,
                bucket_idx: 0
            }]
        );
    }

    #[test]
    fn both_ways_merges() {
        let (fwd, bwd, merged) = expand_spans_both_ways(&sp(&[(0, 2)]), &sp(&[(1, 2)]));
        assert_eq!(
            fwd,
            vec![Insert {
                pos: 2,
                num: 1,
                bucket_idx: 2
            }]
        );
        assert_eq!(
            bwd,
            vec![Insert {
                pos: 0,
                num: 1,
                bucket_idx: 0
            }]
        );
        assert_eq!(merged, sp(&[(0, 3)]));
    }

    #[test]
    fn zero_threshold_encoding() {
        #[track_caller]
        fn check(zt: f64, len: usize) {
            let mut w = BitWriter::default();
            put_zero_threshold(&mut w, zt);
            assert_eq!(w.bytes().len(), len, "{zt}");
            let got = read_zero_threshold(&mut BitReader::new(w.bytes())).unwrap();
            assert_eq!(got.to_bits(), zt.to_bits());
        }
        check(0.0, 1);
        check(2f64.powi(-128), 1);
        check(2f64.powi(-243), 1);
        check(1024.0, 1);
        check(2048.0, 9);
        check(2f64.powi(-244), 9);
        check(0.001, 9);
        check(-0.5, 9);
        // The default threshold is stored as byte 116.
        let mut w = BitWriter::default();
        put_zero_threshold(&mut w, 2f64.powi(-128));
        assert_eq!(w.bytes(), &[116]);
    }

    #[test]
    fn custom_bounds_encoding() {
        for &(v, bits) in &[
            (0.0, 5),
            (0.5, 13),
            (1.0, 17),
            (33554.43, 32),
            (33554.431, 65),
            (-1.0, 65),
            (0.0001, 65),
            (f64::INFINITY, 65),
            (f64::NAN, 65),
        ] {
            let mut w = BitWriter::default();
            put_custom_bound(&mut w, v);
            let mut r = BitReader::new(w.bytes());
            let got = read_custom_bound(&mut r).unwrap();
            assert!(got == v || (got.is_nan() && v.is_nan()), "{v}");
            assert_eq!(r.bits_read(), bits, "{v}");
        }
    }
}
