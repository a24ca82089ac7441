//! A flag raised once that wakes the relay's task: how the two directions
//! of a WebSocket learn that they must stop, or that wsdiag shuts down.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;

/// A flag raised once, that wakes the task waiting for it.
///
/// Both directions check their signals between frames and poll them each
/// time the relay's task wakes, for every message. That costs an atomic
/// load here; a `CancellationToken` takes a mutex for each check and each
/// poll of its `cancelled()`, and wsdiag's shutdown token is one for every
/// connection (docs/performance.md, "The relay's signals").
///
/// One task waits for a signal: the relay's, in which both directions and
/// the watchdog run ([`super::relay`]). A second task waiting would take
/// the first one's place.
#[derive(Debug, Default)]
pub(super) struct Signal {
    raised: AtomicBool,
    waker: AtomicWaker,
}

impl Signal {
    /// Raises the flag and wakes the waiting task (if any). Raising it
    /// again does nothing more.
    pub(super) fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Whether the flag was raised.
    pub(super) fn is_raised(&self) -> bool {
        self.raised.load(Ordering::Acquire)
    }

    /// Resolves once the flag is raised.
    pub(super) fn raised(&self) -> Raised<'_> {
        Raised(self)
    }
}

/// The future of [`Signal::raised`].
#[derive(Debug)]
pub(super) struct Raised<'a>(&'a Signal);

impl Future for Raised<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let signal = self.0;
        if signal.is_raised() {
            return Poll::Ready(());
        }
        signal.waker.register(cx.waker());
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
    async fn a_raise_wakes_the_waiting_task_and_later_waits_end_at_once() {
        let signal = std::sync::Arc::new(Signal::default());
        let waiting = tokio::spawn({
            let signal = signal.clone();
            async move { signal.raised().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "nothing raised yet");
        assert!(!signal.is_raised());
        signal.raise();
        tokio::time::timeout(std::time::Duration::from_secs(10), waiting)
            .await
            .expect("the raise did not wake the task")
            .unwrap();
        assert!(signal.is_raised());
        signal.raised().await;
    }
}
