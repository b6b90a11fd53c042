//! New IMAP connections at a bounded rate, with jitter: ten thousand accounts starting at
//! once, or reconnecting after their server restarted, would otherwise knock on the server
//! in one wave — and a server at its process limit refuses a wave, which comes back as the
//! next wave a second later.
//!
//! Every account task takes a turn ([`Pacer::turn`]) before it connects. Turns are handed
//! out one per `1/rate` seconds, in the order asked, each at a random point inside its own
//! slot, so connections never come faster than the rate nor in step with each other. The
//! daemon's reconnection backoff decides *when* an account wants to try again; the pacer
//! only spreads those wishes out.
//!
//! Two things keep a slow server from being fed more than it can take (a queue of logins
//! that all time out, and are all tried again): at most [`IN_FLIGHT`] connections are being
//! set up at once, so a server that takes seconds per login gets logins at the pace it
//! answers them; and, like TCP's congestion control, a connection that fails halves the
//! rate while one that succeeds adds one a second back.

use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The default of `connect_rate`: connections per second for the whole daemon. 10,000
/// accounts are all connected in under two minutes; a few accounts see no delay at all.
pub const DEFAULT_RATE: u32 = 100;

/// The most connections being set up (TCP, TLS, greeting, login) at once.
pub const IN_FLIGHT: usize = 50;

/// Hands out connection turns.
pub struct Pacer {
    /// The configured rate: the most turns a second.
    most: f64,
    /// The turns, and the rate in force.
    slots: Mutex<Slots>,
    /// One permit per connection being set up.
    in_flight: Arc<Semaphore>,
}

/// A turn to connect; the connection counts as being set up until it is dropped.
pub struct Turn {
    _permit: OwnedSemaphorePermit,
}

struct Slots {
    /// Turns a second now: `most`, less after connections failed (see [`Pacer::failed`]).
    rate: f64,
    /// The start of the next free slot.
    next: Instant,
}

impl Pacer {
    /// At most `per_second` turns a second (at least one).
    pub fn new(per_second: u32) -> Pacer {
        let most = f64::from(per_second.max(1));
        Pacer {
            most,
            slots: Mutex::new(Slots {
                rate: most,
                next: Instant::now(),
            }),
            in_flight: Arc::new(Semaphore::new(IN_FLIGHT)),
        }
    }

    /// A connection could not be set up (no answer in time, refused, dropped): the server
    /// may be past what it can take, so the rate is halved (down to one a second). Like
    /// TCP's congestion control: a server that cannot keep up is not fed a queue that
    /// grows until every login times out.
    pub fn failed(&self) {
        let mut slots = self.slots.lock().expect("no panic while holding it");
        slots.rate = (slots.rate / 2.0).max(1.0);
    }

    /// A connection was set up: the rate grows back by one a second, up to the configured
    /// (doubling each second or so, as successes come at the rate).
    pub fn connected(&self) {
        let mut slots = self.slots.lock().expect("no panic while holding it");
        slots.rate = (slots.rate + 1.0).min(self.most);
    }

    /// Turns a second now.
    pub fn rate(&self) -> f64 {
        self.slots.lock().expect("no panic while holding it").rate
    }

    /// Waits for this caller's turn: fewer than [`IN_FLIGHT`] connections being set up,
    /// then the next free slot, at a random point inside it. `None`, at once, if
    /// `shutdown` comes first.
    pub async fn turn(&self, shutdown: &CancellationToken) -> Option<Turn> {
        let permit = tokio::select! {
            permit = Arc::clone(&self.in_flight).acquire_owned() => {
                permit.expect("the semaphore is never closed")
            }
            () = shutdown.cancelled() => return None,
        };
        let at = {
            let mut slots = self.slots.lock().expect("no panic while holding it");
            let slot = Duration::from_secs(1).div_f64(slots.rate);
            let start = slots.next.max(Instant::now());
            slots.next = start + slot;
            start + slot.mul_f64(jitter())
        };
        tokio::select! {
            () = tokio::time::sleep_until(at) => Some(Turn { _permit: permit }),
            () = shutdown.cancelled() => None,
        }
    }
}

/// A random fraction in [0, 1): the standard library's randomly keyed hasher, fresh keys
/// each call (no crate needed for jitter).
fn jitter() -> f64 {
    let bits = std::collections::hash_map::RandomState::new().hash_one(0u8);
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst of accounts (a start, or a reconnection storm after a server restart) gets
    /// its turns spread at the rate: never two in one slot, never before its slot.
    #[tokio::test(start_paused = true)]
    async fn a_burst_is_spread_at_the_rate_with_jitter() {
        let pacer = std::sync::Arc::new(Pacer::new(10));
        let shutdown = CancellationToken::new();
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let pacer = std::sync::Arc::clone(&pacer);
            let shutdown = shutdown.clone();
            tasks.push(tokio::spawn(async move {
                assert!(pacer.turn(&shutdown).await.is_some());
                Instant::now() - start
            }));
        }
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.expect("no panic"));
        }
        times.sort();
        for (i, at) in times.iter().enumerate() {
            let slot = Duration::from_millis(100 * i as u64);
            // tokio's timer rounds a deadline up to the next millisecond: a turn jittered
            // into the slot's last millisecond fires at its very end.
            assert!(
                *at >= slot && *at <= slot + Duration::from_millis(100),
                "turn {i} at {at:?}, its slot starts at {slot:?}"
            );
        }
        assert!(
            times
                .windows(2)
                .any(|w| w[1] - w[0] != Duration::from_millis(100)),
            "jittered, not in lockstep: {times:?}"
        );

        // Later, a second storm (every account reconnecting) is spread the same way, from
        // when it comes, not crammed into the slots that went unused meanwhile.
        tokio::time::advance(Duration::from_secs(60)).await;
        let storm = Instant::now();
        let first = pacer.turn(&shutdown).await;
        let second = pacer.turn(&shutdown).await;
        assert!(first.is_some() && second.is_some());
        assert!(Instant::now() - storm >= Duration::from_millis(100));
    }

    #[test]
    fn failures_halve_the_rate_and_successes_win_it_back_slowly() {
        let pacer = Pacer::new(100);
        pacer.failed();
        pacer.failed();
        assert_eq!(pacer.rate(), 25.0);
        for _ in 0..10 {
            pacer.connected();
        }
        assert_eq!(pacer.rate(), 35.0);
        for _ in 0..1000 {
            pacer.connected();
        }
        assert_eq!(pacer.rate(), 100.0, "never above the configured rate");
        for _ in 0..20 {
            pacer.failed();
        }
        assert_eq!(pacer.rate(), 1.0, "never below one a second");
    }

    /// A server slow to answer gets no more logins at once than IN_FLIGHT, whatever the
    /// rate: the next turn waits until a connection in progress ends.
    #[tokio::test(start_paused = true)]
    async fn no_more_than_in_flight_connections_are_set_up_at_once() {
        let pacer = Pacer::new(1_000_000);
        let shutdown = CancellationToken::new();
        let mut turns = Vec::new();
        for _ in 0..IN_FLIGHT {
            turns.push(pacer.turn(&shutdown).await.expect("a turn"));
        }
        let next = pacer.turn(&shutdown);
        tokio::pin!(next);
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(futures::FutureExt::now_or_never(&mut next).is_none());
        turns.pop();
        assert!(next.await.is_some(), "one ended, one more may start");
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_ends_the_wait_for_a_turn_at_once() {
        let pacer = Pacer::new(1);
        let shutdown = CancellationToken::new();
        assert!(pacer.turn(&shutdown).await.is_some());
        let waiting = pacer.turn(&shutdown);
        tokio::pin!(waiting);
        assert!(futures::FutureExt::now_or_never(&mut waiting).is_none());
        shutdown.cancel();
        let before = Instant::now();
        assert!(waiting.await.is_none(), "no turn after shutdown");
        assert_eq!(Instant::now(), before, "no time passed");
    }
}
