//! Giving freed heap memory back to the kernel.
//!
//! glibc's malloc gives each busy thread an arena of its own and returns
//! memory to the kernel only from the top of an arena. Memory freed below a
//! live allocation stays resident until malloc reuses it. A server's first
//! scrapes leave a lot of it: while a million series are created, the
//! scrape threads hold every new series' labels and the scrape bodies,
//! then free them, and the long-lived series data allocated meanwhile pins
//! the arenas' tops. Measured with `malloc_stats()` after 100 s of the
//! benchmark fleet (1M series): two arenas of ~52 MB each held ~3 MB of
//! live data, and `malloc_trim(0)` took the process from 473 MB to 388 MB
//! resident.
//!
//! So the server calls `malloc_trim(0)` once a minute: it releases every
//! whole free page inside every arena (`madvise(MADV_DONTNEED)`), not just
//! arena tops. Pages malloc later reuses fault back in. Go's runtime, under
//! Prometheus, does the same with its background scavenger.

use std::time::{Duration, Instant};

/// Time between trims.
pub(crate) const TRIM_INTERVAL: Duration = Duration::from_secs(60);

/// Returns whole free pages of every malloc arena to the kernel; the
/// resident bytes given back (from `/proc/self/statm`, so other threads'
/// allocations meanwhile count against it; 0 when it grew).
pub(crate) fn trim() -> u64 {
    let before = super::process::resident_bytes();
    let started = Instant::now();
    release_free_pages();
    let after = super::process::resident_bytes();
    let released = before.saturating_sub(after);
    tracing::debug!(
        released_bytes = released,
        took_ms = started.elapsed().as_millis() as u64,
        "returned free heap pages to the kernel"
    );
    released
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn release_free_pages() {
    // SAFETY: `malloc_trim` takes no pointers and only locks and walks
    // malloc's own arenas; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other C libraries (musl) have no arenas to trim.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_pages() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn trimming_gives_back_pages_freed_below_live_data() {
        // Many small blocks freed below a live one at the top: malloc cannot
        // shrink the heap from its top, only trimming releases them.
        let mut blocks: Vec<Vec<u8>> = (0..64 * 1024).map(|i| vec![i as u8; 1000]).collect();
        let keep = vec![1u8; 1000];
        for b in &mut blocks {
            b.fill(7);
        }
        let resident = super::super::process::resident_bytes();
        drop(blocks);
        assert!(resident > 64 << 20, "{resident}");
        let released = trim();
        assert!(
            released >= 32 << 20,
            "released {released} of the ~64 MB freed"
        );
        assert_eq!(keep[999], 1);
    }
}
