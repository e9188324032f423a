//! The histogram chunk: integer native histograms, byte-compatible with
//! Prometheus's `EncHistogram` (`histogram.go`).
//!
//! Layout: 2-byte sample count, a flags byte whose top two bits are the
//! [`CounterResetHeader`], then a bit stream: the layout (zero threshold,
//! schema, spans, custom bounds) once, then per sample the timestamp,
//! count, zero count and buckets as raw / delta / delta-of-delta varbits and
//! the sum as a Gorilla XOR. See `docs/format/chunks.md`.

use std::borrow::Cow;

use model::histogram::{CounterResetHint, FloatHistogram, Histogram, Span};
use model::is_stale_nan;

use super::bstream::{BitReader, BitWriter};
use super::histogram_meta::{
    CounterResetHeader, HEADER_SIZE, Insert, Layout, adjust_for_inserts, count_spans,
    expand_spans_and_buckets, expand_spans_both_ways, get_header, insert_buckets, read_layout,
    set_header, write_layout,
};
use super::varbit::{put_varbit_int, put_varbit_uint, read_varbit_int, read_varbit_uint};
use super::xor::{num_samples, xor_read, xor_write};
use super::{Error, HistogramAppend, ValueType};

/// Encoder state after the last sample (Prometheus's `HistogramAppender`).
#[derive(Clone, Debug, PartialEq)]
struct State {
    layout: Layout,
    t: i64,
    cnt: u64,
    z_cnt: u64,
    t_delta: i64,
    cnt_delta: i64,
    z_cnt_delta: i64,
    p_buckets: Vec<i64>,
    n_buckets: Vec<i64>,
    p_deltas: Vec<i64>,
    n_deltas: Vec<i64>,
    sum: f64,
    leading: u8,
    trailing: u8,
}

impl Default for State {
    fn default() -> Self {
        State {
            layout: Layout::default(),
            t: i64::MIN,
            cnt: 0,
            z_cnt: 0,
            t_delta: 0,
            cnt_delta: 0,
            z_cnt_delta: 0,
            p_buckets: Vec::new(),
            n_buckets: Vec::new(),
            p_deltas: Vec::new(),
            n_deltas: Vec::new(),
            sum: 0.0,
            leading: 0xff,
            trailing: 0,
        }
    }
}

/// Whether a histogram fits the chunk, and what must change for it to.
#[derive(Debug, Default)]
pub(crate) struct Appendability {
    pub(crate) ok: bool,
    pub(crate) header: CounterResetHeader,
    pub(crate) fwd_p: Vec<Insert>,
    pub(crate) fwd_n: Vec<Insert>,
    pub(crate) bwd_p: Vec<Insert>,
    pub(crate) bwd_n: Vec<Insert>,
}

/// An integer-histogram chunk under construction (or reopened).
#[derive(Clone, Debug)]
pub struct HistogramChunk {
    w: BitWriter,
    st: State,
}

impl Default for HistogramChunk {
    fn default() -> Self {
        HistogramChunk::new()
    }
}

/// Checks that the bucket slices match the spans, so encoding cannot index
/// out of bounds.
pub(crate) fn check_shape(
    p_spans: &[Span],
    p: usize,
    n_spans: &[Span],
    n: usize,
) -> Result<(), Error> {
    if count_spans(p_spans) != p || count_spans(n_spans) != n {
        return Err(Error::InvalidHistogram("bucket count does not match spans"));
    }
    Ok(())
}

impl HistogramChunk {
    /// An empty chunk.
    pub fn new() -> HistogramChunk {
        let mut bytes = Vec::with_capacity(128);
        bytes.extend_from_slice(&[0; HEADER_SIZE]);
        HistogramChunk {
            w: BitWriter::from_parts(bytes, 0),
            st: State::default(),
        }
    }

    /// Reopens encoded bytes for appending, rebuilding the encoder state by
    /// decoding every sample. Bytes past the bit stream are dropped.
    pub fn from_bytes(mut bytes: Vec<u8>) -> Result<HistogramChunk, Error> {
        let mut it = HistogramIterator::new(&bytes)?;
        while it.next() != ValueType::None {}
        if let Some(e) = it.err() {
            return Err(e.clone());
        }
        let bits = HEADER_SIZE * 8 + it.r.bits_read();
        let st = if it.read == 0 {
            State::default()
        } else {
            it.st
        };
        bytes.truncate(bits.div_ceil(8));
        let free = (bytes.len() * 8 - bits) as u8;
        Ok(HistogramChunk {
            w: BitWriter::from_parts(bytes, free),
            st,
        })
    }

    /// The encoded bytes (header included).
    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    /// Hands back the encoded bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.w.into_bytes()
    }

    /// Timestamp of the newest sample, `None` when empty.
    pub fn last_t(&self) -> Option<i64> {
        (self.num_samples() > 0).then_some(self.st.t)
    }

    /// Number of samples.
    pub fn num_samples(&self) -> usize {
        num_samples(self.bytes())
    }

    /// The counter-reset header.
    pub fn counter_reset_header(&self) -> CounterResetHeader {
        get_header(self.bytes())
    }

    /// Sets the counter-reset header.
    pub fn set_counter_reset_header(&mut self, h: CounterResetHeader) {
        set_header(self.w.bytes_mut(), h);
    }

    /// An iterator over the samples.
    pub fn iter(&self) -> HistogramIterator<'_> {
        HistogramIterator::from_valid(self.bytes())
    }

    fn set_num_samples(&mut self, n: usize) {
        self.w.bytes_mut()[..2].copy_from_slice(&(n as u16).to_be_bytes());
    }

    /// Appends a histogram the way Prometheus's head does
    /// (`AppendHistogram`): in place when it fits the chunk's layout;
    /// re-encoding the whole chunk when new buckets appear; or, on a counter
    /// reset, a schema or zero-threshold change, a counter/gauge switch or
    /// after a stale marker, in a new chunk returned to the caller, whose
    /// counter-reset header says why. `prev` is the series' previous chunk,
    /// consulted only when this chunk is empty, to set its header.
    pub fn append(
        &mut self,
        prev: Option<&HistogramChunk>,
        t: i64,
        h: &Histogram,
    ) -> Result<HistogramAppend<HistogramChunk>, Error> {
        check_shape(
            &h.positive_spans,
            h.positive_buckets.len(),
            &h.negative_spans,
            h.negative_buckets.len(),
        )?;
        let num = self.num_samples();
        if num >= usize::from(u16::MAX) {
            return Err(Error::ChunkFull);
        }
        if num == 0 {
            self.append_raw(0, t, h);
            let header = match (h.counter_reset_hint, prev) {
                (CounterResetHint::Gauge, _) => CounterResetHeader::Gauge,
                (CounterResetHint::CounterReset, _) => CounterResetHeader::CounterReset,
                (_, Some(p)) => p.appendable(h).header,
                (_, None) => CounterResetHeader::Unknown,
            };
            self.set_counter_reset_header(header);
            return Ok(HistogramAppend::InPlace);
        }
        let gauge = h.counter_reset_hint == CounterResetHint::Gauge;
        let (ap, merged) = if gauge {
            self.appendable_gauge(h)
        } else {
            (self.appendable(h), None)
        };
        if !ap.ok || (!gauge && ap.header != CounterResetHeader::NotCounterReset) {
            let mut c = HistogramChunk::new();
            c.set_counter_reset_header(if gauge {
                CounterResetHeader::Gauge
            } else {
                ap.header
            });
            c.append_raw(0, t, h);
            return Ok(HistogramAppend::NewChunk(c));
        }
        let mut h = Cow::Borrowed(h);
        if !ap.bwd_p.is_empty() || !ap.bwd_n.is_empty() {
            let hm = h.to_mut();
            if let Some((mp, mn)) = merged {
                hm.positive_spans = mp;
                hm.negative_spans = mn;
            } else if ap.fwd_p.is_empty() && ap.fwd_n.is_empty() {
                hm.positive_spans.clone_from(&self.st.layout.positive_spans);
                hm.negative_spans.clone_from(&self.st.layout.negative_spans);
            } else {
                hm.positive_spans = adjust_for_inserts(&hm.positive_spans, &ap.bwd_p);
                hm.negative_spans = adjust_for_inserts(&hm.negative_spans, &ap.bwd_n);
            }
            if !ap.bwd_p.is_empty() {
                hm.positive_buckets = insert_buckets(&hm.positive_buckets, &ap.bwd_p, true);
            }
            if !ap.bwd_n.is_empty() {
                hm.negative_buckets = insert_buckets(&hm.negative_buckets, &ap.bwd_n, true);
            }
        }
        if !ap.fwd_p.is_empty() || !ap.fwd_n.is_empty() {
            let mut c = self.recode(&ap.fwd_p, &ap.fwd_n, &h.positive_spans, &h.negative_spans)?;
            let n = c.num_samples();
            c.append_raw(n, t, &h);
            *self = c;
            return Ok(HistogramAppend::Recoded);
        }
        self.append_raw(num, t, &h);
        Ok(HistogramAppend::InPlace)
    }

    /// Prometheus's `appendable` for counter histograms.
    pub(crate) fn appendable(&self, h: &Histogram) -> Appendability {
        let mut ap = Appendability {
            header: CounterResetHeader::NotCounterReset,
            ..Default::default()
        };
        let st = &self.st;
        if self.num_samples() > 0 && self.counter_reset_header() == CounterResetHeader::Gauge {
            return ap;
        }
        if h.counter_reset_hint == CounterResetHint::CounterReset {
            ap.header = CounterResetHeader::CounterReset;
            return ap;
        }
        if is_stale_nan(h.sum) {
            ap.ok = true;
            return ap;
        }
        if is_stale_nan(st.sum) {
            ap.header = CounterResetHeader::Unknown;
            return ap;
        }
        if h.count < st.cnt {
            ap.header = CounterResetHeader::CounterReset;
            return ap;
        }
        if h.schema != st.layout.schema || h.zero_threshold != st.layout.zero_threshold {
            ap.header = CounterResetHeader::Unknown;
            return ap;
        }
        if h.schema == super::histogram_meta::CUSTOM_BUCKETS_SCHEMA
            && h.custom_values != st.layout.custom_values
        {
            ap.header = CounterResetHeader::CounterReset;
            return ap;
        }
        if h.zero_count < st.z_cnt {
            ap.header = CounterResetHeader::CounterReset;
            return ap;
        }
        let abs = |d: &[i64]| {
            let mut acc = 0i64;
            d.iter()
                .map(move |&x| {
                    acc = acc.wrapping_add(x);
                    acc
                })
                .collect::<Vec<_>>()
        };
        let Some((fp, bp)) = expand_spans_and_buckets(
            &st.layout.positive_spans,
            &h.positive_spans,
            abs(&st.p_buckets),
            abs(&h.positive_buckets),
        ) else {
            ap.header = CounterResetHeader::CounterReset;
            return ap;
        };
        let Some((fnn, bn)) = expand_spans_and_buckets(
            &st.layout.negative_spans,
            &h.negative_spans,
            abs(&st.n_buckets),
            abs(&h.negative_buckets),
        ) else {
            ap.header = CounterResetHeader::CounterReset;
            return ap;
        };
        (ap.fwd_p, ap.bwd_p, ap.fwd_n, ap.bwd_n) = (fp, bp, fnn, bn);
        ap.ok = true;
        ap
    }

    /// Prometheus's `appendableGauge`, plus the merged spans.
    #[allow(clippy::type_complexity)]
    fn appendable_gauge(&self, h: &Histogram) -> (Appendability, Option<(Vec<Span>, Vec<Span>)>) {
        let mut ap = Appendability::default();
        let st = &self.st;
        if self.num_samples() > 0 && self.counter_reset_header() != CounterResetHeader::Gauge {
            return (ap, None);
        }
        if is_stale_nan(h.sum) {
            ap.ok = true;
            return (ap, None);
        }
        if is_stale_nan(st.sum)
            || h.schema != st.layout.schema
            || h.zero_threshold != st.layout.zero_threshold
            || (h.schema == super::histogram_meta::CUSTOM_BUCKETS_SCHEMA
                && h.custom_values != st.layout.custom_values)
        {
            return (ap, None);
        }
        let (fp, bp, mp) = expand_spans_both_ways(&st.layout.positive_spans, &h.positive_spans);
        let (fnn, bn, mn) = expand_spans_both_ways(&st.layout.negative_spans, &h.negative_spans);
        (ap.fwd_p, ap.bwd_p, ap.fwd_n, ap.bwd_n) = (fp, bp, fnn, bn);
        ap.ok = true;
        (ap, Some((mp, mn)))
    }

    /// Re-encodes every sample with the given inserts into a new chunk
    /// laid out with the given spans; the header is kept.
    fn recode(
        &self,
        fwd_p: &[Insert],
        fwd_n: &[Insert],
        p_spans: &[Span],
        n_spans: &[Span],
    ) -> Result<HistogramChunk, Error> {
        let mut c = HistogramChunk::new();
        let mut it = self.iter();
        let mut old = Histogram::default();
        let mut n = 0;
        while it.next() != ValueType::None {
            let t = it.at_histogram(&mut old);
            old.positive_spans = p_spans.to_vec();
            old.negative_spans = n_spans.to_vec();
            if !fwd_p.is_empty() {
                old.positive_buckets = insert_buckets(&old.positive_buckets, fwd_p, true);
            }
            if !fwd_n.is_empty() {
                old.negative_buckets = insert_buckets(&old.negative_buckets, fwd_n, true);
            }
            n = c.append_raw(n, t, &old);
        }
        if let Some(e) = it.err() {
            return Err(e.clone());
        }
        c.set_counter_reset_header(self.counter_reset_header());
        Ok(c)
    }

    /// Encodes one sample (Prometheus's `appendHistogram`); the caller has
    /// checked it fits. Returns and stores the new sample count.
    fn append_raw(&mut self, num: usize, t: i64, h: &Histogram) -> usize {
        let stale;
        let h = if is_stale_nan(h.sum) {
            // A stale marker carries no buckets and, first in a chunk, an empty layout.
            stale = Histogram {
                sum: h.sum,
                ..Default::default()
            };
            &stale
        } else {
            h
        };
        let st = &mut self.st;
        let w = &mut self.w;
        let (mut t_delta, mut cnt_delta, mut z_cnt_delta) = (0i64, 0i64, 0i64);
        if num == 0 {
            write_layout(
                w,
                h.schema,
                h.zero_threshold,
                &h.positive_spans,
                &h.negative_spans,
                &h.custom_values,
            );
            st.layout = Layout {
                schema: h.schema,
                zero_threshold: h.zero_threshold,
                positive_spans: h.positive_spans.clone(),
                negative_spans: h.negative_spans.clone(),
                custom_values: h.custom_values.clone(),
            };
            st.p_buckets = vec![0; h.positive_buckets.len()];
            st.n_buckets = vec![0; h.negative_buckets.len()];
            st.p_deltas = vec![0; h.positive_buckets.len()];
            st.n_deltas = vec![0; h.negative_buckets.len()];
            st.leading = 0xff;
            st.trailing = 0;
            put_varbit_int(w, t);
            put_varbit_uint(w, h.count);
            put_varbit_uint(w, h.zero_count);
            w.write_bits(h.sum.to_bits(), 64);
            for &b in h.positive_buckets.iter().chain(&h.negative_buckets) {
                put_varbit_int(w, b);
            }
        } else {
            // The second sample's single deltas fall out of the same
            // delta-of-delta code, since the stored deltas start at zero.
            t_delta = t.wrapping_sub(st.t);
            cnt_delta = (h.count as i64).wrapping_sub(st.cnt as i64);
            z_cnt_delta = (h.zero_count as i64).wrapping_sub(st.z_cnt as i64);
            let t_dod = t_delta.wrapping_sub(st.t_delta);
            let (mut cnt_dod, mut z_cnt_dod) = (
                cnt_delta.wrapping_sub(st.cnt_delta),
                z_cnt_delta.wrapping_sub(st.z_cnt_delta),
            );
            if is_stale_nan(h.sum) {
                (cnt_dod, z_cnt_dod) = (0, 0);
            }
            put_varbit_int(w, t_dod);
            put_varbit_int(w, cnt_dod);
            put_varbit_int(w, z_cnt_dod);
            xor_write(w, h.sum, st.sum, &mut st.leading, &mut st.trailing);
            for (i, &b) in h.positive_buckets.iter().enumerate() {
                let delta = b.wrapping_sub(st.p_buckets[i]);
                put_varbit_int(w, delta.wrapping_sub(st.p_deltas[i]));
                st.p_deltas[i] = delta;
            }
            for (i, &b) in h.negative_buckets.iter().enumerate() {
                let delta = b.wrapping_sub(st.n_buckets[i]);
                put_varbit_int(w, delta.wrapping_sub(st.n_deltas[i]));
                st.n_deltas[i] = delta;
            }
        }
        st.t = t;
        st.cnt = h.count;
        st.z_cnt = h.zero_count;
        st.t_delta = t_delta;
        st.cnt_delta = cnt_delta;
        st.z_cnt_delta = z_cnt_delta;
        st.p_buckets[..h.positive_buckets.len()].copy_from_slice(&h.positive_buckets);
        st.n_buckets[..h.negative_buckets.len()].copy_from_slice(&h.negative_buckets);
        st.sum = h.sum;
        self.set_num_samples(num + 1);
        num + 1
    }
}

/// Iterates the samples of a histogram chunk; bounded on corrupt input.
#[derive(Clone, Debug)]
pub struct HistogramIterator<'a> {
    r: BitReader<'a>,
    total: u16,
    read: u16,
    header: CounterResetHeader,
    st: State,
    err: Option<Error>,
}

impl<'a> HistogramIterator<'a> {
    /// An iterator over encoded chunk bytes (header included).
    pub fn new(bytes: &'a [u8]) -> Result<HistogramIterator<'a>, Error> {
        if bytes.len() < HEADER_SIZE {
            return Err(Error::TooShort {
                len: bytes.len(),
                need: HEADER_SIZE,
            });
        }
        Ok(HistogramIterator::from_valid(bytes))
    }

    fn from_valid(bytes: &'a [u8]) -> HistogramIterator<'a> {
        HistogramIterator {
            r: BitReader::new(bytes.get(HEADER_SIZE..).unwrap_or_default()),
            total: num_samples(bytes) as u16,
            read: 0,
            header: get_header(bytes),
            st: State::default(),
            err: None,
        }
    }

    /// The error that stopped iteration, if any.
    pub fn err(&self) -> Option<&Error> {
        self.err.as_ref()
    }

    /// The chunk's counter-reset header.
    pub fn counter_reset_header(&self) -> CounterResetHeader {
        self.header
    }

    /// The current timestamp.
    pub fn at_t(&self) -> i64 {
        self.st.t
    }

    /// Copies the current histogram into `h` (reusing its allocations) and
    /// returns its timestamp. A stale marker comes back as a histogram with
    /// only the stale sum set.
    pub fn at_histogram(&self, h: &mut Histogram) -> i64 {
        h.clear();
        let st = &self.st;
        h.sum = st.sum;
        if is_stale_nan(st.sum) {
            return st.t;
        }
        h.counter_reset_hint = self.header.hint_for(self.read);
        h.schema = st.layout.schema;
        h.zero_threshold = st.layout.zero_threshold;
        h.zero_count = st.z_cnt;
        h.count = st.cnt;
        h.positive_spans
            .extend_from_slice(&st.layout.positive_spans);
        h.negative_spans
            .extend_from_slice(&st.layout.negative_spans);
        h.positive_buckets.extend_from_slice(&st.p_buckets);
        h.negative_buckets.extend_from_slice(&st.n_buckets);
        h.custom_values.extend_from_slice(&st.layout.custom_values);
        st.t
    }

    /// Copies the current histogram, converted to float counts, into `fh`.
    pub fn at_float_histogram(&self, fh: &mut FloatHistogram) -> i64 {
        fh.clear();
        let st = &self.st;
        fh.sum = st.sum;
        if is_stale_nan(st.sum) {
            return st.t;
        }
        fh.counter_reset_hint = self.header.hint_for(self.read);
        fh.schema = st.layout.schema;
        fh.zero_threshold = st.layout.zero_threshold;
        fh.zero_count = st.z_cnt as f64;
        fh.count = st.cnt as f64;
        fh.positive_spans
            .extend_from_slice(&st.layout.positive_spans);
        fh.negative_spans
            .extend_from_slice(&st.layout.negative_spans);
        let mut acc = 0i64;
        fh.positive_buckets.extend(st.p_buckets.iter().map(|&d| {
            acc = acc.wrapping_add(d);
            acc as f64
        }));
        acc = 0;
        fh.negative_buckets.extend(st.n_buckets.iter().map(|&d| {
            acc = acc.wrapping_add(d);
            acc as f64
        }));
        fh.custom_values.extend_from_slice(&st.layout.custom_values);
        st.t
    }

    /// Advances to the first sample with timestamp `>= t`.
    pub fn seek(&mut self, t: i64) -> ValueType {
        if self.err.is_some() {
            return ValueType::None;
        }
        while self.read == 0 || t > self.st.t {
            if self.next() == ValueType::None {
                return ValueType::None;
            }
        }
        ValueType::Histogram
    }

    /// Advances to the next sample.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> ValueType {
        if self.err.is_some() || self.read == self.total {
            return ValueType::None;
        }
        let res = if self.read == 0 {
            self.read_first()
        } else {
            self.read_next()
        };
        match res {
            Ok(()) => {
                self.read += 1;
                ValueType::Histogram
            }
            Err(e) => {
                self.err = Some(e);
                ValueType::None
            }
        }
    }

    fn read_first(&mut self) -> Result<(), Error> {
        let r = &mut self.r;
        let st = &mut self.st;
        st.layout = read_layout(r)?;
        let np = count_spans(&st.layout.positive_spans);
        let nn = count_spans(&st.layout.negative_spans);
        // Every bucket takes at least one bit per sample.
        if np.saturating_add(nn) > r.bits_left() {
            return Err(Error::Corrupt("more buckets than data"));
        }
        st.t = read_varbit_int(r)?;
        st.cnt = read_varbit_uint(r)?;
        st.z_cnt = read_varbit_uint(r)?;
        st.sum = f64::from_bits(r.read_bits(64)?);
        st.p_buckets = (0..np)
            .map(|_| read_varbit_int(r))
            .collect::<Result<_, _>>()?;
        st.n_buckets = (0..nn)
            .map(|_| read_varbit_int(r))
            .collect::<Result<_, _>>()?;
        st.p_deltas = vec![0; np];
        st.n_deltas = vec![0; nn];
        Ok(())
    }

    fn read_next(&mut self) -> Result<(), Error> {
        let r = &mut self.r;
        let st = &mut self.st;
        st.t_delta = st.t_delta.wrapping_add(read_varbit_int(r)?);
        st.t = st.t.wrapping_add(st.t_delta);
        st.cnt_delta = st.cnt_delta.wrapping_add(read_varbit_int(r)?);
        st.cnt = (st.cnt as i64).wrapping_add(st.cnt_delta) as u64;
        st.z_cnt_delta = st.z_cnt_delta.wrapping_add(read_varbit_int(r)?);
        st.z_cnt = (st.z_cnt as i64).wrapping_add(st.z_cnt_delta) as u64;
        xor_read(r, &mut st.sum, &mut st.leading, &mut st.trailing)?;
        if is_stale_nan(st.sum) {
            return Ok(());
        }
        for (b, d) in st
            .p_buckets
            .iter_mut()
            .zip(st.p_deltas.iter_mut())
            .chain(st.n_buckets.iter_mut().zip(st.n_deltas.iter_mut()))
        {
            *d = d.wrapping_add(read_varbit_int(r)?);
            *b = b.wrapping_add(*d);
        }
        Ok(())
    }
}
