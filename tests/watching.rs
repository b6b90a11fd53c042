//! Keeping watch over inboxes: mail a server never announced in IDLE (Dovecot hibernating
//! the session) is still filed, at the account's next look and not at the 25-minute renewal.

use std::time::Duration;

use crate::support::imap::TestImap;
use crate::support::office::{Office, wait_until};
use crate::support::{MailSystem, Shape};

/// A message filed (or not) within this is not waiting for the 25-minute IDLE renewal.
const PATIENCE: Duration = Duration::from_secs(20);

/// A newsletter with its own Message-ID.
fn newsletter(n: usize) -> Vec<u8> {
    format!(
        "From: News <news@shop.example>\r\nTo: giulia@delega.test\r\nSubject: Offerte {n}\r\n\
         List-Id: <offers.shop.example>\r\nMessage-ID: <watch-{n}@shop.example>\r\n\r\nSconti.\r\n"
    )
    .into_bytes()
}

/// When each "in IDLE" line of the daemon's JSON log was written.
fn idle_entries(office: &Office) -> Vec<jiff::Timestamp> {
    office
        .daemon_log()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|v| v["message"] == "in IDLE")
        .filter_map(|v| v["timestamp"].as_str()?.parse().ok())
        .collect()
}

/// An office whose account looks every `recheck` seconds, logging in JSON with IDLE entries.
fn office_looking_every(ms: &MailSystem, recheck: u32) -> Office {
    let mut office = Office::new(ms);
    office.imap_login = format!("password_file = \"password\", recheck_secs = {recheck}");
    office.log_filter = "info,delega::imap::watch=debug".into();
    office.write_config();
    let config = std::fs::read_to_string(office.config_path()).expect("config");
    std::fs::write(
        office.config_path(),
        format!("{config}\n[log]\nformat = \"json\"\n"),
    )
    .expect("config");
    office
}

#[tokio::test]
async fn mail_a_hibernating_dovecot_never_announces_is_filed_at_the_next_look() -> anyhow::Result<()>
{
    // Dovecot hibernates a session 1 s after IDLE starts, and a change it saw in the last
    // ~500 ms before is never announced (its notify delay is still running when the session
    // is handed over). Messages are appended across that half second, one per IDLE entry.
    let ms = MailSystem::shaped(Shape::Hibernate);
    let office = office_looking_every(ms, 2);
    let _daemon = office.spawn();
    let mut imap = TestImap::login(ms, &office.giulia).await?;
    let offsets_ms = [600, 700, 800, 900];
    for (n, offset) in offsets_ms.into_iter().enumerate() {
        // The next IDLE entry (after the last filing, or after a look).
        let seen = idle_entries(&office).len();
        let entered = wait_until(PATIENCE, || idle_entries(&office).len() > seen);
        assert!(entered.is_some(), "no IDLE:\n{}", office.daemon_log());
        let at = *idle_entries(&office).last().expect("an IDLE entry");
        let due = at + jiff::SignedDuration::from_millis(offset);
        if let Ok(wait) = Duration::try_from(due.duration_since(jiff::Timestamp::now())) {
            // The moment is the point of the test: Dovecot's timer runs from IDLE's start.
            tokio::time::sleep(wait).await;
        }
        imap.append("INBOX", &newsletter(n), &[]).await?;
        let filed = wait_until(PATIENCE, || office.ledger().len() > n);
        assert!(
            filed.is_some(),
            "message {n}, appended {offset} ms after IDLE began, was not filed within {PATIENCE:?}:\n{}",
            office.daemon_log()
        );
    }
    imap.wait_for("Noise", offsets_ms.len(), PATIENCE).await?;
    // At least one message fell in the half second and was found by a look, not by IDLE:
    // otherwise this run did not reproduce the loss and proves nothing.
    let log = office.daemon_log();
    let dovecot = std::fs::read_to_string(ms.dir().join("log/dovecot.log")).unwrap_or_default();
    assert!(
        log.contains("new mail the server did not announce in IDLE"),
        "no message was lost by the server this run:\n{log}"
    );
    assert!(dovecot.contains("Successfully hibernated"), "{dovecot}");
    Ok(())
}
