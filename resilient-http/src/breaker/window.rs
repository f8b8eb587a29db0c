//! Sliding windows of call outcomes for the rate rules, kept in atomics so recording a call
//! takes no lock.

use std::sync::atomic::Ordering::Relaxed;

use super::config::WindowConfig;
use crate::sync::{AtomicU8, AtomicU32, AtomicU64};

/// Totals of the calls in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) calls: u32,
    pub(crate) failures: u32,
    pub(crate) slow: u32,
}

#[derive(Debug)]
pub(crate) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    pub(crate) fn new(config: WindowConfig) -> Self {
        match config {
            WindowConfig::Count { size } => Window::Count(CountWindow::new(size)),
            WindowConfig::Time { seconds } => Window::Time(TimeWindow::new(seconds)),
        }
    }

    /// Whether recording needs the current second (so the caller reads the clock).
    pub(crate) fn needs_time(&self) -> bool {
        matches!(self, Window::Time(_))
    }

    /// Records one call at `second` (ignored by count windows) and returns the totals.
    pub(crate) fn record(&self, second: u64, failure: bool, slow: bool) -> Totals {
        match self {
            Window::Count(w) => w.record(failure, slow),
            Window::Time(w) => w.record(second, failure, slow),
        }
    }

    pub(crate) fn reset(&self) {
        match self {
            Window::Count(w) => w.reset(),
            Window::Time(w) => w.reset(),
        }
    }
}

const FILLED: u8 = 1;
const FAILED: u8 = 2;
const SLOW: u8 = 4;

fn flags(failure: bool, slow: bool) -> u8 {
    FILLED | if failure { FAILED } else { 0 } | if slow { SLOW } else { 0 }
}

/// The last `size` calls, as a ring of outcome flags. Each slot is swapped atomically and the
/// totals adjusted by the difference between the old and new flags, so the totals always equal
/// the sum of the slots once concurrent writers are done: no count is lost or doubled.
#[derive(Debug)]
pub(crate) struct CountWindow {
    slots: Box<[AtomicU8]>,
    next: AtomicU64,
    calls: AtomicU32,
    failures: AtomicU32,
    slow: AtomicU32,
}

impl CountWindow {
    fn new(size: u32) -> Self {
        CountWindow {
            slots: (0..size).map(|_| AtomicU8::new(0)).collect(),
            next: AtomicU64::new(0),
            calls: AtomicU32::new(0),
            failures: AtomicU32::new(0),
            slow: AtomicU32::new(0),
        }
    }

    fn record(&self, failure: bool, slow: bool) -> Totals {
        let index = self.next.fetch_add(1, Relaxed) % self.slots.len() as u64;
        let new = flags(failure, slow);
        let old = self.slots[index as usize].swap(new, Relaxed);
        let adjust = |counter: &AtomicU32, bit: u8| match (old & bit != 0, new & bit != 0) {
            (false, true) => counter.fetch_add(1, Relaxed).wrapping_add(1),
            (true, false) => counter.fetch_sub(1, Relaxed).wrapping_sub(1),
            _ => counter.load(Relaxed),
        };
        Totals {
            calls: adjust(&self.calls, FILLED),
            failures: adjust(&self.failures, FAILED),
            slow: adjust(&self.slow, SLOW),
        }
    }

    fn reset(&self) {
        for slot in self.slots.iter() {
            let old = slot.swap(0, Relaxed);
            for (counter, bit) in [
                (&self.calls, FILLED),
                (&self.failures, FAILED),
                (&self.slow, SLOW),
            ] {
                if old & bit != 0 {
                    counter.fetch_sub(1, Relaxed);
                }
            }
        }
    }
}

/// The calls of the last `seconds` seconds, one bucket per second, each stamped with the second
/// it holds. A writer that finds a stale stamp claims the bucket and clears it; a call that
/// races that hand-over (a few at most, at a second's boundary) can land in the wrong second or
/// be lost, which shifts a rate by at most those few calls.
#[derive(Debug)]
pub(crate) struct TimeWindow {
    buckets: Box<[Bucket]>,
}

#[derive(Debug, Default)]
struct Bucket {
    /// The second this bucket holds, plus one (zero: never used).
    stamp: AtomicU64,
    calls: AtomicU32,
    failures: AtomicU32,
    slow: AtomicU32,
}

impl TimeWindow {
    fn new(seconds: u32) -> Self {
        TimeWindow {
            buckets: (0..seconds).map(|_| Bucket::default()).collect(),
        }
    }

    fn record(&self, second: u64, failure: bool, slow: bool) -> Totals {
        let len = self.buckets.len() as u64;
        let stamp = second + 1;
        let bucket = &self.buckets[(second % len) as usize];
        let seen = bucket.stamp.load(Relaxed);
        if seen < stamp
            && bucket
                .stamp
                .compare_exchange(seen, stamp, Relaxed, Relaxed)
                .is_ok()
        {
            bucket.calls.store(0, Relaxed);
            bucket.failures.store(0, Relaxed);
            bucket.slow.store(0, Relaxed);
        }
        bucket.calls.fetch_add(1, Relaxed);
        if failure {
            bucket.failures.fetch_add(1, Relaxed);
        }
        if slow {
            bucket.slow.fetch_add(1, Relaxed);
        }
        let oldest = stamp.saturating_sub(len - 1);
        let live = self.buckets.iter().filter(|b| {
            let s = b.stamp.load(Relaxed);
            s >= oldest && s <= stamp
        });
        live.fold(
            Totals {
                calls: 0,
                failures: 0,
                slow: 0,
            },
            |t, b| Totals {
                calls: t.calls.saturating_add(b.calls.load(Relaxed)),
                failures: t.failures.saturating_add(b.failures.load(Relaxed)),
                slow: t.slow.saturating_add(b.slow.load(Relaxed)),
            },
        )
    }

    fn reset(&self) {
        for bucket in self.buckets.iter() {
            bucket.stamp.store(0, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_window_forgets_the_oldest_call() {
        let window = CountWindow::new(3);
        window.record(true, false);
        window.record(false, false);
        assert_eq!(
            window.record(false, true),
            Totals {
                calls: 3,
                failures: 1,
                slow: 1
            }
        );
        assert_eq!(
            window.record(false, false),
            Totals {
                calls: 3,
                failures: 0,
                slow: 1
            }
        );
        window.reset();
        assert_eq!(
            window.record(false, false),
            Totals {
                calls: 1,
                failures: 0,
                slow: 0
            }
        );
    }

    #[test]
    fn time_window_drops_seconds_that_slid_out() {
        let window = TimeWindow::new(2);
        window.record(10, true, false);
        assert_eq!(
            window.record(11, false, false),
            Totals {
                calls: 2,
                failures: 1,
                slow: 0
            }
        );
        assert_eq!(
            window.record(12, false, false),
            Totals {
                calls: 2,
                failures: 0,
                slow: 0
            }
        );
        assert_eq!(
            window.record(20, false, false),
            Totals {
                calls: 1,
                failures: 0,
                slow: 0
            }
        );
    }
}
