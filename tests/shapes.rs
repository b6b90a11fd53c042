//! The same triage on the servers people have: Dovecot in other shapes (`scripts/mailsystem
//! --shape`): a personal namespace `INBOX.` with separator `.`, no MOVE, neither MOVE nor
//! UIDPLUS, and a self-signed (CA:TRUE) certificate trusted through `ca_file`. Each shape runs
//! the same checks: every message filed, none lost or marked seen, a message the user flagged
//! `\Deleted` left alone, a correction respected, and a digest whose counts are the folders'.

use std::path::Path;
use std::time::Duration;

use delega::reason::{Attention, Reason};
use delega::state::{Action, Status};

use crate::support::imap::{Fetched, TestImap};
use crate::support::office::{Office, SmtpRoute, wait_until};

/// Bounds waits for the daemon; passing tests take a fraction of it.
const PATIENCE: Duration = Duration::from_secs(20);
use crate::support::{MailSystem, Shape};

/// The corpus messages (non-empty), in file order.
fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| std::fs::read(&p).expect("fixture"))
        .filter(|raw| !raw.is_empty())
        .collect()
}

fn has_flag(m: &Fetched, flag: &str) -> bool {
    m.flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
}

/// A message the entrepreneur has marked `\Deleted` but not expunged: delega must not expunge it.
const DELETED_BY_USER: &[u8] = b"From: Anna <anna@client.example>\r\n\
To: giulia@delega.test\r\nSubject: Ci vediamo martedi\r\n\
Message-ID: <marked-deleted@client.example>\r\nDate: Mon, 16 Nov 2026 09:00:00 +0100\r\n\r\n\
Giulia, confermo martedi alle 10.\r\n";

/// The folder names the shape's server uses for the default `Noise` and `Delegated`.
fn folders(shape: Shape) -> (&'static str, &'static str) {
    match shape {
        Shape::InboxPrefix => ("INBOX.Noise", "INBOX.Delegated"),
        _ => ("Noise", "Delegated"),
    }
}

/// The counts in the digest's subject line: (need you, delegated, filed).
fn digest_counts(preview: &str) -> (u64, u64, u64) {
    let line = preview
        .lines()
        .find(|l| l.contains("delega ·"))
        .unwrap_or_else(|| panic!("no subject line in:\n{preview}"));
    let number = |word: &str| -> u64 {
        let at = line
            .find(word)
            .unwrap_or_else(|| panic!("{word} in {line}"));
        let digits: String = line[..at]
            .trim_end()
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_digit() || *c == ',')
            .filter(char::is_ascii_digit)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        digits
            .parse()
            .unwrap_or_else(|_| panic!("{word} in {line}"))
    };
    let need = if line.contains("needs you") {
        number("needs you")
    } else {
        number("need you")
    };
    (need, number("delegated"), number("filed"))
}

async fn triage_on(shape: Shape) -> anyhow::Result<()> {
    let ms = MailSystem::shaped(shape);
    let mut office = Office::new(ms);
    // Implicit TLS on the SMTPS port goes through the same verified TLS as IMAP.
    office.smtp = SmtpRoute::Smtps(ms.smtps_port());
    office.write_config();
    office.run_once_ok(); // first start: from now on
    let (noise_folder, delegated_folder) = folders(shape);
    let copy_only = shape == Shape::NoMoveNoUidplus;

    let mut imap = TestImap::login(ms, &office.giulia).await?;
    imap.append("INBOX", DELETED_BY_USER, &["\\Deleted"])
        .await?;
    let corpus = corpus();
    for raw in &corpus {
        imap.append("INBOX", raw, &[]).await?;
    }
    let out = office.run_once_ok();
    let total = corpus.len() + 1;
    assert!(out.contains(&format!("{total} new message(s)")), "{out}");

    let ledger = office.ledger();
    assert_eq!(ledger.len(), total);
    let want = if copy_only {
        Status::Copied
    } else {
        Status::Done
    };
    let in_folder = |folder: &str| {
        ledger
            .iter()
            .filter(
                |r| matches!(&r.decision.action, Action::File(f) | Action::Forward(f) if f == folder),
            )
            .count()
    };
    for row in &ledger {
        let expected = match row.decision.action {
            Action::File(_) | Action::Forward(_) => want,
            _ => Status::Done,
        };
        assert_eq!(
            row.status, expected,
            "{:?} {}",
            row.decision.action, row.decision.subject
        );
    }
    let kept = ledger
        .iter()
        .filter(|r| matches!(r.decision.action, Action::Keep | Action::Nothing))
        .count();

    let inbox = imap.fetch_all("INBOX").await?;
    let noise = imap.fetch_all(noise_folder).await?;
    let delegated = imap.fetch_all(delegated_folder).await?;
    assert!(!noise.is_empty() && !delegated.is_empty());
    assert_eq!(noise.len(), in_folder(noise_folder));
    assert_eq!(delegated.len(), in_folder(delegated_folder));
    if copy_only {
        // Copies filed, every original left where it was.
        assert_eq!(inbox.len(), total);
    } else {
        assert_eq!(inbox.len(), kept);
        assert_eq!(
            inbox.len() + noise.len() + delegated.len(),
            total,
            "nothing lost"
        );
    }
    let survivor = inbox
        .iter()
        .find(|m| m.raw.windows(13).any(|w| w == b"marked-delete"))
        .expect("the message the user marked \\Deleted is still in the Inbox");
    assert!(has_flag(survivor, "\\Deleted"));
    for m in inbox.iter().chain(&noise).chain(&delegated) {
        assert!(!has_flag(m, "\\Seen"), "marked seen: {:?}", m.flags);
    }
    for m in noise.iter().chain(&delegated) {
        assert!(!has_flag(m, "\\Deleted"), "{:?}", m.flags);
        assert!(
            has_flag(m, "$delega"),
            "filed mail carries delega's keyword"
        );
    }

    // The digest counts what is in the folders, and never a copy as filed.
    let preview = office.command(&["digest", "--preview"]).output()?;
    let preview = String::from_utf8_lossy(&preview.stdout).into_owned();
    let (_, forwarded, filed) = digest_counts(&preview);
    assert_eq!(forwarded as usize, delegated.len(), "{preview}");
    if copy_only {
        assert_eq!(filed, 0, "{preview}");
        let copied = format!("{} were copied to the noise folder", noise.len());
        assert!(preview.contains(&copied), "{preview}");
        assert!(preview.contains("neither MOVE nor UIDPLUS"), "{preview}");
    } else {
        assert_eq!(filed as usize, noise.len(), "{preview}");
    }

    // A correction: the entrepreneur takes a noise message back to the Inbox; delega leaves it.
    let back = noise.first().expect("noise").uid;
    imap.uid_move(back, noise_folder, "INBOX").await?;
    office.run_once_ok();
    let inbox_after = imap.fetch_all("INBOX").await?;
    assert_eq!(
        inbox_after.len(),
        inbox.len() + 1,
        "the correction stays in the Inbox"
    );
    assert_eq!(office.state().corrections("giulia")?.len(), 1);
    assert_eq!(
        office.ledger().len(),
        total,
        "a correction is not decided again"
    );
    imap.logout().await?;
    Ok(())
}

#[tokio::test]
async fn an_inbox_prefix_namespace_gets_its_folders_inside_it() -> anyhow::Result<()> {
    triage_on(Shape::InboxPrefix).await
}

#[tokio::test]
async fn a_server_without_move_files_with_uidplus() -> anyhow::Result<()> {
    triage_on(Shape::NoMove).await
}

#[tokio::test]
async fn a_server_without_move_or_uidplus_copies_and_keeps_triaging() -> anyhow::Result<()> {
    triage_on(Shape::NoMoveNoUidplus).await?;

    // The daemon: no account loop, and mail arriving later is triaged as it comes.
    let ms = MailSystem::shaped(Shape::NoMoveNoUidplus);
    let office = Office::new(ms);
    let mut daemon = office.spawn();
    let started = wait_until(PATIENCE, || office.daemon_log().contains("connected"));
    assert!(started.is_some(), "{}", office.daemon_log());
    let mut imap = TestImap::login(ms, &office.giulia).await?;
    for (n, raw) in corpus().iter().take(3).enumerate() {
        imap.append("INBOX", raw, &[]).await?;
        let triaged = wait_until(PATIENCE, || office.ledger().len() == n + 1);
        assert!(triaged.is_some(), "{}", office.daemon_log());
    }
    let log = office.daemon_log();
    assert!(!log.contains("account unavailable"), "{log}");
    assert_eq!(
        log.matches("neither MOVE nor UIDPLUS").count(),
        1,
        "said once: {log}"
    );
    let status = office.command(&["status"]).output()?;
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(status.contains("neither MOVE nor UIDPLUS"), "{status}");
    let exit = daemon.terminate(Duration::from_secs(10)).expect("exits");
    assert!(exit.success());
    Ok(())
}

#[tokio::test]
async fn a_self_signed_certificate_in_ca_file_is_trusted_for_its_server() -> anyhow::Result<()> {
    triage_on(Shape::SelfSigned).await
}

/// Runs `delega run --once` on a config edited by `edit`; returns its output (it must fail).
fn failing_run(office: &Office, edit: impl Fn(String) -> String) -> String {
    let config = std::fs::read_to_string(office.config_path()).expect("config");
    std::fs::write(office.config_path(), edit(config)).expect("config");
    let out = office.run_once(&[]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        !text.contains("Some(") && !text.contains("Other(") && !text.contains("code:"),
        "library debug text: {text}"
    );
    text
}

#[tokio::test]
async fn tls_failures_say_what_is_wrong_and_what_to_do() -> anyhow::Result<()> {
    let ms = MailSystem::shaped(Shape::SelfSigned);
    let mut office = Office::new(ms);
    office.smtp = SmtpRoute::Plain(ms.smtp_port());
    office.write_config();
    let imaps = format!("port = {}", ms.imaps_port());
    let ca = format!(", ca_file = \"{}\"", ms.ca_file().display());

    // security = "tls" towards the plaintext port.
    let plain = format!("port = {}", ms.imap_port());
    let text = failing_run(&office, |c| c.replace(&imaps, &plain));
    assert!(text.contains("answered in plain text"), "{text}");
    assert!(text.contains("starttls"), "{text}");

    // The self-signed certificate without ca_file: nobody this machine trusts signed it.
    let text = failing_run(&office, |c| c.replace(&plain, &imaps).replace(&ca, ""));
    assert!(text.contains("is self-signed"), "{text}");
    assert!(text.contains("this machine does not trust"), "{text}");
    assert!(text.contains("ca_file"), "{text}");
    Ok(())
}

#[tokio::test]
async fn a_folder_the_server_refuses_needs_attention_and_a_reload_retries_at_once()
-> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let mut office = Office::new(ms);
    // Dovecot's Maildir++ layout refuses "." in a name when the separator is "/".
    office.account_extra = "folders = { noise = \"Bad.Noise\" }".into();
    office.write_config();
    let mut daemon = office.spawn();
    let marked = wait_until(PATIENCE, || {
        office.daemon_log().contains("account needs attention")
    });
    assert!(marked.is_some(), "{}", office.daemon_log());
    let log = office.daemon_log();
    assert!(
        log.contains("the server refused to create the folder Bad.Noise"),
        "{log}"
    );
    assert!(log.contains("retry_in_secs=600"), "{log}");

    // Said in `status` and among the digest's problems, in plain words.
    let status = office.command(&["status"]).output()?;
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(
        status.contains("refused to create the folder Bad.Noise"),
        "{status}"
    );
    let preview = office.command(&["digest", "--preview"]).output()?;
    let preview = String::from_utf8_lossy(&preview.stdout).into_owned();
    assert!(preview.contains("needs attention"), "{preview}");
    assert!(!preview.contains("no response:"), "{preview}");
    // Recorded as data: the server's answer as it came, delega's words left to the reader.
    let problems = office.problems("giulia");
    let refusal = problems
        .iter()
        .find(|p| p.kind == "attention")
        .expect("the refusal is a problem");
    assert_eq!(refusal.detail, "", "{refusal:?}");
    let Some(Reason::Attention(Attention::FolderRefused { folder, answer })) = &refusal.reason
    else {
        panic!("a folder refused: {refusal:?}");
    };
    assert_eq!(folder, "Bad.Noise");
    assert!(!answer.is_empty(), "the server's answer: {refusal:?}");

    // Fixed, and reloaded: it connects at once, not in ten minutes; and it had not been
    // retried in between (a quick retry would have logged it again by now).
    office.account_extra.clear();
    office.write_config();
    daemon.signal("HUP");
    let connected = wait_until(PATIENCE, || office.daemon_log().contains("connected"));
    assert!(connected.is_some(), "{}", office.daemon_log());
    let log = office.daemon_log();
    assert_eq!(log.matches("account needs attention").count(), 1, "{log}");
    let status = daemon.terminate(Duration::from_secs(10)).expect("exits");
    assert!(status.success());
    Ok(())
}

/// Runs `delega doctor`; returns (success, output).
fn doctor(office: &Office) -> (bool, String) {
    let out = office
        .command(&["doctor"])
        .output()
        .expect("run delega doctor");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn doctor_says_where_folders_will_be_and_changes_nothing() -> anyhow::Result<()> {
    let ms = MailSystem::shaped(Shape::InboxPrefix);
    let mut office = Office::new(ms);
    office.smtp = SmtpRoute::Smtps(ms.smtps_port());
    office.write_config();
    let (ok, text) = doctor(&office);
    assert!(ok, "{text}");
    assert!(
        text.contains("namespace: prefix \"INBOX.\", delimiter \".\""),
        "{text}"
    );
    assert!(
        text.contains("folders.noise \"Noise\" → \"INBOX.Noise\": will be created"),
        "{text}"
    );
    assert!(
        text.contains("IDLE yes, MOVE yes, UIDPLUS yes, NAMESPACE yes"),
        "{text}"
    );
    assert!(text.contains("certificate CN=localhost"), "{text}");
    assert!(text.contains("AUTH mechanisms: PLAIN LOGIN"), "{text}");
    assert!(
        text.contains(&format!("RCPT TO:<{}>: accepted", office.marta)),
        "{text}"
    );
    assert!(text.ends_with("everything works\n"), "{text}");
    // Nothing created, nothing sent.
    let mut imap = TestImap::login(ms, &office.giulia).await?;
    assert_eq!(imap.mailboxes().await?, ["INBOX"]);
    let mut marta = TestImap::login(ms, &office.marta).await?;
    assert!(marta.fetch_all("INBOX").await?.is_empty());

    // A server without MOVE and UIDPLUS is a note, not a problem; an assistant's address
    // the server refuses is a problem with its fix, and doctor fails.
    let ms = MailSystem::shaped(Shape::NoMoveNoUidplus);
    let mut office = Office::new(ms);
    office.smtp = SmtpRoute::Smtps(ms.smtps_port());
    office.write_config();
    let (ok, text) = doctor(&office);
    assert!(ok, "{text}");
    assert!(text.contains("note    neither MOVE nor UIDPLUS"), "{text}");
    let config = std::fs::read_to_string(office.config_path())?;
    std::fs::write(
        office.config_path(),
        config.replace(&office.luca, "luca@elsewhere.example"),
    )?;
    let (ok, text) = doctor(&office);
    assert!(!ok, "{text}");
    assert!(
        text.contains("RCPT TO:<luca@elsewhere.example>: permanent error (550)"),
        "{text}"
    );
    assert!(
        text.contains("fix: check the assistant's address"),
        "{text}"
    );
    assert!(text.ends_with("1 problem to fix\n"), "{text}");
    Ok(())
}
