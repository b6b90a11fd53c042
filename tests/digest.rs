//! The digest end to end: it reaches the entrepreneur's Inbox through the real Postfix, a
//! second MIME parser (Python's email package) reads both its parts, delega never files its
//! own digest, the daemon sends it once when due, and `delega status` reports the run.

use std::process::Command;
use std::time::Duration;

use delega::reason::{Reason, SendFailure};

use crate::support::MailSystem;
use crate::support::imap::{Fetched, TestImap};
use crate::support::office::{Office, fixture, wait_until};

const DELIVERY: Duration = Duration::from_secs(20);

fn is_digest(m: &Fetched) -> bool {
    String::from_utf8_lossy(&m.raw).contains("X-Delega-Digest:")
}

/// Fills the Inbox with one message of each category and triages them.
async fn a_day_of_mail(ms: &MailSystem, office: &Office) -> anyhow::Result<TestImap> {
    office.run_once_ok();
    let mut imap = TestImap::login(ms, &office.giulia).await?;
    for name in [
        "001-investor",
        "012-supplier-invoice",
        "004-bank-newsletter",
    ] {
        imap.append("INBOX", &fixture(name), &[]).await?;
    }
    office.run_once_ok();
    Ok(imap)
}

#[tokio::test]
async fn the_digest_arrives_and_a_second_mime_parser_reads_both_parts() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let office = Office::new(ms);
    let mut imap = a_day_of_mail(ms, &office).await?;

    let out = office.command(&["digest", "--send-now"]).output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inbox = imap.wait_for("INBOX", 2, DELIVERY).await?;
    let digest = inbox
        .iter()
        .find(|m| is_digest(m))
        .expect("the digest is in the Inbox");

    let path = office.dir.path().join("digest.eml");
    std::fs::write(&path, &digest.raw)?;
    let script = r#"
import email, sys
from email import policy
msg = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)
assert msg.get_content_type() == 'multipart/alternative', msg.get_content_type()
text = msg.get_body(preferencelist=('plain',)).get_content()
html = msg.get_body(preferencelist=('html',)).get_content()
print(msg['Subject'])
print('TEXT', 'Meeting next week' in text, 'Marta Verdi' in text)
print('HTML', '<html' in html.lower(), 'Meeting next week' in html, '<script' in html.lower())
"#;
    let parsed = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&path)
        .output()?;
    let report = String::from_utf8_lossy(&parsed.stdout);
    assert!(
        parsed.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    assert!(
        report.contains("1 needs you, 1 delegated, 1 filed"),
        "subject with the day's counts: {report}"
    );
    assert!(report.contains("TEXT True True"), "{report}");
    assert!(report.contains("HTML True True False"), "{report}");

    // The next pass sees the digest arrive and leaves it in the Inbox.
    office.run_once_ok();
    let inbox = imap.fetch_all("INBOX").await?;
    assert!(
        inbox.iter().any(is_digest),
        "delega never files its own digest"
    );
    let row = office
        .ledger()
        .into_iter()
        .last()
        .expect("a row for the digest");
    assert!(
        row.decision.why.contains("own digest"),
        "{}",
        row.decision.why
    );
    Ok(())
}

#[tokio::test]
async fn the_daemon_sends_a_due_digest_once_even_across_a_restart() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let mut office = Office::new(ms);
    // Due since a minute ago: the daemon sends it at its first pass.
    let rome = jiff::tz::TimeZone::get("Europe/Rome")?;
    let earlier =
        jiff::Timestamp::now().to_zoned_datetime(rome) - jiff::SignedDuration::from_mins(1);
    office.digest_at = Some(earlier.strftime("%H:%M").to_string());
    office.send_digests = true;
    office.write_config();
    let mut imap = a_day_of_mail(ms, &office).await?;

    for _ in 0..2 {
        let mut daemon = office.spawn();
        let sent = wait_until(DELIVERY, || {
            office.daemon_log().contains("digest sent") || office.daemon_log().contains("ready")
        });
        assert!(sent.is_some(), "{}", office.daemon_log());
        std::thread::sleep(Duration::from_secs(2));
        assert!(
            daemon
                .terminate(Duration::from_secs(10))
                .is_some_and(|s| s.success())
        );
    }
    let inbox = imap.wait_for("INBOX", 2, DELIVERY).await?;
    std::thread::sleep(Duration::from_secs(1));
    let digests = imap
        .fetch_all("INBOX")
        .await?
        .into_iter()
        .filter(is_digest)
        .count();
    assert_eq!(
        digests,
        1,
        "one digest per day, across restarts ({} in the Inbox)",
        inbox.len()
    );
    Ok(())
}

#[tokio::test]
async fn status_reports_the_counts_of_the_run() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let office = Office::new(ms);
    a_day_of_mail(ms, &office).await?;
    let out = office.command(&["status"]).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("today:         1 strategic, 1 delegable, 1 noise"),
        "{text}"
    );
    assert!(
        text.contains("forwards:      0 waiting, 0 failed"),
        "{text}"
    );
    assert!(text.contains("last error:    none"), "{text}");
    assert!(!text.contains("last check:    never"), "{text}");

    let out = office.command(&["status", "--json"]).output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let giulia = &json["accounts"][0];
    assert_eq!(giulia["name"], "giulia", "{json}");
    assert_eq!(
        giulia["today"],
        serde_json::json!({"strategic": 1, "delegable": 1, "noise": 1}),
        "{json}"
    );
    assert_eq!(
        (&giulia["waiting"], &giulia["failed"]),
        (&0.into(), &0.into())
    );
    assert!(giulia["last_error"].is_null(), "{json}");
    assert!(giulia["last_check"].as_i64().is_some(), "{json}");
    assert!(giulia["next_digest"].as_i64().is_some(), "{json}");
    Ok(())
}

/// A broken Date never sorts a message first nor hides when it came; a malformed message
/// says why it stayed in the Inbox.
#[tokio::test]
async fn broken_dates_and_malformed_mail_read_truthfully_in_the_digest() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let office = Office::new(ms);
    office.run_once_ok();
    let mut imap = TestImap::login(ms, &office.giulia).await?;
    let mails: [&[u8]; 4] = [
        b"From: Anna <anna@client.example>\r\nSubject: impossible date\r\nDate: 32 Nov 2026 25:61 +0000\r\n\r\nHello\r\n",
        b"From: Anna <anna@client.example>\r\nSubject: far future\r\nDate: Fri, 30 Jun 3609 10:00:00 +0000\r\n\r\nHello\r\n",
        b"From: Anna <anna@client.example>\r\nSubject: undated\r\n\r\nHello\r\n",
        b"Subject: nobody sent this\r\nDate: Mon, 23 Nov 2026 09:00:00 +0100\r\n\r\nHello\r\n",
    ];
    for raw in mails {
        imap.append("INBOX", raw, &[]).await?;
    }
    office.run_once_ok();
    let out = office.command(&["digest", "--preview"]).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "impossible Date “32 Nov 2026 25:61 +0000”: the time shown is its arrival",
        "impossible Date “Fri, 30 Jun 3609 10:00:00 +0000”: the time shown is its arrival",
        "no Date: the time shown is its arrival",
        "Malformed message (no From address): kept in the Inbox, no rule was applied",
    ] {
        assert!(text.contains(expected), "{expected:?} missing in:\n{text}");
    }
    // Listed by arrival: the message dated 23 Nov (the oldest) comes last.
    let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("{s} in:\n{text}"));
    assert!(at("impossible date") < at("nobody sent this"), "{text}");
    assert!(at("far future") < at("nobody sent this"), "{text}");
    // On the first day, no rule is "never matched".
    assert!(!text.contains("never matched"), "{text}");
    Ok(())
}

/// A daily list the server refuses is recorded as a reason, with the server's answer as data
/// (the digest words it in its own language); `status` says it in English, as before.
#[tokio::test]
async fn a_refused_daily_list_is_recorded_as_a_reason_with_the_servers_answer() -> anyhow::Result<()>
{
    let ms = MailSystem::shared();
    let office = Office::new(ms);
    a_day_of_mail(ms, &office).await?;
    // Marta asks for a daily list at an address the server refuses for good (550 at RCPT).
    let config = std::fs::read_to_string(office.config_path())?;
    let refused = config.replacen(
        &format!("address = \"{}\"", office.marta),
        "address = \"marta@elsewhere.example\"\ndaily_list = true",
        1,
    );
    assert_ne!(refused, config, "Marta's address is in the config");
    std::fs::write(office.config_path(), &refused)?;
    let out = office.command(&["digest", "--send-now"]).output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let status = office.command(&["status"]).output()?;
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(
        status.contains("digest: daily list for Marta Verdi: refused: "),
        "{status}"
    );
    let problems = office.problems("giulia");
    let problems: Vec<_> = problems.iter().filter(|p| p.kind == "digest").collect();
    let [problem] = problems[..] else {
        panic!("one digest problem: {problems:?}");
    };
    assert_eq!(problem.detail, "", "the reason says it all: {problem:?}");
    let Some(Reason::ListNotSent {
        assistant,
        failure: SendFailure::Refused(answer),
    }) = &problem.reason
    else {
        panic!("a refused daily list: {problem:?}");
    };
    assert_eq!(assistant, "Marta Verdi");
    assert!(answer.contains("550"), "the server's answer: {answer}");
    // The next digest tells it: the failure belongs to the period after the digest that
    // was being sent (from the second after it), not to the one just closed.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let preview = office.command(&["digest", "--preview"]).output()?;
    let preview = String::from_utf8_lossy(&preview.stdout).into_owned();
    assert!(
        preview.contains("lista del giorno per Marta Verdi")
            || preview.contains("daily list for Marta Verdi"),
        "{preview}"
    );
    Ok(())
}
