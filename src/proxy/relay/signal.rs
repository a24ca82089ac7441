//! A flag raised once that wakes the relay's task: how the two directions
//! of a WebSocket learn that they must stop, or that wsdiag shuts down.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;

use crate::event::Side;

/// Who waits for a signal: the direction that reads a side, or the
/// relay's watchdog. Each has a waker of its own (the directions are
/// joined so that a wake-up polls only the one it was for), so each has a
/// slot of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Waiter {
    /// The direction reading this side.
    Reading(Side),
    /// The relay's watchdog.
    Watchdog,
}

impl Waiter {
    fn slot(self) -> usize {
        match self {
            Waiter::Reading(Side::Client) => 0,
            Waiter::Reading(_) => 1,
            Waiter::Watchdog => 2,
        }
    }
}

/// A flag raised once, that wakes whoever waits for it.
///
/// Both directions check their signals between frames and poll them each
/// time they wake, for every message. That costs an atomic load here; a
/// `CancellationToken` takes a mutex for each check and each poll of its
/// `cancelled()`, and wsdiag's shutdown token is one for every connection
/// (docs/performance.md, "The relay's signals").
///
/// Each [`Waiter`] waits from one place at a time (a direction waits in its
/// read or in its write, never both at once).
#[derive(Debug, Default)]
pub(super) struct Signal {
    raised: AtomicBool,
    wakers: [AtomicWaker; 3],
}

impl Signal {
    /// Raises the flag and wakes every waiter. Raising it again does
    /// nothing more.
    pub(super) fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        for waker in &self.wakers {
            waker.wake();
        }
    }

    /// Whether the flag was raised.
    pub(super) fn is_raised(&self) -> bool {
        self.raised.load(Ordering::Acquire)
    }

    /// Resolves once the flag is raised; `waiter` says who waits.
    pub(super) fn raised(&self, waiter: Waiter) -> Raised<'_> {
        Raised {
            signal: self,
            slot: waiter.slot(),
        }
    }
}

/// The future of [`Signal::raised`].
#[derive(Debug)]
pub(super) struct Raised<'a> {
    signal: &'a Signal,
    slot: usize,
}

impl Future for Raised<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let signal = self.signal;
        if signal.is_raised() {
            return Poll::Ready(());
        }
        signal.wakers[self.slot].register(cx.waker());
        // Raised between the check and the registration: its wake may
        // have found no waker to wake.
        if signal.is_raised() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_raise_wakes_every_waiter_and_later_waits_end_at_once() {
        let signal = std::sync::Arc::new(Signal::default());
        let waiters = [
            Waiter::Reading(Side::Client),
            Waiter::Reading(Side::Upstream),
            Waiter::Watchdog,
        ];
        let waiting: Vec<_> = waiters
            .into_iter()
            .map(|waiter| {
                let signal = signal.clone();
                tokio::spawn(async move { signal.raised(waiter).await })
            })
            .collect();
        tokio::task::yield_now().await;
        assert!(
            waiting.iter().all(|w| !w.is_finished()),
            "nothing raised yet"
        );
        assert!(!signal.is_raised());
        signal.raise();
        for task in waiting {
            tokio::time::timeout(std::time::Duration::from_secs(10), task)
                .await
                .expect("the raise did not wake a waiter")
                .unwrap();
        }
        assert!(signal.is_raised());
        signal.raised(Waiter::Watchdog).await;
    }
}
