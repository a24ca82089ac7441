//! Keepalive: the proxy's own pings to a side that went silent, and the
//! verdict on one that does not answer them.

use std::time::Duration;

use super::state::Shared;
use crate::event::Side;

/// The payload of the proxy's own keepalive pings. The pongs that answer
/// them are held back from the other side (the proxy asked, not it) and
/// recorded as the proxy's own (`origin: proxy`).
pub(super) const KEEPALIVE: &[u8] = b"wsdiag keepalive";

/// What a keepalive check decided.
pub(super) enum Check {
    Nothing,
    Ping,
    Gone(Duration),
}

/// One direction's keepalive for its destination side: checked every half
/// idle timeout; a side silent for the idle timeout gets a ping, and a
/// side that has not answered it an idle timeout later is taken for gone.
pub(super) struct Keepalive {
    every: Duration,
    ticks: tokio::time::Interval,
    /// When the outstanding ping was sent, as [`Shared::now_us`].
    pinged_at: Option<u64>,
}

impl Keepalive {
    pub(super) fn new(every: Duration) -> Keepalive {
        let half = every / 2;
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + half, half);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Keepalive {
            every,
            ticks,
            pinged_at: None,
        }
    }

    pub(super) fn check(&mut self, shared: &Shared, side: Side) -> Check {
        // Its frames may be waiting behind a send the other way: that is
        // backpressure, not silence.
        if shared.reader_busy(side) {
            return Check::Nothing;
        }
        let now = shared.now_us();
        match self.pinged_at {
            Some(at) if shared.heard_us(side) < at => {
                let waited = Duration::from_micros(now.saturating_sub(at));
                if waited >= self.every {
                    Check::Gone(shared.silence(side))
                } else {
                    Check::Nothing
                }
            }
            _ if shared.silence(side) >= self.every => {
                self.pinged_at = Some(now);
                shared.keepalive_sent(side);
                Check::Ping
            }
            _ => {
                self.pinged_at = None;
                Check::Nothing
            }
        }
    }
}

/// The next keepalive check; never when keepalive is off.
pub(super) async fn tick(keepalive: &mut Option<Keepalive>) {
    match keepalive {
        Some(k) => {
            k.ticks.tick().await;
        }
        None => std::future::pending().await,
    }
}
