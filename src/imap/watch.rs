//! Waiting for new mail: IDLE where the server has it, a poll interval where it does not.
//!
//! IDLE is re-issued every 25 minutes, before the 29 minutes after which servers may drop
//! an idle client (RFC 2177). Every wait also ends at shutdown, so a stopping daemon leaves
//! IDLE cleanly with DONE.
//!
//! IDLE can also end early for a look ([`Wake::Recheck`], the account's `recheck_secs`):
//! a server may lose a notification. Dovecot with `imap_hibernate_timeout` does: when it
//! hibernates an idle session it exports the mailbox state of its last sync and watches the
//! Maildir afresh, dropping a change it saw in the last ~500 ms (its notify delay) and had not
//! yet reported; nothing announces that message until the next change or the next command.
//! Every look is such a command (the session is woken and its state brought up to date), and
//! every look's IDLE is hibernated again later, so no single look closes the gap for good:
//! the interval bounds how late a message can be.

use std::time::Duration;

use anyhow::Context;
use async_imap::extensions::idle::IdleResponse;
use tokio_util::sync::CancellationToken;

use super::Connection;

/// Re-issue IDLE this often.
const IDLE_RENEW: Duration = Duration::from_secs(25 * 60);

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The server reported a change (or the poll interval passed): look for new mail.
    Check,
    /// The recheck interval passed in IDLE with nothing announced: look for mail the server
    /// may not have announced.
    Recheck,
    /// Shutdown was requested.
    Shutdown,
}

/// Waits until the selected mailbox may have new mail, `limit` has passed (work is due,
/// such as a forward to retry), `recheck` has passed in IDLE, or shutdown.
pub async fn wait_for_mail(
    mut boxes: Connection,
    poll: Duration,
    limit: Duration,
    recheck: Option<Duration>,
    shutdown: &CancellationToken,
) -> anyhow::Result<(Connection, Wake)> {
    if !boxes.server.has_idle {
        let wake = tokio::select! {
            () = tokio::time::sleep(poll.min(limit)) => Wake::Check,
            () = shutdown.cancelled() => Wake::Shutdown,
        };
        return Ok((boxes, wake));
    }
    let Connection {
        session,
        server,
        keywords,
    } = boxes;
    let idle = session.get_ref().idle_switch();
    let mut handle = session.idle();
    handle.init().await.context("IDLE")?;
    tracing::debug!("in IDLE");
    let look = recheck.filter(|r| *r < IDLE_RENEW.min(limit));
    let response = {
        // Unbounded while idling, and only then: entering and leaving IDLE are commands.
        let _idling = idle.hold();
        // async-imap's own timeout restarts at every "* OK Still here" keepalive, which
        // Dovecot sends every 2 minutes: the renewal needs a timer of its own.
        let renew = IDLE_RENEW.min(limit).min(look.unwrap_or(IDLE_RENEW));
        let (idle_wait, interrupt) = handle.wait_with_timeout(renew);
        tokio::pin!(idle_wait);
        tokio::select! {
            r = &mut idle_wait => r,
            () = shutdown.cancelled() => {
                drop(interrupt);
                idle_wait.await
            }
            () = tokio::time::sleep(renew) => {
                drop(interrupt);
                idle_wait.await
            }
        }
        .context("waiting in IDLE")?
    };
    let session = handle.done().await.context("leaving IDLE")?;
    boxes = Connection {
        session,
        server,
        keywords,
    };
    boxes.drain();
    let wake = match response {
        _ if shutdown.is_cancelled() => Wake::Shutdown,
        IdleResponse::Timeout | IdleResponse::ManualInterrupt if look.is_some() => Wake::Recheck,
        IdleResponse::NewData(_) | IdleResponse::Timeout | IdleResponse::ManualInterrupt => {
            Wake::Check
        }
    };
    Ok((boxes, wake))
}
