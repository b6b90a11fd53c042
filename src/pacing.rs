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

use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The default of `connect_rate`: connections per second for the whole daemon. 10,000
/// accounts are all connected in under two minutes; a few accounts see no delay at all.
pub const DEFAULT_RATE: u32 = 100;

/// Hands out connection turns.
pub struct Pacer {
    /// One slot per connection.
    slot: Duration,
    /// The start of the next free slot.
    next: Mutex<Instant>,
}

impl Pacer {
    /// At most `per_second` turns a second (at least one).
    pub fn new(per_second: u32) -> Pacer {
        Pacer {
            slot: Duration::from_secs(1) / per_second.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this caller's turn: the next free slot, at a random point inside it.
    /// Returns false, at once, if `shutdown` comes first.
    pub async fn turn(&self, shutdown: &CancellationToken) -> bool {
        let at = {
            let mut next = self.next.lock().expect("no panic while holding it");
            let start = (*next).max(Instant::now());
            *next = start + self.slot;
            start + self.slot.mul_f64(jitter())
        };
        tokio::select! {
            () = tokio::time::sleep_until(at) => true,
            () = shutdown.cancelled() => false,
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
                assert!(pacer.turn(&shutdown).await);
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
        assert!(first && second);
        assert!(Instant::now() - storm >= Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_ends_the_wait_for_a_turn_at_once() {
        let pacer = Pacer::new(1);
        let shutdown = CancellationToken::new();
        assert!(pacer.turn(&shutdown).await);
        let waiting = pacer.turn(&shutdown);
        tokio::pin!(waiting);
        assert!(futures::FutureExt::now_or_never(&mut waiting).is_none());
        shutdown.cancel();
        let before = Instant::now();
        assert!(!waiting.await, "no turn after shutdown");
        assert_eq!(Instant::now(), before, "no time passed");
    }
}
