//! A delegated task is never lost: one delega per state database, waiting forwards pushed
//! without a second instance, bounded stops with a server that never answers, one forward
//! per Message-ID, recovery as soon as SMTP returns.

use std::time::Duration;

use delega::state::OutboxState;

use crate::support::MailSystem;
use crate::support::imap::TestImap;
use crate::support::office::{Office, wait_until};

/// Bounds waits for the daemon and for Postfix; each takes milliseconds to seconds.
const PATIENCE: Duration = Duration::from_secs(20);

/// The outbox state of the account's forwards, in ledger order, with their attempts.
fn forwards(office: &Office) -> Vec<(OutboxState, u32)> {
    let state = office.state();
    office
        .ledger()
        .iter()
        .filter_map(|e| state.outbox_for(e.id).ok().flatten())
        .map(|o| (o.state, o.attempts))
        .collect()
}

#[tokio::test]
async fn a_second_run_is_refused_beside_the_daemon_and_retry_sends_waiting_forwards_now()
-> anyhow::Result<()> {
    let ms = MailSystem::start_dedicated();
    let office = Office::new(&ms);
    office.run_once_ok();
    let mut giulia = office.deliver(&ms, &["021-translation"]).await?;
    ms.stop_postfix();
    let mut daemon = office.spawn();
    // The forward waits: tried once, then backed off for a minute or more.
    let waiting = wait_until(PATIENCE, || {
        forwards(&office) == [(OutboxState::Pending, 1)]
    });
    assert!(waiting.is_some(), "{}", office.daemon_log());

    // A second delega on the same database is refused, and says who holds it.
    let second = office.command(&["run", "--once"]).output()?;
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("another delega (pid "), "{stderr}");
    assert!(
        stderr.contains(&format!("pid {})", daemon.pid())),
        "{stderr}"
    );
    assert!(stderr.contains("delega retry"), "{stderr}");
    assert_eq!(
        forwards(&office),
        [(OutboxState::Pending, 1)],
        "it did nothing"
    );

    // Readers work beside the daemon.
    let status = office.command(&["status"]).output()?;
    assert!(status.status.success());
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("1 waiting"), "{status}");
    let preview = office.command(&["digest", "--preview"]).output()?;
    assert!(preview.status.success());

    // Postfix is back; `delega retry` has the daemon send now, not after its backoff.
    ms.start_postfix();
    let retry = office.command(&["retry"]).output()?;
    let said = String::from_utf8_lossy(&retry.stdout);
    assert!(retry.status.success(), "{said}");
    assert!(said.contains("asked delega"), "{said}");
    let mut luca = TestImap::login(&ms, &office.luca).await?;
    luca.wait_for("INBOX", 1, PATIENCE).await?;
    let filed = wait_until(PATIENCE, || forwards(&office) == [(OutboxState::Sent, 1)]);
    assert!(filed.is_some(), "{}", office.daemon_log());
    assert!(office.daemon_log().contains("SIGUSR1"));
    let status = daemon.terminate(PATIENCE).expect("exits");
    assert!(status.success());
    assert_eq!(giulia.fetch_all("INBOX").await?.len(), 0);

    // With no daemon, the lock is free again and `retry` does the pass itself.
    let out = office.command(&["retry"]).output()?;
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 waiting"));
    Ok(())
}
