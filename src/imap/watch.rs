//! Waiting for new mail: IDLE where the server has it, a poll interval where it does not.
//!
//! IDLE is re-issued every 25 minutes, before the 29 minutes after which servers may drop
//! an idle client (RFC 2177). Every wait also ends at shutdown, so a stopping daemon leaves
//! IDLE cleanly with DONE.

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
    /// Shutdown was requested.
    Shutdown,
}

/// Waits until the selected mailbox may have new mail, `limit` has passed (work is due,
/// such as a forward to retry), or shutdown.
pub async fn wait_for_mail(
    mut boxes: Connection,
    poll: Duration,
    limit: Duration,
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
    let response = {
        // Unbounded while idling, and only then: entering and leaving IDLE are commands.
        let _idling = idle.hold();
        // async-imap's own timeout restarts at every "* OK Still here" keepalive, which
        // Dovecot sends every 2 minutes: the renewal needs a timer of its own.
        let renew = IDLE_RENEW.min(limit);
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
        IdleResponse::NewData(_) | IdleResponse::Timeout | IdleResponse::ManualInterrupt => {
            Wake::Check
        }
    };
    Ok((boxes, wake))
}
