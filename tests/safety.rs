//! A delegated task is never lost: one delega per state database, waiting forwards pushed
//! without a second instance, bounded stops with a server that never answers, one forward
//! per Message-ID, recovery as soon as SMTP returns.

use std::time::{Duration, Instant};

use delega::state::OutboxState;

use crate::support::MailSystem;
use crate::support::imap::TestImap;
use crate::support::office::{Office, SmtpRoute, wait_until};

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
    // Sending the digest writes as the daemon does: refused too, with what to do.
    let send = office.command(&["digest", "--send-now"]).output()?;
    let stderr = String::from_utf8_lossy(&send.stderr);
    assert_eq!(send.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("another delega (pid "), "{stderr}");
    assert!(stderr.contains("digest.at"), "{stderr}");

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

/// An SMTP server that accepts connections and never says a word.
fn silent_smtp_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
        }
    });
    port
}

/// A port where nothing listens (connections are refused).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

#[tokio::test]
async fn sigterm_with_an_smtp_server_that_never_answers_exits_0_within_5_s_and_loses_nothing()
-> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let mut office = Office::new(ms);
    // The default timeout (30 s): the stop must not wait for it.
    office.smtp = SmtpRoute::Plain(silent_smtp_server());
    office.write_config();
    office.run_once_ok();
    let mut giulia = office
        .deliver(ms, &["012-supplier-invoice", "021-translation"])
        .await?;
    let mut daemon = office.spawn();
    // Both decided and recorded: the first forward is now waiting for a greeting.
    let decided = wait_until(PATIENCE, || office.ledger().len() == 2);
    assert!(decided.is_some(), "{}", office.daemon_log());

    let asked = Instant::now();
    let status = daemon.terminate(Duration::from_secs(5));
    let took = asked.elapsed();
    let status = status
        .unwrap_or_else(|| panic!("still running 5 s after SIGTERM:\n{}", office.daemon_log()));
    assert!(status.success(), "{status}\n{}", office.daemon_log());
    eprintln!("SIGTERM with a silent SMTP server: exit 0 after {took:?}");

    // Nothing was sent, nothing is lost: both wait, still in the Inbox.
    assert_eq!(forwards(&office), [(OutboxState::Pending, 0); 2]);
    assert_eq!(giulia.fetch_all("INBOX").await?.len(), 2);
    office.smtp = SmtpRoute::Submission(ms.submission_port());
    office.write_config();
    let out = office.run_once_ok();
    assert!(out.contains("2 forwarded"), "{out}");
    Ok(())
}

#[tokio::test]
async fn a_pass_stops_trying_smtp_at_the_first_connection_failure() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let mut office = Office::new(ms);
    office.smtp = SmtpRoute::Plain(silent_smtp_server());
    office.smtp_extra = "timeout_secs = 1".into();
    office.write_config();
    office.run_once_ok();
    office
        .deliver(
            ms,
            &[
                "012-supplier-invoice",
                "021-translation",
                "015-meeting-request",
            ],
        )
        .await?;
    let out = office.run_once_ok();
    assert!(out.contains("0 forwarded, 3 waiting"), "{out}");
    let state = office.state();
    let errors: Vec<String> = office
        .ledger()
        .iter()
        .filter_map(|e| state.outbox_for(e.id).ok().flatten())
        .map(|o| o.last_error.unwrap_or_default())
        .collect();
    // One timeout, not three: the others were not tried.
    assert!(errors[0].starts_with("no answer from"), "{errors:?}");
    for e in &errors[1..] {
        assert!(
            e.starts_with("not tried: the server failed earlier"),
            "{errors:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn the_first_forward_through_after_an_outage_takes_every_waiting_one_with_it()
-> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let mut office = Office::new(ms);
    office.smtp = SmtpRoute::Plain(closed_port());
    office.write_config();
    office.run_once_ok();
    office
        .deliver(ms, &["012-supplier-invoice", "021-translation"])
        .await?;
    let out = office.run_once_ok();
    assert!(out.contains("0 forwarded, 2 waiting"), "{out}");

    // SMTP is back. One forward is due now; the other would wait out an hour's backoff.
    office.smtp = SmtpRoute::Submission(ms.submission_port());
    office.write_config();
    let state = office.state();
    let ledger = office.ledger();
    let rows: Vec<_> = ledger
        .iter()
        .filter_map(|e| state.outbox_for(e.id).ok().flatten())
        .collect();
    let now = jiff::Timestamp::now().as_second();
    state.outbox_update(
        rows[0].id,
        OutboxState::Pending,
        now + 3600,
        Some("down"),
        now,
    )?;
    state.outbox_update(rows[1].id, OutboxState::Pending, now, Some("down"), now)?;
    let mut daemon = office.spawn();
    let mut marta = TestImap::login(ms, &office.marta).await?;
    let mut luca = TestImap::login(ms, &office.luca).await?;
    luca.wait_for("INBOX", 1, PATIENCE).await?;
    marta.wait_for("INBOX", 1, PATIENCE).await?;
    assert_eq!(forwards(&office), [(OutboxState::Sent, 1); 2]);
    assert!(daemon.terminate(PATIENCE).is_some_and(|s| s.success()));
    Ok(())
}

#[tokio::test]
async fn two_copies_of_a_message_in_one_batch_are_forwarded_once() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let office = Office::new(ms);
    office.run_once_ok();
    // The same message twice (same Message-ID), as through an alias and a To.
    let mut giulia = office
        .deliver(ms, &["012-supplier-invoice", "012-supplier-invoice"])
        .await?;
    let out = office.run_once_ok();
    assert!(out.contains("1 forwarded"), "{out}");
    let ledger = office.ledger();
    assert_eq!(ledger.len(), 2);
    assert!(
        ledger[1].decision.why.contains("already forwarded"),
        "{}",
        ledger[1].decision.why
    );
    let mut marta = TestImap::login(ms, &office.marta).await?;
    marta.wait_for("INBOX", 1, PATIENCE).await?;
    // The second copy stays with the entrepreneur, with its reason; one forward only.
    assert_eq!(giulia.fetch_all("INBOX").await?.len(), 1);
    assert_eq!(giulia.fetch_all("Delegated").await?.len(), 1);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(marta.fetch_all("INBOX").await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_uidvalidity_change_with_a_forward_pending_finishes_it_by_message_id()
-> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let mut office = Office::new(ms);
    office.smtp = SmtpRoute::Plain(closed_port());
    office.write_config();
    office.run_once_ok();
    let mut giulia = office.deliver(ms, &["012-supplier-invoice"]).await?;
    let out = office.run_once_ok();
    assert!(out.contains("0 forwarded, 1 waiting"), "{out}");

    // The server renumbers the Inbox (a restore) while the forward waits; SMTP comes back.
    ms.renumber_inbox(&office.giulia, 5151);
    office.smtp = SmtpRoute::Submission(ms.submission_port());
    office.write_config();
    let out = office.run_once_ok();
    assert!(out.contains("0 new message(s)"), "decided once: {out}");
    assert!(out.contains("1 forwarded, 0 waiting"), "{out}");

    let mut marta = TestImap::login(ms, &office.marta).await?;
    marta.wait_for("INBOX", 1, PATIENCE).await?;
    assert_eq!(giulia.fetch_all("Delegated").await?.len(), 1, "filed");
    assert!(giulia.fetch_all("INBOX").await?.is_empty());
    let ledger = office.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].status, delega::state::Status::Done);
    assert_eq!(ledger[0].uidvalidity, 5151);
    // `status` counts what the database holds.
    let status = office.command(&["status"]).output()?;
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("0 waiting, 0 failed"), "{status}");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(marta.fetch_all("INBOX").await?.len(), 1, "forwarded once");
    Ok(())
}

#[test]
fn commands_end_quietly_when_their_reader_has_gone() {
    let ms = MailSystem::shared();
    let office = Office::new(ms);
    office.run_once_ok();
    let eml = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/corpus")
        .read_dir()
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "eml"))
        .expect("a fixture");
    let eml = eml.to_str().expect("utf-8 path");
    for args in [
        vec!["digest", "--preview"],
        vec!["status"],
        vec!["explain", eml],
    ] {
        // As `delega … | head -0`: the reader is gone before delega writes a byte.
        let mut child = office
            .command(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
    }
}

/// A plain-IMAP relay to `upstream` that goes silent once the login succeeded: the
/// connection stays open and what delega sends still reaches the server, but no answer
/// comes back (a server hung after login, or a middlebox that dropped the flow).
fn imap_relay_silent_after_login(upstream: u16) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let login_tag = Arc::new(Mutex::new(None::<String>));
            let silent = Arc::new(AtomicBool::new(false));
            let (mut to_server, from_client) = (server.try_clone().expect("clone"), client);
            let mut to_client = from_client.try_clone().expect("clone");
            let tag = Arc::clone(&login_tag);
            std::thread::spawn(move || {
                let mut lines = BufReader::new(from_client);
                let mut line = Vec::new();
                while lines.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                    let text = String::from_utf8_lossy(&line);
                    if text.to_ascii_uppercase().contains(" LOGIN ") {
                        *tag.lock().expect("tag") = text.split(' ').next().map(str::to_string);
                    }
                    if to_server.write_all(&line).is_err() {
                        return;
                    }
                    line.clear();
                }
            });
            let quiet = Arc::clone(&silent);
            std::thread::spawn(move || {
                let mut lines = BufReader::new(server);
                let mut line = Vec::new();
                while lines.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                    if !quiet.load(Ordering::Relaxed) {
                        let _ = to_client.write_all(&line);
                        let text = String::from_utf8_lossy(&line);
                        let tag = login_tag.lock().expect("tag").clone();
                        if tag.is_some_and(|t| text.starts_with(&format!("{t} OK"))) {
                            quiet.store(true, Ordering::Relaxed);
                        }
                    }
                    line.clear();
                }
                // Held open: the client must not see the connection close either.
                std::thread::park();
                drop(to_client);
            });
        }
    });
    port
}

/// Runs `cmd` and waits at most `bound` for it to end (killing it after that): its exit
/// status and stderr, or `None` if it was still running.
fn run_bounded(
    mut cmd: std::process::Command,
    bound: Duration,
) -> Option<(std::process::ExitStatus, String)> {
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn delega");
    let done = wait_until(bound, || child.try_wait().ok().flatten().is_some());
    if done.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    let out = child.wait_with_output().expect("output");
    Some((
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[tokio::test]
async fn an_imap_server_silent_after_login_fails_the_pass_at_the_timeout() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let office = Office::new(ms);
    office.run_once_ok();
    let relay = imap_relay_silent_after_login(ms.imap_port());
    let config = std::fs::read_to_string(office.config_path())?;
    let config = config
        .replace(
            &format!("port = {}, security = \"tls\"", ms.imaps_port()),
            &format!("port = {relay}, security = \"plain\""),
        )
        .replace("poll_secs = 5 }", "poll_secs = 5, timeout_secs = 2 }");
    std::fs::write(office.config_path(), config)?;
    // Logged in, then the first command gets no answer: the pass fails after 2 s, saying
    // so, instead of waiting for ever.
    let (status, stderr) = run_bounded(office.command(&["run", "--once"]), PATIENCE)
        .expect("delega run --once still waiting on a silent IMAP server");
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("no answer from localhost:{relay} within 2s")),
        "{stderr}"
    );
    Ok(())
}

#[tokio::test]
async fn a_password_command_that_hangs_is_cut_at_the_timeout_and_never_holds_a_stop()
-> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let mut office = Office::new(ms);
    office.imap_login = "password_command = \"sleep 600\", timeout_secs = 2".into();
    office.write_config();
    let (status, stderr) = run_bounded(office.command(&["run", "--once"]), PATIENCE)
        .expect("delega run --once still waiting on password_command");
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("password_command did not finish within 2s"),
        "{stderr}"
    );

    // The daemon, with the default 30 s: SIGTERM while the command hangs ends it at once.
    office.imap_login = "password_command = \"sleep 600\"".into();
    office.write_config();
    let mut daemon = office.spawn();
    let mut command = Vec::new();
    let started = wait_until(PATIENCE, || {
        command = children(daemon.pid());
        !command.is_empty()
    });
    assert!(started.is_some(), "{}", office.daemon_log());
    let status = daemon.terminate(Duration::from_secs(5));
    let status = status
        .unwrap_or_else(|| panic!("still running 5 s after SIGTERM:\n{}", office.daemon_log()));
    assert!(status.success(), "{}", office.daemon_log());
    // And the command was killed, not left behind.
    for pid in command {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next();
        assert!(matches!(state, None | Some("Z")), "{pid}: {stat}");
    }
    Ok(())
}

/// The processes `pid` started (through any of its threads) that are still running.
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// A plain-SMTP relay to `upstream` that hands the whole message over but never passes on
/// the server's answer to its end (the `.` line): the server has the forward, delega
/// hears nothing, the worst moment to be stopped.
fn smtp_relay_silent_after_data(upstream: u16) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let silent = Arc::new(AtomicBool::new(false));
            let mut to_server = server.try_clone().expect("clone");
            let mut to_client = client.try_clone().expect("clone");
            let quiet = Arc::clone(&silent);
            std::thread::spawn(move || {
                let mut lines = BufReader::new(client);
                let (mut line, mut data) = (Vec::new(), false);
                while lines.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                    if !data && line.eq_ignore_ascii_case(b"DATA\r\n") {
                        data = true;
                    } else if data && line == b".\r\n" {
                        // From here on the server's words are dropped.
                        quiet.store(true, Ordering::Relaxed);
                    }
                    if to_server.write_all(&line).is_err() {
                        return;
                    }
                    line.clear();
                }
            });
            std::thread::spawn(move || {
                let mut lines = BufReader::new(server);
                let mut line = Vec::new();
                while lines.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                    if !silent.load(Ordering::Relaxed) {
                        let _ = to_client.write_all(&line);
                    }
                    line.clear();
                }
                std::thread::park();
                drop(to_client);
            });
        }
    });
    port
}

#[tokio::test]
async fn sigterm_while_the_server_holds_a_forward_unanswered_exits_0_within_5_s_and_flags_it()
-> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let mut office = Office::new(ms);
    office.smtp = SmtpRoute::Plain(smtp_relay_silent_after_data(ms.smtp_port()));
    office.write_config();
    office.run_once_ok();
    let mut giulia = office.deliver(ms, &["015-meeting-request"]).await?;
    let mut daemon = office.spawn();
    // The message went out and no answer comes: the forward is in doubt.
    let state = |office: &Office| -> Vec<OutboxState> {
        let state = office.state();
        office
            .ledger()
            .iter()
            .filter_map(|e| state.outbox_for(e.id).ok().flatten())
            .map(|o| o.state)
            .collect()
    };
    let held = wait_until(PATIENCE, || state(&office) == [OutboxState::InDoubt]);
    assert!(held.is_some(), "{}", office.daemon_log());

    let asked = Instant::now();
    let status = daemon.terminate(Duration::from_secs(5));
    let took = asked.elapsed();
    let status = status
        .unwrap_or_else(|| panic!("still running 5 s after SIGTERM:\n{}", office.daemon_log()));
    assert!(status.success(), "{status}\n{}", office.daemon_log());
    eprintln!("SIGTERM with the SMTP server silent after DATA: exit 0 after {took:?}");

    // Nothing lost: the original waits in the Inbox, the forward is pending again and
    // flagged, since the server may have it (it does).
    assert_eq!(giulia.fetch_all("INBOX").await?.len(), 1);
    let row = office
        .state()
        .outbox_for(office.ledger()[0].id)?
        .expect("outbox row");
    assert_eq!(row.state, OutboxState::Pending);
    assert!(row.may_be_duplicate());
    office.smtp = SmtpRoute::Plain(ms.smtp_port());
    office.write_config();
    let out = office.run_once_ok();
    assert!(out.contains("1 forwarded"), "{out}");
    let mut marta = TestImap::login(ms, &office.marta).await?;
    marta.wait_for("INBOX", 2, PATIENCE).await?;
    let status = office.command(&["status"]).output()?;
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("1 may have gone twice"), "{status}");
    assert_eq!(giulia.fetch_all("Delegated").await?.len(), 1);
    Ok(())
}
