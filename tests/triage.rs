//! Triage against the real Dovecot: messages land in the right folders with the right ledger
//! rows, nothing is marked seen, nothing is triaged twice, IDLE picks up new mail, a server
//! restart loses nothing, observe mode touches nothing, and accounts run side by side.

use std::path::Path;
use std::time::Duration;

use delega::classify::Category;
use delega::state::{Action, Status};

use crate::support::MailSystem;
use crate::support::imap::{Fetched, TestImap};
use crate::support::office::{Office, fixture, wait_until};

/// Bounds waits for the daemon; passing tests take a fraction of it.
const PATIENCE: Duration = Duration::from_secs(20);

/// The corpus with each message's expected "category rule", in file order.
fn corpus() -> Vec<(String, Vec<u8>, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let raw = std::fs::read(&p).expect("fixture");
            let expect = std::fs::read_to_string(p.with_extension("expect")).expect("expect");
            let name = p.file_stem().expect("name").to_string_lossy().into_owned();
            (name, raw, expect.trim().to_string())
        })
        // IMAP cannot store an empty message; the corpus test covers it offline.
        .filter(|(_, raw, _)| !raw.is_empty())
        .collect()
}

fn has_flag(m: &Fetched, flag: &str) -> bool {
    m.flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
}

#[tokio::test]
async fn corpus_is_filed_by_category_recorded_and_never_marked_seen() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let office = Office::new(ms);
    office.run_once_ok(); // first start: from now on
    let corpus = corpus();
    let mut imap = TestImap::login(ms, &office.giulia).await?;
    for (_, raw, _) in &corpus {
        imap.append("INBOX", raw, &[]).await?;
    }

    let out = office.run_once_ok();
    assert!(
        out.contains(&format!("{} new message(s)", corpus.len())),
        "{out}"
    );

    // One ledger row per message, in UID order, each with the corpus' expected decision.
    let ledger = office.ledger();
    assert_eq!(ledger.len(), corpus.len());
    for (row, (name, _, expect)) in ledger.iter().zip(&corpus) {
        let got = format!(
            "{} {}",
            row.decision.category,
            row.decision.rule.as_deref().unwrap_or("-")
        );
        assert_eq!(&got, expect, "{name}: {}", row.decision.why);
        assert_eq!(row.status, Status::Done, "{name}");
    }

    let expected_in = |folder: &str| {
        ledger
            .iter()
            .filter(|r| match &r.decision.action {
                Action::Keep | Action::Nothing => folder == "INBOX",
                Action::File(f) | Action::Forward(f) => f == folder,
            })
            .count()
    };
    let inbox = imap.fetch_all("INBOX").await?;
    let noise = imap.fetch_all("Noise").await?;
    let delegated = imap.fetch_all("Delegated").await?;
    assert_eq!(inbox.len(), expected_in("INBOX"));
    assert_eq!(noise.len(), expected_in("Noise"));
    assert_eq!(delegated.len(), expected_in("Delegated"));
    assert!(!noise.is_empty() && !delegated.is_empty() && !inbox.is_empty());
    assert_eq!(
        inbox.len() + noise.len() + delegated.len(),
        corpus.len(),
        "nothing lost"
    );

    for m in inbox.iter().chain(&noise).chain(&delegated) {
        assert!(
            !has_flag(m, "\\Seen"),
            "delega marked a message seen: {:?}",
            m.flags
        );
        assert!(!has_flag(m, "\\Deleted"), "{:?}", m.flags);
    }
    for m in noise.iter().chain(&delegated) {
        assert!(
            has_flag(m, "$delega"),
            "filed mail carries delega's keyword"
        );
    }
    // Filing moves the bytes untouched (IMAP serves bare LF line ends as CRLF).
    let crlf = |raw: &[u8]| String::from_utf8_lossy(raw).replace("\r\n", "\n");
    for m in &noise {
        assert!(
            corpus.iter().any(|(_, raw, _)| crlf(raw) == crlf(&m.raw)),
            "noise bytes altered"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_second_run_triages_nothing_twice() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let office = Office::new(ms);
    office.run_once_ok();
    let mut imap = TestImap::login(ms, &office.giulia).await?;
    for name in ["004-bank-newsletter", "001-investor", "025-linkedin"] {
        imap.append("INBOX", &fixture(name), &[]).await?;
    }
    assert!(office.run_once_ok().contains("3 new message(s)"));
    let out = office.run_once_ok();
    assert!(out.contains("0 new message(s)"), "{out}");
    assert_eq!(office.ledger().len(), 3);
    assert_eq!(imap.fetch_all("Noise").await?.len(), 2);
    assert_eq!(imap.fetch_all("INBOX").await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn first_start_leaves_older_mail_alone_unless_backfill_asks() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let mut office = Office::new(ms);
    let mut imap = TestImap::login(ms, &office.giulia).await?;
    imap.append("INBOX", &fixture("004-bank-newsletter"), &[])
        .await?;
    office.run_once_ok();
    assert!(
        office.ledger().is_empty(),
        "mail older than the first start is not triaged"
    );
    assert_eq!(imap.fetch_all("INBOX").await?.len(), 1);

    let backfill = Office::new(ms);
    let mut imap = TestImap::login(ms, &backfill.giulia).await?;
    imap.append("INBOX", &fixture("004-bank-newsletter"), &[])
        .await?;
    office = backfill;
    office.account_extra = "backfill_days = 2".into();
    office.write_config();
    office.run_once_ok();
    assert_eq!(
        office.ledger().len(),
        1,
        "backfill takes the last days' mail"
    );
    assert_eq!(imap.fetch_all("Noise").await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn mail_arriving_during_idle_is_triaged_at_once_and_sigterm_exits_cleanly()
-> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let office = Office::new(ms);
    let mut daemon = office.spawn();
    let started = wait_until(PATIENCE, || {
        office
            .state()
            .cursor("giulia", "INBOX")
            .is_ok_and(|c| c.is_some())
    });
    assert!(started.is_some(), "the daemon never reached the mailbox");
    // The cursor is set just before the first pass; give the daemon a moment to enter IDLE.
    std::thread::sleep(Duration::from_millis(500));

    let mut imap = TestImap::login(ms, &office.giulia).await?;
    imap.append("INBOX", &fixture("004-bank-newsletter"), &[])
        .await?;
    let start = std::time::Instant::now();
    imap.wait_for("Noise", 1, PATIENCE).await?;
    let latency = start.elapsed();
    eprintln!("IDLE: appended → filed in {latency:?}");
    assert!(
        latency < Duration::from_secs(5),
        "IDLE should wake delega within about a second, took {latency:?}"
    );

    let status = daemon
        .terminate(Duration::from_secs(10))
        .expect("exits within 10 s");
    assert!(status.success(), "SIGTERM exits 0, got {status}");
    assert_eq!(office.ledger().len(), 1);
    Ok(())
}

#[tokio::test]
async fn dovecot_restart_mid_run_loses_nothing() -> anyhow::Result<()> {
    let ms = MailSystem::start_dedicated();
    let office = Office::new(&ms);
    let mut daemon = office.spawn();
    let mut imap = TestImap::login(&ms, &office.giulia).await?;
    assert!(
        wait_until(PATIENCE, || office
            .state()
            .cursor("giulia", "INBOX")
            .is_ok_and(|c| c.is_some()))
        .is_some()
    );
    std::thread::sleep(Duration::from_millis(500));
    imap.append("INBOX", &fixture("004-bank-newsletter"), &[])
        .await?;
    imap.wait_for("Noise", 1, PATIENCE).await?;
    drop(imap);

    ms.stop_dovecot();
    std::thread::sleep(Duration::from_secs(2));
    ms.start_dovecot();
    let mut imap = TestImap::login(&ms, &office.giulia).await?;
    imap.append("INBOX", &fixture("024-circular"), &[]).await?;
    imap.append("INBOX", &fixture("001-investor"), &[]).await?;
    imap.wait_for("Noise", 2, Duration::from_secs(40)).await?;

    let status = daemon.terminate(Duration::from_secs(10)).expect("exits");
    assert!(status.success());
    let ledger = office.ledger();
    assert_eq!(ledger.len(), 3, "each message decided exactly once");
    assert!(ledger.iter().all(|r| r.status == Status::Done));
    assert_eq!(imap.fetch_all("INBOX").await?.len(), 1);
    let events = office.state().events_between("giulia", 0, i64::MAX)?;
    assert!(
        events.iter().any(|(_, kind, _)| kind == "imap"),
        "the outage is recorded for the digest: {events:?}"
    );
    Ok(())
}

#[tokio::test]
async fn observe_mode_moves_marks_and_forwards_nothing() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let office = Office::new(ms);
    office.run_once_ok();
    let mut imap = TestImap::login(ms, &office.giulia).await?;
    for name in [
        "004-bank-newsletter",
        "012-supplier-invoice",
        "001-investor",
    ] {
        imap.append("INBOX", &fixture(name), &[]).await?;
    }
    let out = office.run_once(&["--observe"]);
    assert!(out.status.success());

    let inbox = imap.fetch_all("INBOX").await?;
    assert_eq!(inbox.len(), 3);
    assert!(inbox.iter().all(|m| m.flags.iter().all(|f| f != "$delega")));
    let ledger = office.ledger();
    assert_eq!(ledger.len(), 3);
    assert!(
        ledger
            .iter()
            .all(|r| r.decision.observe && r.decision.action == Action::Nothing)
    );
    let categories: Vec<Category> = ledger.iter().map(|r| r.decision.category).collect();
    assert_eq!(
        categories,
        [Category::Noise, Category::Delegable, Category::Strategic]
    );
    let mut marta = TestImap::login(ms, &office.marta).await?;
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        marta.fetch_all("INBOX").await?.is_empty(),
        "nothing forwarded"
    );
    Ok(())
}

#[tokio::test]
async fn two_accounts_are_triaged_by_one_process() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let mut office = Office::new(ms);
    let paolo = ms.new_user("paolo");
    office.more_accounts.push(("paolo".into(), paolo.clone()));
    office.write_config();
    office.run_once_ok();
    let mut giulia = TestImap::login(ms, &office.giulia).await?;
    let mut paolo_imap = TestImap::login(ms, &paolo).await?;
    giulia
        .append("INBOX", &fixture("004-bank-newsletter"), &[])
        .await?;
    paolo_imap
        .append("INBOX", &fixture("025-linkedin"), &[])
        .await?;
    paolo_imap
        .append("INBOX", &fixture("027-instagram"), &[])
        .await?;

    let out = office.run_once_ok();
    assert!(out.contains("giulia: 1 new message(s)"), "{out}");
    assert!(out.contains("paolo: 2 new message(s)"), "{out}");
    assert_eq!(giulia.fetch_all("Noise").await?.len(), 1);
    assert_eq!(paolo_imap.fetch_all("Noise").await?.len(), 2);
    assert_eq!(office.ledger_of("paolo").len(), 2);
    Ok(())
}

#[tokio::test]
async fn a_uidvalidity_change_reprocesses_nothing_and_loses_nothing() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let office = Office::new(ms);
    office.run_once_ok();
    let mut imap = TestImap::login(ms, &office.giulia).await?;
    imap.append("INBOX", &fixture("001-investor"), &[]).await?;
    imap.append("INBOX", &fixture("004-bank-newsletter"), &[])
        .await?;
    office.run_once_ok();

    // The server renumbers the Inbox (as after a restore), and new mail arrives.
    ms.renumber_inbox(&office.giulia, 4242);
    imap.append("INBOX", &fixture("025-linkedin"), &[]).await?;
    let out = office.run_once_ok();
    assert!(out.contains("1 new message(s)"), "only the new one: {out}");

    let ledger = office.ledger();
    assert_eq!(
        ledger.len(),
        3,
        "the investor's mail is recognised by Message-ID"
    );
    assert_eq!(ledger[2].uidvalidity, 4242);
    assert_eq!(imap.fetch_all("INBOX").await?.len(), 1);
    assert_eq!(imap.fetch_all("Noise").await?.len(), 2);
    let cursor = office.state().cursor("giulia", "INBOX")?.expect("cursor");
    assert_eq!(cursor.uidvalidity, 4242);
    Ok(())
}

#[tokio::test]
async fn after_a_uidvalidity_change_observed_mail_is_known_by_its_message_id() -> anyhow::Result<()>
{
    let ms = MailSystem::shared();
    let mut office = Office::new(ms);
    // Observe mode sets no keyword: only the ledger knows these messages.
    office.account_extra = "mode = \"observe\"".into();
    office.write_config();
    office.run_once_ok();
    let mut imap = office
        .deliver(ms, &["001-investor", "004-bank-newsletter"])
        .await?;
    assert!(office.run_once_ok().contains("2 new message(s)"));

    ms.renumber_inbox(&office.giulia, 4343);
    imap.append("INBOX", &fixture("025-linkedin"), &[]).await?;
    let out = office.run_once_ok();
    assert!(out.contains("1 new message(s)"), "only the new one: {out}");
    assert_eq!(office.ledger().len(), 3, "nothing decided twice");
    assert_eq!(
        imap.fetch_all("INBOX").await?.len(),
        3,
        "observe mode moves nothing"
    );
    Ok(())
}
