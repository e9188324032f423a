//! The float-histogram chunk, byte-compatible with Prometheus's
//! `EncFloatHistogram` (`float_histogram.go`).
//!
//! Same header and layout as the integer histogram chunk; per sample the
//! timestamp is a varbit delta-of-delta and every float field (count, zero
//! count, sum, each bucket's absolute count) is a Gorilla XOR against its own
//! previous value with its own leading/trailing window.

use std::borrow::Cow;

use model::histogram::{CounterResetHint, FloatHistogram, Span};
use model::is_stale_nan;

use super::bstream::{BitReader, BitWriter};
use super::histogram::{Appendability, check_shape};
use super::histogram_meta::{
    CUSTOM_BUCKETS_SCHEMA, CounterResetHeader, HEADER_SIZE, Insert, Layout, adjust_for_inserts,
    count_spans, expand_spans_and_buckets, expand_spans_both_ways, get_header, insert_buckets,
    read_layout, set_header, write_layout,
};
use super::varbit::{put_varbit_int, read_varbit_int};
use super::xor::{num_samples, xor_read, xor_write};
use super::{Error, HistogramAppend, ValueType};

/// A float with its own XOR window.
#[derive(Clone, Copy, Debug, PartialEq)]
struct XorValue {
    value: f64,
    leading: u8,
    trailing: u8,
}

impl XorValue {
    fn new(value: f64) -> XorValue {
        XorValue {
            value,
            leading: 0xff,
            trailing: 0,
        }
    }

    fn write(&mut self, w: &mut BitWriter, v: f64) {
        xor_write(w, v, self.value, &mut self.leading, &mut self.trailing);
        self.value = v;
    }

    fn read(&mut self, r: &mut BitReader<'_>) -> Result<(), Error> {
        xor_read(r, &mut self.value, &mut self.leading, &mut self.trailing)
    }
}

#[derive(Clone, Debug, PartialEq)]
struct State {
    layout: Layout,
    t: i64,
    t_delta: i64,
    cnt: XorValue,
    z_cnt: XorValue,
    sum: XorValue,
    p: Vec<XorValue>,
    n: Vec<XorValue>,
}

impl Default for State {
    fn default() -> Self {
        State {
            layout: Layout::default(),
            t: i64::MIN,
            t_delta: 0,
            cnt: XorValue::new(0.0),
            z_cnt: XorValue::new(0.0),
            sum: XorValue::new(0.0),
            p: Vec::new(),
            n: Vec::new(),
        }
    }
}

/// A float-histogram chunk under construction (or reopened).
#[derive(Clone, Debug)]
pub struct FloatHistogramChunk {
    w: BitWriter,
    st: State,
}

impl Default for FloatHistogramChunk {
    fn default() -> Self {
        FloatHistogramChunk::new()
    }
}

impl FloatHistogramChunk {
    /// An empty chunk.
    pub fn new() -> FloatHistogramChunk {
        let mut bytes = Vec::with_capacity(128);
        bytes.extend_from_slice(&[0; HEADER_SIZE]);
        FloatHistogramChunk {
            w: BitWriter::from_parts(bytes, 0),
            st: State::default(),
        }
    }

    /// Reopens encoded bytes for appending, rebuilding the encoder state by
    /// decoding every sample. Bytes past the bit stream are dropped.
    pub fn from_bytes(mut bytes: Vec<u8>) -> Result<FloatHistogramChunk, Error> {
        let mut it = FloatHistogramIterator::new(&bytes)?;
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
        Ok(FloatHistogramChunk {
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
    pub fn iter(&self) -> FloatHistogramIterator<'_> {
        FloatHistogramIterator::from_valid(self.bytes())
    }

    /// Appends a float histogram as Prometheus's head does
    /// (`AppendFloatHistogram`); see [`super::HistogramChunk::append`].
    pub fn append(
        &mut self,
        prev: Option<&FloatHistogramChunk>,
        t: i64,
        h: &FloatHistogram,
    ) -> Result<HistogramAppend<FloatHistogramChunk>, Error> {
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
                (_, Some(p)) => match p.appendable(h).header {
                    CounterResetHeader::CounterReset => CounterResetHeader::CounterReset,
                    _ => CounterResetHeader::NotCounterReset,
                },
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
        if !ap.ok || (!gauge && ap.header == CounterResetHeader::CounterReset) {
            let mut c = FloatHistogramChunk::new();
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
                hm.positive_buckets = insert_buckets(&hm.positive_buckets, &ap.bwd_p, false);
            }
            if !ap.bwd_n.is_empty() {
                hm.negative_buckets = insert_buckets(&hm.negative_buckets, &ap.bwd_n, false);
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

    /// Prometheus's `appendable` for float counter histograms; a counter
    /// reset shows as header `CounterReset`, any other refusal as `Unknown`.
    fn appendable(&self, h: &FloatHistogram) -> Appendability {
        let mut ap = Appendability::default();
        let st = &self.st;
        if self.num_samples() > 0 && self.counter_reset_header() == CounterResetHeader::Gauge {
            return ap;
        }
        let reset = Appendability {
            header: CounterResetHeader::CounterReset,
            ..Default::default()
        };
        if h.counter_reset_hint == CounterResetHint::CounterReset {
            return reset;
        }
        if is_stale_nan(h.sum) {
            ap.ok = true;
            return ap;
        }
        if is_stale_nan(st.sum.value) {
            return ap;
        }
        if h.count < st.cnt.value {
            return reset;
        }
        if h.schema != st.layout.schema || h.zero_threshold != st.layout.zero_threshold {
            return ap;
        }
        if h.schema == CUSTOM_BUCKETS_SCHEMA && h.custom_values != st.layout.custom_values {
            return reset;
        }
        if h.zero_count < st.z_cnt.value {
            return reset;
        }
        let vals = |v: &[XorValue]| v.iter().map(|x| x.value).collect::<Vec<_>>();
        let Some((fp, bp)) = expand_spans_and_buckets(
            &st.layout.positive_spans,
            &h.positive_spans,
            vals(&st.p),
            h.positive_buckets.iter().copied(),
        ) else {
            return reset;
        };
        let Some((fnn, bn)) = expand_spans_and_buckets(
            &st.layout.negative_spans,
            &h.negative_spans,
            vals(&st.n),
            h.negative_buckets.iter().copied(),
        ) else {
            return reset;
        };
        (ap.fwd_p, ap.bwd_p, ap.fwd_n, ap.bwd_n) = (fp, bp, fnn, bn);
        ap.ok = true;
        ap
    }

    #[allow(clippy::type_complexity)]
    fn appendable_gauge(
        &self,
        h: &FloatHistogram,
    ) -> (Appendability, Option<(Vec<Span>, Vec<Span>)>) {
        let mut ap = Appendability::default();
        let st = &self.st;
        if self.num_samples() > 0 && self.counter_reset_header() != CounterResetHeader::Gauge {
            return (ap, None);
        }
        if is_stale_nan(h.sum) {
            ap.ok = true;
            return (ap, None);
        }
        if is_stale_nan(st.sum.value)
            || h.schema != st.layout.schema
            || h.zero_threshold != st.layout.zero_threshold
            || (h.schema == CUSTOM_BUCKETS_SCHEMA && h.custom_values != st.layout.custom_values)
        {
            return (ap, None);
        }
        let (fp, bp, mp) = expand_spans_both_ways(&st.layout.positive_spans, &h.positive_spans);
        let (fnn, bn, mn) = expand_spans_both_ways(&st.layout.negative_spans, &h.negative_spans);
        (ap.fwd_p, ap.bwd_p, ap.fwd_n, ap.bwd_n) = (fp, bp, fnn, bn);
        ap.ok = true;
        (ap, Some((mp, mn)))
    }

    fn recode(
        &self,
        fwd_p: &[Insert],
        fwd_n: &[Insert],
        p_spans: &[Span],
        n_spans: &[Span],
    ) -> Result<FloatHistogramChunk, Error> {
        let mut c = FloatHistogramChunk::new();
        let mut it = self.iter();
        let mut old = FloatHistogram::default();
        let mut n = 0;
        while it.next() != ValueType::None {
            let t = it.at_float_histogram(&mut old);
            old.positive_spans = p_spans.to_vec();
            old.negative_spans = n_spans.to_vec();
            if !fwd_p.is_empty() {
                old.positive_buckets = insert_buckets(&old.positive_buckets, fwd_p, false);
            }
            if !fwd_n.is_empty() {
                old.negative_buckets = insert_buckets(&old.negative_buckets, fwd_n, false);
            }
            n = c.append_raw(n, t, &old);
        }
        if let Some(e) = it.err() {
            return Err(e.clone());
        }
        c.set_counter_reset_header(self.counter_reset_header());
        Ok(c)
    }

    fn append_raw(&mut self, num: usize, t: i64, h: &FloatHistogram) -> usize {
        let stale;
        let h = if is_stale_nan(h.sum) {
            stale = FloatHistogram {
                sum: h.sum,
                ..Default::default()
            };
            &stale
        } else {
            h
        };
        let st = &mut self.st;
        let w = &mut self.w;
        let mut t_delta = 0;
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
            st.p = h
                .positive_buckets
                .iter()
                .map(|&v| XorValue::new(v))
                .collect();
            st.n = h
                .negative_buckets
                .iter()
                .map(|&v| XorValue::new(v))
                .collect();
            st.cnt = XorValue::new(h.count);
            st.z_cnt = XorValue::new(h.zero_count);
            st.sum = XorValue::new(h.sum);
            put_varbit_int(w, t);
            for v in [h.count, h.zero_count, h.sum]
                .iter()
                .chain(&h.positive_buckets)
                .chain(&h.negative_buckets)
            {
                w.write_bits(v.to_bits(), 64);
            }
        } else {
            t_delta = t.wrapping_sub(st.t);
            put_varbit_int(w, t_delta.wrapping_sub(st.t_delta));
            st.cnt.write(w, h.count);
            st.z_cnt.write(w, h.zero_count);
            st.sum.write(w, h.sum);
            for (x, &v) in st.p.iter_mut().zip(&h.positive_buckets) {
                x.write(w, v);
            }
            for (x, &v) in st.n.iter_mut().zip(&h.negative_buckets) {
                x.write(w, v);
            }
        }
        st.t = t;
        st.t_delta = t_delta;
        self.w.bytes_mut()[..2].copy_from_slice(&((num + 1) as u16).to_be_bytes());
        num + 1
    }
}

/// Iterates the samples of a float-histogram chunk; bounded on corrupt input.
#[derive(Clone, Debug)]
pub struct FloatHistogramIterator<'a> {
    r: BitReader<'a>,
    total: u16,
    read: u16,
    header: CounterResetHeader,
    st: State,
    err: Option<Error>,
}

impl<'a> FloatHistogramIterator<'a> {
    /// An iterator over encoded chunk bytes (header included).
    pub fn new(bytes: &'a [u8]) -> Result<FloatHistogramIterator<'a>, Error> {
        if bytes.len() < HEADER_SIZE {
            return Err(Error::TooShort {
                len: bytes.len(),
                need: HEADER_SIZE,
            });
        }
        Ok(FloatHistogramIterator::from_valid(bytes))
    }

    fn from_valid(bytes: &'a [u8]) -> FloatHistogramIterator<'a> {
        FloatHistogramIterator {
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

    /// Copies the current histogram into `fh` (reusing its allocations) and
    /// returns its timestamp. A stale marker comes back with only the sum set.
    pub fn at_float_histogram(&self, fh: &mut FloatHistogram) -> i64 {
        fh.clear();
        let st = &self.st;
        fh.sum = st.sum.value;
        if is_stale_nan(st.sum.value) {
            return st.t;
        }
        fh.counter_reset_hint = self.header.hint_for(self.read);
        fh.schema = st.layout.schema;
        fh.zero_threshold = st.layout.zero_threshold;
        fh.zero_count = st.z_cnt.value;
        fh.count = st.cnt.value;
        fh.positive_spans
            .extend_from_slice(&st.layout.positive_spans);
        fh.negative_spans
            .extend_from_slice(&st.layout.negative_spans);
        fh.positive_buckets.extend(st.p.iter().map(|x| x.value));
        fh.negative_buckets.extend(st.n.iter().map(|x| x.value));
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
        ValueType::FloatHistogram
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
                ValueType::FloatHistogram
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
        // Every bucket takes 64 bits in the first sample.
        if np.saturating_add(nn) > r.bits_left() / 64 {
            return Err(Error::Corrupt("more buckets than data"));
        }
        st.t = read_varbit_int(r)?;
        st.cnt = XorValue::new(f64::from_bits(r.read_bits(64)?));
        st.z_cnt = XorValue::new(f64::from_bits(r.read_bits(64)?));
        st.sum = XorValue::new(f64::from_bits(r.read_bits(64)?));
        st.p = (0..np)
            .map(|_| Ok(XorValue::new(f64::from_bits(r.read_bits(64)?))))
            .collect::<Result<_, Error>>()?;
        st.n = (0..nn)
            .map(|_| Ok(XorValue::new(f64::from_bits(r.read_bits(64)?))))
            .collect::<Result<_, Error>>()?;
        Ok(())
    }

    fn read_next(&mut self) -> Result<(), Error> {
        let r = &mut self.r;
        let st = &mut self.st;
        st.t_delta = st.t_delta.wrapping_add(read_varbit_int(r)?);
        st.t = st.t.wrapping_add(st.t_delta);
        st.cnt.read(r)?;
        st.z_cnt.read(r)?;
        st.sum.read(r)?;
        if is_stale_nan(st.sum.value) {
            return Ok(());
        }
        for x in st.p.iter_mut().chain(st.n.iter_mut()) {
            x.read(r)?;
        }
        Ok(())
    }
}
