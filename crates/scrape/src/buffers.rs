//! Scrape body buffers shared by every loop of a [`crate::Manager`].
//!
//! A loop takes a buffer just before it fetches and gives it back once the
//! body has been parsed and appended, so between scrapes it holds none. Only
//! the scrapes in flight at one moment need a buffer (a handful, however
//! many targets there are), instead of one body-sized buffer per target:
//! with 500 targets of ~250 KB that is ~125 MB less resident memory.
//! Prometheus pools its scrape buffers for the same reason.
//!
//! A loop asks for the size of its previous body, so a buffer is sized once
//! and does not grow by doubling; the pool hands out the smallest free
//! buffer that is large enough.

use std::sync::Mutex;

use crate::scrape_loop::lock;

/// Free buffers kept at most; a returned buffer beyond that is dropped
/// (the smallest one goes).
pub(crate) const BUFFER_POOL_CAPACITY: usize = 16;

/// Buffers larger than this are not kept (an outlier body).
const MAX_POOLED_BUFFER: usize = 64 << 20;

/// The free list.
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    free: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// An empty buffer with room for at least `size_hint` bytes when a free
    /// one has it (otherwise the largest free one, or a new one).
    pub(crate) fn get(&self, size_hint: usize) -> Vec<u8> {
        let mut free = lock(&self.free);
        let fit = free
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= size_hint)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        let pick = fit.or_else(|| {
            free.iter()
                .enumerate()
                .max_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i)
        });
        match pick {
            Some(i) => {
                let mut b = free.swap_remove(i);
                drop(free);
                if b.capacity() < size_hint {
                    b.reserve_exact(size_hint);
                }
                b
            }
            None => {
                drop(free);
                Vec::with_capacity(size_hint)
            }
        }
    }

    /// Gives a buffer back (its contents are discarded).
    pub(crate) fn put(&self, mut buf: Vec<u8>) {
        if buf.capacity() == 0 || buf.capacity() > MAX_POOLED_BUFFER {
            return;
        }
        buf.clear();
        let mut free = lock(&self.free);
        if free.len() < BUFFER_POOL_CAPACITY {
            free.push(buf);
            return;
        }
        // Full: keep the larger buffers.
        if let Some((i, smallest)) = free
            .iter()
            .enumerate()
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, b)| (i, b.capacity()))
            && smallest < buf.capacity()
        {
            free[i] = buf;
        }
    }

    /// Number of free buffers (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.free).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_the_smallest_fitting_buffer() {
        let p = BufferPool::default();
        p.put(Vec::with_capacity(100));
        p.put(Vec::with_capacity(1000));
        p.put(Vec::with_capacity(10_000));
        let b = p.get(500);
        assert!(b.capacity() >= 1000 && b.capacity() < 10_000);
        assert!(b.is_empty());
        assert_eq!(p.len(), 2);
        // Nothing large enough: the largest, grown.
        let c = p.get(50_000);
        assert!(c.capacity() >= 50_000);
        assert_eq!(p.len(), 1);
        // Empty pool: a new buffer of the hinted size.
        let _ = p.get(10);
        let d = p.get(300);
        assert!(d.capacity() >= 300);
        assert_eq!(p.len(), 0);
    }

    #[test]
    fn bounded() {
        let p = BufferPool::default();
        for i in 0..BUFFER_POOL_CAPACITY + 5 {
            p.put(Vec::with_capacity(10 + i));
        }
        assert_eq!(p.len(), BUFFER_POOL_CAPACITY);
        // The smallest ones were dropped.
        let min = lock(&p.free).iter().map(Vec::capacity).min();
        assert_eq!(min, Some(15));
        p.put(Vec::with_capacity(MAX_POOLED_BUFFER + 1));
        assert_eq!(p.len(), BUFFER_POOL_CAPACITY);
    }
}
