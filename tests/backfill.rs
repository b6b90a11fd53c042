//! Backfill on demand: the first start says how much it left alone and the command that
//! includes it; `delega backfill` then triages what is already in the Inbox on the existing
//! state, and a message is never decided twice.

use std::collections::HashMap;

use crate::support::MailSystem;
use crate::support::office::Office;

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn backfill_triages_what_the_first_start_left_alone_and_decides_nothing_twice()
-> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let office = Office::new(ms);
    // Already in the Inbox before delega ever ran.
    let mut imap = office
        .deliver(
            ms,
            &[
                "001-investor",
                "004-bank-newsletter",
                "012-supplier-invoice",
            ],
        )
        .await?;

    let first = office.run_once(&[]);
    let text = stdout(&first);
    assert!(text.contains("giulia: 0 new message(s)"), "{text}");
    assert!(
        text.contains("giulia: first start: 3 message(s) already in the Inbox were left alone; to triage those of the last 7 days: delega backfill --days 7 --account giulia"),
        "{text}"
    );
    let log = String::from_utf8_lossy(&first.stderr);
    assert!(log.contains("left_alone=3"), "{log}");
    assert!(office.ledger().is_empty());

    // New mail is triaged as usual; the key client's question stays in the Inbox.
    imap.append(
        "INBOX",
        &crate::support::office::fixture("005-key-client"),
        &[],
    )
    .await?;
    let text = office.run_once_ok();
    assert!(
        text.contains("giulia: 1 new message(s): 1 strategic"),
        "{text}"
    );
    assert_eq!(office.ledger().len(), 1);

    let out = office
        .command(&["backfill", "--days", "3", "--account", "giulia"])
        .output()?;
    let text = stdout(&out);
    assert!(
        text.contains("message(s) already in the Inbox; 3 decided now: 1 strategic, 1 delegable, 1 noise; 1 already decided, left as they were"),
        "{text}"
    );
    assert!(text.contains("giulia: 0 new message(s)"), "{text}");
    let inbox = imap.fetch_all("INBOX").await?;
    assert_eq!(inbox.len(), 2, "the investor and the key client stay");
    assert_eq!(imap.fetch_all("Noise").await?.len(), 1);
    assert_eq!(imap.fetch_all("Delegated").await?.len(), 1);

    // Again: nothing left to decide, and no message is in the ledger twice.
    let text = stdout(&office.command(&["backfill", "--days", "3"]).output()?);
    assert!(
        text.contains("2 message(s) already in the Inbox; 0 decided now"),
        "{text}"
    );
    let ledger = office.ledger();
    assert_eq!(ledger.len(), 4);
    let mut seen: HashMap<Option<String>, usize> = HashMap::new();
    for e in &ledger {
        *seen.entry(e.decision.message_id.clone()).or_default() += 1;
    }
    assert!(seen.values().all(|&n| n == 1), "{seen:?}");
    Ok(())
}
