//! systemd integration: readiness, status and watchdog notifications (`Type=notify`).
//!
//! Messages go to `$NOTIFY_SOCKET` as datagrams (sd_notify(3)); without it (not under
//! systemd) every call is a no-op. The watchdog is pinged only while every account task is
//! healthy: waiting for mail or for a reconnect is healthy, an operation stuck for longer
//! than [`STUCK_AFTER`] is not, and then systemd restarts the service.

use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

/// An account operation (a pass, a connect) running longer than this counts as stuck.
pub const STUCK_AFTER: Duration = Duration::from_secs(300);

/// A connection to systemd's notification socket, if there is one.
pub struct Notifier {
    socket: Option<(UnixDatagram, String)>,
}

impl Notifier {
    /// Reads `$NOTIFY_SOCKET`; a missing or unusable socket gives a silent notifier.
    pub fn from_env() -> Notifier {
        let socket = std::env::var("NOTIFY_SOCKET").ok().and_then(|path| {
            let sock = UnixDatagram::unbound().ok()?;
            Some((sock, path))
        });
        Notifier { socket }
    }

    /// True when running under systemd with notifications.
    pub fn enabled(&self) -> bool {
        self.socket.is_some()
    }

    /// Sends `state` (e.g. `READY=1\nSTATUS=...`); errors are ignored, as sd_notify does.
    pub fn notify(&self, state: &str) {
        let Some((sock, path)) = &self.socket else {
            return;
        };
        if let Some(name) = path.strip_prefix('@') {
            use std::os::linux::net::SocketAddrExt;
            if let Ok(addr) = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()) {
                let _ = sock.send_to_addr(state.as_bytes(), &addr);
            }
        } else {
            let _ = sock.send_to(state.as_bytes(), path);
        }
    }

    /// Tells systemd the service is ready, with a status line.
    pub fn ready(&self, status: &str) {
        self.notify(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    /// Updates the status line shown by `systemctl status`.
    pub fn status(&self, status: &str) {
        self.notify(&format!("STATUS={}", one_line(status)));
    }

    /// Tells systemd the service is stopping.
    pub fn stopping(&self) {
        self.notify("STOPPING=1\nSTATUS=stopping: finishing the work in hand");
    }

    /// Tells systemd the config is being reloaded.
    pub fn reloading(&self) {
        self.notify("RELOADING=1");
    }

    /// Pings the watchdog.
    pub fn watchdog(&self) {
        self.notify("WATCHDOG=1");
    }
}

/// How often to ping: half of `$WATCHDOG_USEC`, if systemd set one for this process.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid != std::process::id().to_string()
    {
        return None;
    }
    Some(Duration::from_micros(usec / 2).max(Duration::from_secs(1)))
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// Per-account liveness, shared between the account tasks and the watchdog.
#[derive(Debug, Default)]
pub struct Health {
    busy_since: AtomicI64,
    tried: AtomicBool,
    connected: AtomicBool,
    last_pass: AtomicI64,
}

impl Health {
    /// A new health cell, idle.
    pub fn new() -> Arc<Health> {
        Arc::new(Health::default())
    }

    /// The task started an operation that should end soon (connect, a pass).
    pub fn busy(&self, now: i64) {
        self.busy_since.store(now, Ordering::Relaxed);
    }

    /// The task is waiting (IDLE, poll, reconnect backoff): healthy however long it lasts.
    pub fn waiting(&self) {
        self.busy_since.store(0, Ordering::Relaxed);
    }

    /// The first connection attempt ended, connected or not.
    pub fn tried(&self, connected: bool) {
        self.tried.store(true, Ordering::Relaxed);
        self.connected.store(connected, Ordering::Relaxed);
    }

    /// A pass completed at `now`.
    pub fn passed(&self, now: i64) {
        self.last_pass.store(now, Ordering::Relaxed);
        self.connected.store(true, Ordering::Relaxed);
    }

    /// True while an operation is running (not waiting for mail or for a retry).
    pub fn is_busy(&self) -> bool {
        self.busy_since.load(Ordering::Relaxed) != 0
    }

    /// (tried at least once, connected now, last pass time or 0).
    pub fn snapshot(&self) -> (bool, bool, i64) {
        (
            self.tried.load(Ordering::Relaxed),
            self.connected.load(Ordering::Relaxed),
            self.last_pass.load(Ordering::Relaxed),
        )
    }

    /// True unless an operation has been running longer than [`STUCK_AFTER`].
    pub fn is_healthy(&self, now: i64) -> bool {
        let since = self.busy_since.load(Ordering::Relaxed);
        since == 0 || now - since < STUCK_AFTER.as_secs() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_reach_the_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).expect("bind");
        let notifier = Notifier {
            socket: Some((
                UnixDatagram::unbound().expect("socket"),
                path.display().to_string(),
            )),
        };
        notifier.ready("2 accounts\nconnected");
        let mut buf = [0u8; 256];
        let n = server.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=2 accounts connected");
    }

    #[test]
    fn without_systemd_nothing_happens() {
        let notifier = Notifier { socket: None };
        assert!(!notifier.enabled());
        notifier.ready("x");
    }

    #[test]
    fn a_stuck_operation_is_unhealthy_a_long_wait_is_not() {
        let h = Health::default();
        assert!(h.is_healthy(1_000));
        h.busy(1_000);
        assert!(h.is_healthy(1_000 + 299));
        assert!(!h.is_healthy(1_000 + 301));
        h.waiting();
        assert!(h.is_healthy(1_000_000));
    }
}
