//! Failpoints: crash the process at a named point, to prove that recovery works.
//!
//! Tests set `DELEGA_FAILPOINT` to one of [`BEFORE_SEND`], [`IN_DATA`], [`AFTER_SEND`]
//! or [`BEFORE_MOVE`]; when the delivery of a forward reaches that point the process aborts
//! at once (no destructors, no flush), like a power cut. Unset, a failpoint costs one
//! environment lookup per forward.

/// After the forward is planned, before the SMTP transaction.
pub const BEFORE_SEND: &str = "before-send";
/// After the server's go-ahead to DATA was recorded (the forward is in doubt), before the
/// message goes out.
pub const IN_DATA: &str = "in-data";
/// After the server accepted the forward, before that is recorded.
pub const AFTER_SEND: &str = "after-send";
/// After the send is recorded, before the message is moved out of the Inbox.
pub const BEFORE_MOVE: &str = "before-move";

/// After a rotated OAuth2 refresh token is saved, before the new access token is used.
pub const AFTER_TOKEN_SAVED: &str = "after-token-saved";

/// The environment variable naming the failpoint to trigger.
pub const ENV: &str = "DELEGA_FAILPOINT";

/// Aborts the process if `DELEGA_FAILPOINT` names `point`.
pub fn hit(point: &str) {
    if std::env::var(ENV).is_ok_and(|v| v == point) {
        eprintln!("delega: failpoint {point} reached: aborting");
        std::process::abort();
    }
}
