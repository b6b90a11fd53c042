//! The daemon's lifecycle as ops see it: SIGTERM in the middle of a backlog loses and
//! duplicates nothing; SIGHUP with a broken rule keeps the old rules at work and says where
//! the mistake is; a valid reload takes effect.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::MailSystem;
use crate::support::imap::TestImap;
use crate::support::office::{Office, wait_until};

const PATIENCE: Duration = Duration::from_secs(20);

/// A newsletter with its own Message-ID.
fn newsletter(n: usize) -> Vec<u8> {
    format!(
        "From: News <news@shop.example>\r\nTo: giulia@delega.test\r\nSubject: Offerte {n}\r\n\
         List-Id: <offers.shop.example>\r\nMessage-ID: <news-{n}@shop.example>\r\n\r\nSconti.\r\n"
    )
    .into_bytes()
}

/// `raw` with its body grown by `bytes` of text, in lines of 76 characters.
fn padded(mut raw: Vec<u8>, bytes: usize) -> Vec<u8> {
    let line = format!("{}\r\n", "x".repeat(76));
    raw.extend(line.as_bytes().iter().cycle().take(bytes));
    raw.extend_from_slice(b"\r\n");
    raw
}

fn wait_for_cursor(office: &Office) {
    let ready = wait_until(PATIENCE, || {
        office
            .state()
            .cursor("giulia", "INBOX")
            .is_ok_and(|c| c.is_some())
    });
    assert!(
        ready.is_some(),
        "the daemon never reached the mailbox:\n{}",
        office.daemon_log()
    );
    std::thread::sleep(Duration::from_millis(300));
}

#[tokio::test]
async fn sigterm_during_a_backlog_exits_0_and_loses_or_repeats_nothing() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let office = Office::new(ms);
    office.run_once_ok();
    let mut imap = TestImap::login(ms, &office.giulia).await?;
    // A backlog of several fetch batches (bounded at 8 MiB each): 1,200 newsletters of
    // 24 KiB make four, so a stop after the first is recorded lands mid-backlog (the
    // daemon looks for a stop between batches).
    const BACKLOG: usize = 1200;
    const PADDING: usize = 24 * 1024;
    for n in 0..BACKLOG {
        imap.append("INBOX", &padded(newsletter(n), PADDING), &[])
            .await?;
    }

    let mut daemon = office.spawn();
    // Stop it as soon as it has started on the backlog.
    let started = wait_until(PATIENCE, || !office.ledger().is_empty());
    assert!(started.is_some(), "{}", office.daemon_log());
    let status = daemon
        .terminate(Duration::from_secs(10))
        .expect("exits within 10 s");
    assert!(
        status.success(),
        "SIGTERM exits 0: {status}\n{}",
        office.daemon_log()
    );
    let done_before_restart = office.ledger().len();
    assert!(
        (1..BACKLOG).contains(&done_before_restart),
        "stopped mid-backlog: {done_before_restart} of {BACKLOG} decided before the restart\n{}",
        office.daemon_log()
    );

    office.run_once_ok();
    let ledger = office.ledger();
    let uids: BTreeSet<u32> = ledger.iter().map(|r| r.decision.uid).collect();
    assert_eq!(
        ledger.len(),
        BACKLOG,
        "every message decided (stopped after {done_before_restart})"
    );
    assert_eq!(uids.len(), BACKLOG, "no message decided twice");
    assert_eq!(imap.fetch_all("Noise").await?.len(), BACKLOG);
    assert!(imap.fetch_all("INBOX").await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn sighup_with_a_broken_rule_keeps_the_old_rules_and_a_good_one_takes_effect()
-> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let mut office = Office::new(ms);
    let rules = office.dir.path().join("rules");
    std::fs::create_dir(&rules)?;
    let lists = "[[rule]]\nname = \"lists\"\ncategory = \"noise\"\nwhen = { list = true }\n";
    std::fs::write(rules.join("10.toml"), lists)?;
    office.rules_dir = rules.clone();
    office.write_config();
    let daemon = office.spawn();
    wait_for_cursor(&office);

    // A broken rules file: the reload is refused with file:line:col, the old rules stay.
    std::fs::write(
        rules.join("20.toml"),
        "[[rule]]\nname = \"investors\"\ncategory = \"strategc\"\nwhen = { subject = \"x\" }\n",
    )?;
    daemon.signal("HUP");
    let refused = wait_until(PATIENCE, || office.daemon_log().contains("reload refused"));
    assert!(refused.is_some(), "{}", office.daemon_log());
    let log = office.daemon_log();
    assert!(
        log.contains("20.toml:3:12: error: unknown category `strategc`"),
        "{log}"
    );

    let mut imap = TestImap::login(ms, &office.giulia).await?;
    imap.append("INBOX", &newsletter(1), &[]).await?;
    imap.wait_for("Noise", 1, PATIENCE).await?;

    // A good file: after the reload, its rule decides.
    std::fs::write(
        rules.join("05.toml"),
        "[[rule]]\nname = \"shop-is-strategic\"\ncategory = \"strategic\"\nwhen = { from_domain = \"shop.example\" }\n",
    )?;
    std::fs::remove_file(rules.join("20.toml"))?;
    daemon.signal("HUP");
    let reloaded = wait_until(PATIENCE, || {
        office.daemon_log().contains("reloaded the config")
    });
    assert!(reloaded.is_some(), "{}", office.daemon_log());
    wait_for_cursor(&office);
    imap.append("INBOX", &newsletter(2), &[]).await?;
    let decided = wait_until(PATIENCE, || office.ledger().len() == 2);
    assert!(decided.is_some(), "{}", office.daemon_log());
    let ledger = office.ledger();
    assert_eq!(ledger[0].decision.rule.as_deref(), Some("lists"));
    assert_eq!(
        ledger[1].decision.rule.as_deref(),
        Some("shop-is-strategic")
    );
    assert_eq!(imap.fetch_all("Noise").await?.len(), 1);
    drop(daemon);
    Ok(())
}

#[tokio::test]
async fn mail_arriving_during_a_pass_is_triaged_without_waiting_for_more() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let office = Office::new(ms);
    office.run_once_ok();
    let mut imap = TestImap::login(ms, &office.giulia).await?;
    const BACKLOG: usize = 400;
    for n in 0..BACKLOG {
        imap.append("INBOX", &newsletter(n), &[]).await?;
    }
    let daemon = office.spawn();
    // As soon as the pass has started on the backlog, one more message arrives. The pass
    // drains the server's announcement of it; delega must still look before it idles.
    let started = wait_until(PATIENCE, || !office.ledger().is_empty());
    assert!(started.is_some(), "{}", office.daemon_log());
    imap.append("INBOX", &newsletter(BACKLOG), &[]).await?;
    let all = wait_until(PATIENCE, || office.ledger().len() == BACKLOG + 1);
    assert!(
        all.is_some(),
        "the late message waits for another arrival:\n{}",
        office.daemon_log()
    );
    drop(daemon);
    Ok(())
}
