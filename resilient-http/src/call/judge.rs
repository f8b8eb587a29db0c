//! How a [`Run`](super::Run) judges an attempt's result, chosen by the method that made it.

use crate::{Classification, Classify};

/// How a [`Run`](super::Run) judges its attempts' results: [`OkIsSuccess`] for
/// [`Call::run`](super::Call::run), [`ClassifyOk`] for
/// [`Call::run_classified`](super::Call::run_classified). A type rather than a value, so that
/// `run`'s success path has no classification in it at all. Sealed: not implemented outside
/// this crate.
pub trait Judge<T, E>: sealed::Sealed {
    /// Whether `result` is a success, asked on the success path.
    fn succeeded(result: &Result<T, E>) -> bool;

    /// How `result` is classified, off the success path.
    fn classify(result: &Result<T, E>) -> Classification;
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
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::OkIsSuccess {}
    impl Sealed for super::ClassifyOk {}
}
