//! The entrepreneur's corrections against the real Dovecot: a message moved back to the
//! Inbox stays there for good and is recorded; a message moved into the delegation folder
//! by hand is forwarded once, or says why not; `delega suggest` turns repeated corrections
//! into a rule that `delega check` accepts and that decides those messages as the
//! entrepreneur did.

use std::process::Command;
use std::time::Duration;

use delega::reason::{Reason, Refusal};
use delega::state::Status;

use crate::support::MailSystem;
use crate::support::imap::TestImap;
use crate::support::office::{Office, fixture};

const DELIVERY: Duration = Duration::from_secs(20);

fn newsletter(n: usize) -> Vec<u8> {
    format!(
        "From: Shop News <news@shop.example>\r\nTo: giulia@delega.test\r\nSubject: Novità {n}\r\n\
         List-Id: Shop news <news.shop.example>\r\nMessage-ID: <news-{n}@shop.example>\r\n\r\nLe novità.\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn a_message_moved_back_to_the_inbox_stays_there_and_is_recorded() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let office = Office::new(ms);
    office.run_once_ok();
    let mut imap = TestImap::login(ms, &office.giulia).await?;
    imap.append("INBOX", &newsletter(1), &[]).await?;
    office.run_once_ok();
    let filed = imap.fetch_all("Noise").await?;
    assert_eq!(filed.len(), 1);

    // Giulia disagrees: back to the Inbox, from her own mail client.
    imap.uid_move(filed[0].uid, "Noise", "INBOX").await?;
    let out = office.run_once_ok();
    assert!(out.contains("0 new message(s)"), "{out}");
    office.run_once_ok();
    assert_eq!(imap.fetch_all("INBOX").await?.len(), 1, "never filed again");
    assert!(imap.fetch_all("Noise").await?.is_empty());

    let corrections = office.state().corrections("giulia")?;
    assert_eq!(corrections.len(), 1);
    assert_eq!(corrections[0].mailbox, "INBOX");
    assert_eq!(corrections[0].rule.as_deref(), Some("newsletters"));
    assert_eq!(office.ledger().len(), 1, "the return is not decided again");
    Ok(())
}

#[tokio::test]
async fn a_message_moved_into_delegated_by_hand_is_forwarded_once() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let mut office = Office::new(ms);
    office.account_extra = "default_assistant = \"luca\"".into();
    office.write_config();
    office.run_once_ok();
    let mut giulia = TestImap::login(ms, &office.giulia).await?;
    giulia
        .append("INBOX", &fixture("006-new-client-enquiry"), &[])
        .await?;
    office.run_once_ok(); // strategic: stays in the Inbox
    let inbox = giulia.fetch_all("INBOX").await?;
    assert_eq!(inbox.len(), 1);

    giulia.uid_move(inbox[0].uid, "INBOX", "Delegated").await?;
    let out = office.run_once_ok();
    assert!(out.contains("1 forwarded"), "{out}");
    office.run_once_ok();

    let mut luca = TestImap::login(ms, &office.luca).await?;
    luca.wait_for("INBOX", 1, DELIVERY).await?;
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        luca.fetch_all("INBOX").await?.len(),
        1,
        "forwarded exactly once"
    );
    assert_eq!(
        giulia.fetch_all("Delegated").await?.len(),
        1,
        "it stays where she put it"
    );
    let ledger = office.ledger();
    let hand = ledger
        .iter()
        .find(|r| r.mailbox == "Delegated")
        .expect("a ledger row for it");
    assert_eq!(hand.decision.assistant.as_deref(), Some("luca"));
    assert_eq!(hand.status, Status::Done);
    assert_eq!(office.state().corrections("giulia")?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_machine_message_moved_into_delegated_is_not_forwarded_and_says_why() -> anyhow::Result<()>
{
    let ms = MailSystem::shared();
    let mut office = Office::new(ms);
    office.account_extra = "default_assistant = \"luca\"".into();
    office.write_config();
    office.run_once_ok();
    let mut giulia = office
        .deliver(ms, &["008-out-of-office-auto-submitted"])
        .await?;
    office.run_once_ok(); // an auto-reply: filed as noise
    let noise = giulia.fetch_all("Noise").await?;
    assert_eq!(noise.len(), 1);

    giulia.uid_move(noise[0].uid, "Noise", "Delegated").await?;
    let out = office.run_once_ok();
    assert!(out.contains("0 forwarded"), "{out}");

    let ledger = office.ledger();
    let hand = ledger
        .iter()
        .find(|r| r.mailbox == "Delegated")
        .expect("a ledger row for it");
    let Some(Reason::HandKept(why)) = hand.decision.reason.clone() else {
        panic!(
            "a hand delegation's reason, as data: {:?}",
            hand.decision.reason
        );
    };
    assert_eq!(why.folder, "Delegated");
    assert!(
        matches!(why.refusal, Some(Refusal::Machine(_))),
        "{}",
        hand.decision.why
    );
    assert_eq!(hand.status, Status::Done, "nothing left to do");
    assert_eq!(
        giulia.fetch_all("Delegated").await?.len(),
        1,
        "it stays where she put it"
    );
    std::thread::sleep(Duration::from_secs(1));
    let mut luca = TestImap::login(ms, &office.luca).await?;
    assert!(luca.fetch_all("INBOX").await?.is_empty(), "no forward");
    Ok(())
}

#[tokio::test]
async fn suggest_turns_repeated_corrections_into_a_rule_check_and_explain_agree_with()
-> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let mut office = Office::new(ms);
    // A rules directory of the office's own, so the learned file can be added to it.
    let rules = office.dir.path().join("rules");
    std::fs::create_dir(&rules)?;
    for entry in std::fs::read_dir(&office.rules_dir)? {
        let path = entry?.path();
        std::fs::copy(&path, rules.join(path.file_name().expect("name")))?;
    }
    office.rules_dir = rules.clone();
    office.write_config();
    office.run_once_ok();
    let mut imap = TestImap::login(ms, &office.giulia).await?;
    for n in 1..=3 {
        imap.append("INBOX", &newsletter(n), &[]).await?;
    }
    office.run_once_ok();
    for m in imap.fetch_all("Noise").await? {
        imap.uid_move(m.uid, "Noise", "INBOX").await?;
    }
    office.run_once_ok();

    let out = office.command(&["suggest"]).output()?;
    assert!(out.status.success());
    let proposal = String::from_utf8(out.stdout)?;
    assert!(
        proposal.contains("3 messages from the list news.shop.example"),
        "{proposal}"
    );
    assert!(proposal.contains("category = \"strategic\""), "{proposal}");

    // Ops paste it where it says; check accepts it and explain now keeps the list.
    std::fs::write(rules.join("00-learned.toml"), &proposal)?;
    let check = office.command(&["check"]).output()?;
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let eml = office.dir.path().join("news.eml");
    std::fs::write(&eml, newsletter(9))?;
    let explain = Command::new(env!("CARGO_BIN_EXE_delega"))
        .arg("explain")
        .arg("--config")
        .arg(office.config_path())
        .arg(&eml)
        .output()?;
    let explained = String::from_utf8(explain.stdout)?;
    assert!(explained.contains("decision: strategic"), "{explained}");
    assert!(
        explained.contains("rule:     learned-keep-news-shop-example"),
        "{explained}"
    );
    Ok(())
}
