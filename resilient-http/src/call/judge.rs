//! How a call's loop ([`Run`](super::Run), or [`CallSite`](super::CallSite)'s) judges an
//! attempt's result, chosen by the method that made it.

use crate::{Classification, Classify};

/// How a call's loop judges its attempts' results: [`OkIsSuccess`] for
/// [`Call::run`](super::Call::run) and [`CallSite::run`](super::CallSite::run), [`ClassifyOk`]
/// for their `run_classified`. A type rather than a value, so that
/// `run`'s success path has no classification in it at all. Sealed: not implemented outside
/// this crate.
pub trait Judge<T, E>: sealed::Sealed {
    /// Whether `result` is a success, asked on the success path.
    fn succeeded(result: &Result<T, E>) -> bool;

    /// How `result` is classified, off the success path.
    fn classify(result: &Result<T, E>) -> Classification;

    /// What a quiet success keeps of its result until it is returned: for [`OkIsSuccess`], the
    /// `Ok` value alone, so that nothing holds the whole result while the success is recorded
    /// (which could unwind), and the result needs no address and can stay out of memory.
    #[doc(hidden)]
    type Quiet;

    /// The success path: `Ok` with what to return if `result` is a success and `quiet` (see
    /// [`Attempts::is_quiet_success`](super::Attempts::is_quiet_success)), else `Err` with the
    /// result, to be judged.
    #[doc(hidden)]
    fn split(
        result: Result<T, E>,
        quiet: impl FnOnce() -> bool,
    ) -> Result<Self::Quiet, Result<T, E>>;

    /// The result of a quiet success, to return.
    #[doc(hidden)]
    fn join(quiet: Self::Quiet) -> Result<T, E>;
}

/// Every `Ok` is a success; an error is judged by its [`Classify`] implementation.
#[derive(Debug, Clone, Copy)]
pub struct OkIsSuccess;

/// The `Ok` value is classified too, so that `Ok(response)` with a 503 is a failure.
#[derive(Debug, Clone, Copy)]
pub struct ClassifyOk;

impl<T, E: Classify> Judge<T, E> for OkIsSuccess {
    #[inline(always)]
    fn succeeded(result: &Result<T, E>) -> bool {
        result.is_ok()
    }

    #[inline]
    fn classify(result: &Result<T, E>) -> Classification {
        super::classify_error(result)
    }

    type Quiet = T;

    #[inline(always)]
    fn split(result: Result<T, E>, quiet: impl FnOnce() -> bool) -> Result<T, Result<T, E>> {
        match result {
            Ok(value) if quiet() => Ok(value),
            result => Err(result),
        }
    }

    #[inline(always)]
    fn join(value: T) -> Result<T, E> {
        Ok(value)
    }
}

impl<T: Classify, E: Classify> Judge<T, E> for ClassifyOk {
    #[inline(always)]
    fn succeeded(result: &Result<T, E>) -> bool {
        result.classify() == Classification::Success
    }

    #[inline]
    fn classify(result: &Result<T, E>) -> Classification {
        result.classify()
    }

    type Quiet = Result<T, E>;

    #[inline(always)]
    fn split(
        result: Result<T, E>,
        quiet: impl FnOnce() -> bool,
    ) -> Result<Result<T, E>, Result<T, E>> {
        if Self::succeeded(&result) && quiet() {
            Ok(result)
        } else {
            Err(result)
        }
    }

    #[inline(always)]
    fn join(result: Result<T, E>) -> Result<T, E> {
        result
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::OkIsSuccess {}
    impl Sealed for super::ClassifyOk {}
}
