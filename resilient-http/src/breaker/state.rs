//! The breaker's state packed into one `u64`, so that reading it, admitting a half-open probe
//! and counting a probe's success are each a single atomic operation.
//!
//! | bits | field |
//! |---|---|
//! | 0..8 | state |
//! | 8..24 | probes admitted (half-open) |
//! | 24..40 | probes succeeded (half-open) |
//! | 40..64 | epoch: bumped by every transition, so a permit from an earlier state cannot act on a later one |

/// The state of a circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Calls flow; failures are counted.
    Closed,
    /// Calls are rejected until the open duration has passed.
    Open,
    /// A limited number of probe calls is admitted; their results decide.
    HalfOpen,
    /// Opened by hand: every call is rejected until it is reset.
    ForcedOpen,
    /// Switched off by hand: every call is admitted and nothing is counted.
    Disabled,
}

impl BreakerState {
    const ALL: [BreakerState; 5] = [
        BreakerState::Closed,
        BreakerState::Open,
        BreakerState::HalfOpen,
        BreakerState::ForcedOpen,
        BreakerState::Disabled,
    ];

    /// A short, stable name: `closed`, `open`, `half_open`, `forced_open`, `disabled`.
    pub fn label(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
            BreakerState::ForcedOpen => "forced_open",
            BreakerState::Disabled => "disabled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word(pub(crate) u64);

const FIELD: u64 = 0xffff;
/// The bits of the state.
const STATE: u64 = 0xff;

impl Word {
    pub(crate) fn new(epoch: u32, state: BreakerState) -> Self {
        Word((u64::from(epoch) & 0xff_ffff) << 40 | state as u64)
    }

    pub(crate) fn state(self) -> BreakerState {
        BreakerState::ALL[(self.0 & STATE) as usize]
    }

    /// Whether the state is `state`, on the bits rather than through [`state`](Word::state)'s
    /// table and its bounds check: what the success path and a dropped permit ask.
    #[inline]
    pub(crate) fn is(self, state: BreakerState) -> bool {
        self.0 & STATE == state as u64
    }

    /// Whether the state admits every call (closed or disabled): the success path's check.
    #[inline]
    pub(crate) fn admits_all(self) -> bool {
        self.is(BreakerState::Closed) || self.is(BreakerState::Disabled)
    }

    pub(crate) fn epoch(self) -> u32 {
        (self.0 >> 40) as u32
    }

    pub(crate) fn admitted(self) -> u32 {
        ((self.0 >> 8) & FIELD) as u32
    }

    pub(crate) fn succeeded(self) -> u32 {
        ((self.0 >> 24) & FIELD) as u32
    }

    /// The next state, in a new epoch, with zeroed probe counters.
    pub(crate) fn next(self, state: BreakerState) -> Self {
        Word::new(self.epoch().wrapping_add(1), state)
    }

    pub(crate) fn with_admitted(self, n: u32) -> Self {
        Word(self.0 & !(FIELD << 8) | u64::from(n) << 8)
    }

    pub(crate) fn with_succeeded(self, n: u32) -> Self {
        Word(self.0 & !(FIELD << 24) | u64::from(n) << 24)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let word = Word::new(0xff_ffff, BreakerState::HalfOpen)
            .with_admitted(1_000)
            .with_succeeded(999);
        assert_eq!(word.state(), BreakerState::HalfOpen);
        assert_eq!(word.epoch(), 0xff_ffff);
        assert_eq!((word.admitted(), word.succeeded()), (1_000, 999));
        let next = word.next(BreakerState::Closed);
        assert_eq!(
            (next.epoch(), next.state(), next.admitted()),
            (0, BreakerState::Closed, 0)
        );
    }
}
