//! Delegation end to end through the real Postfix and Dovecot: the forward reaches the right
//! assistant with the instructions, a Reply-To and the original intact; exactly one forward
//! whatever crashes; forwards wait out an SMTP outage; loops are never forwarded.

use std::time::Duration;

use delega::classify::Category;
use delega::state::{OutboxState, Status};
use mail_parser::{MessageParser, MimeHeaders};

use crate::support::MailSystem;
use crate::support::imap::TestImap;
use crate::support::office::{Office, SmtpRoute, fixture, wait_until};

/// Bounds waits for Postfix to deliver; delivery takes milliseconds.
const DELIVERY: Duration = Duration::from_secs(20);

/// After the expected forward arrived, how long to watch for an unwanted second one.
const SETTLE: Duration = Duration::from_millis(1500);

/// The raw bytes of the message/rfc822 part of a forward.
fn attached_original(forward: &[u8]) -> Vec<u8> {
    let msg = MessageParser::default()
        .parse(forward)
        .expect("a forward parses");
    let part = msg
        .parts
        .iter()
        .find(|p| {
            p.content_type()
                .is_some_and(|ct| ct.ctype() == "message" && ct.subtype() == Some("rfc822"))
        })
        .expect("the forward attaches the original as message/rfc822");
    forward[part.offset_body as usize..part.offset_end as usize].to_vec()
}

#[tokio::test]
async fn a_delegable_message_reaches_its_assistant_with_instructions_and_the_original_intact()
-> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let office = Office::new(ms);
    office.run_once_ok();
    let original = fixture("012-supplier-invoice");
    let mut giulia = TestImap::login(ms, &office.giulia).await?;
    giulia.append("INBOX", &original, &[]).await?;
    let out = office.run_once_ok();
    assert!(out.contains("1 forwarded"), "{out}");

    let mut marta = TestImap::login(ms, &office.marta).await?;
    let received = marta.wait_for("INBOX", 1, DELIVERY).await?;
    let forward = &received[0].raw;
    let parsed = MessageParser::default().parse(forward).expect("parses");
    let subject = parsed.subject().unwrap_or_default();
    assert!(subject.starts_with("[delega] "), "{subject}");
    let original_parsed = MessageParser::default().parse(&original).expect("parses");
    let client = original_parsed
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .expect("sender");
    let reply_to = parsed
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .expect("Reply-To");
    assert_eq!(
        reply_to,
        original_parsed
            .reply_to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or(client)
    );
    assert_eq!(
        parsed.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-generated")
    );
    assert!(parsed.header_raw("X-Delega-Forward").is_some());
    let text = parsed.body_text(0).expect("a text part");
    assert!(
        text.contains("Registra la fattura"),
        "the invoices rule's instructions: {text}"
    );
    assert!(text.contains(client), "who sent it");

    // The original travels byte for byte (a real server may only add nothing to it).
    let attached = attached_original(forward);
    assert_eq!(
        attached.trim_ascii_end(),
        original.trim_ascii_end(),
        "original altered in the forward"
    );

    // The entrepreneur's copy is filed, and nobody else got a forward.
    assert_eq!(giulia.fetch_all("Delegated").await?.len(), 1);
    assert!(giulia.fetch_all("INBOX").await?.is_empty());
    let mut luca = TestImap::login(ms, &office.luca).await?;
    assert!(luca.fetch_all("INBOX").await?.is_empty());
    let row = &office.ledger()[0];
    assert_eq!(row.status, Status::Done);
    let outbox = office.state().outbox_for(row.id)?.expect("outbox row");
    assert_eq!(outbox.state, OutboxState::Sent);
    Ok(())
}

/// A crash at each point of a forward, then a restart: how many copies reach the
/// assistant, and whether delega must say it may have sent one twice. Only a crash after
/// the message went out (`in-data` marks the go-ahead to DATA, `after-send` the server's
/// acceptance) leaves doubt; everything before it is simply sent again.
#[tokio::test]
async fn each_failpoint_then_a_restart_delivers_the_forward_and_flags_only_the_data_window()
-> anyhow::Result<()> {
    let ms = MailSystem::shared();
    for (point, copies, in_doubt) in [
        ("before-send", 1, false),
        ("in-data", 1, true),
        ("after-send", 2, true),
        ("before-move", 1, false),
    ] {
        let office = Office::new(ms);
        office.run_once_ok();
        let mut giulia = TestImap::login(ms, &office.giulia).await?;
        giulia
            .append("INBOX", &fixture("015-meeting-request"), &[])
            .await?;

        let crashed = office
            .command(&["run", "--once"])
            .env("DELEGA_FAILPOINT", point)
            .output()?;
        assert!(
            !crashed.status.success(),
            "{point}: the failpoint aborts the process"
        );
        office.run_once_ok();

        let mut marta = TestImap::login(ms, &office.marta).await?;
        marta.wait_for("INBOX", copies, DELIVERY).await?;
        std::thread::sleep(SETTLE);
        let received = marta.fetch_all("INBOX").await?;
        assert_eq!(received.len(), copies, "{point}: copies received");
        // A copy sent again is the same forward: providers that drop duplicates by
        // Message-ID drop it, and the assistant can tell.
        let ids: Vec<String> = received
            .iter()
            .map(|m| {
                let parsed = MessageParser::default().parse(&m.raw).expect("parses");
                parsed.message_id().unwrap_or_default().to_string()
            })
            .collect();
        assert!(
            ids.iter().all(|id| id == &ids[0] && !id.is_empty()),
            "{point}: {ids:?}"
        );
        assert_eq!(
            giulia.fetch_all("Delegated").await?.len(),
            1,
            "{point}: filed"
        );
        assert!(giulia.fetch_all("INBOX").await?.is_empty(), "{point}");
        let ledger = office.ledger();
        assert_eq!(ledger.len(), 1, "{point}: decided once");
        assert_eq!(ledger[0].status, Status::Done, "{point}");
        let outbox = office
            .state()
            .outbox_for(ledger[0].id)?
            .expect("outbox row");
        assert_eq!(outbox.state, OutboxState::Sent, "{point}");
        assert!(ids[0].contains(&outbox.forward_id), "{point}: {ids:?}");
        assert_eq!(outbox.may_be_duplicate(), in_doubt, "{point}");

        // `status` and the digest list it, by subject.
        let status = office.command(&["status"]).output()?;
        let status = String::from_utf8_lossy(&status.stdout);
        let preview = office.command(&["digest", "--preview"]).output()?;
        let preview = String::from_utf8_lossy(&preview.stdout);
        let flagged = format!("{} may have gone twice", u8::from(in_doubt));
        assert!(status.contains(&flagged), "{point}: {status}");
        assert_eq!(
            status.contains("maybe twice: "),
            in_doubt,
            "{point}: {status}"
        );
        assert_eq!(
            preview.contains("forward maybe twice"),
            in_doubt,
            "{point}: {preview}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn forwards_go_out_over_implicit_tls_and_plaintext_and_never_to_an_unverified_server()
-> anyhow::Result<()> {
    let ms = MailSystem::shared();
    // STARTTLS is what every other test uses.
    for route in [
        SmtpRoute::Smtps(ms.smtps_port()),
        SmtpRoute::Plain(ms.smtp_port()),
    ] {
        let mut office = Office::new(ms);
        office.smtp = route;
        office.write_config();
        office.run_once_ok();
        office
            .deliver(ms, &["012-supplier-invoice", "021-translation"])
            .await?;
        // Two forwards in one pass: the second one goes over the first one's connection.
        let out = office.run_once_ok();
        assert!(out.contains("2 forwarded"), "{route:?}: {out}");
        let mut marta = TestImap::login(ms, &office.marta).await?;
        marta.wait_for("INBOX", 1, DELIVERY).await?;
        let mut luca = TestImap::login(ms, &office.luca).await?;
        luca.wait_for("INBOX", 1, DELIVERY).await?;
    }

    // Without the test CA, the server's certificate does not verify: nothing is sent.
    let mut office = Office::new(ms);
    office.smtp = SmtpRoute::Smtps(ms.smtps_port());
    office.smtp_trusts_test_ca = false;
    office.write_config();
    office.run_once_ok();
    let mut giulia = office.deliver(ms, &["012-supplier-invoice"]).await?;
    let out = office.run_once_ok();
    assert!(out.contains("0 forwarded, 1 waiting"), "{out}");
    let row = &office.ledger()[0];
    let outbox = office.state().outbox_for(row.id)?.expect("outbox row");
    let error = outbox.last_error.unwrap_or_default();
    assert!(error.contains("TLS handshake"), "{error}");
    assert_eq!(giulia.fetch_all("INBOX").await?.len(), 1, "kept until sent");
    let mut marta = TestImap::login(ms, &office.marta).await?;
    assert!(marta.fetch_all("INBOX").await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_second_copy_of_a_forwarded_message_stays_in_the_inbox() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let office = Office::new(ms);
    office.run_once_ok();
    let invoice = fixture("012-supplier-invoice");
    let mut giulia = TestImap::login(ms, &office.giulia).await?;
    giulia.append("INBOX", &invoice, &[]).await?;
    assert!(office.run_once_ok().contains("1 forwarded"));

    // The same message (same Message-ID) delivered again, e.g. through a mailing list.
    giulia.append("INBOX", &invoice, &[]).await?;
    let out = office.run_once_ok();
    assert!(out.contains("0 forwarded"), "{out}");
    let copy = office.ledger().into_iter().last().expect("the copy's row");
    assert_eq!(copy.decision.category, Category::Strategic);
    assert!(
        copy.decision.why.contains("already forwarded"),
        "{}",
        copy.decision.why
    );
    assert_eq!(giulia.fetch_all("INBOX").await?.len(), 1, "the copy stays");
    let mut marta = TestImap::login(ms, &office.marta).await?;
    marta.wait_for("INBOX", 1, DELIVERY).await?;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(marta.fetch_all("INBOX").await?.len(), 1, "one forward only");
    Ok(())
}

#[tokio::test]
async fn forwards_wait_while_postfix_is_down_and_go_out_when_it_returns() -> anyhow::Result<()> {
    let ms = MailSystem::start_dedicated();
    let office = Office::new(&ms);
    office.run_once_ok();
    let mut giulia = TestImap::login(&ms, &office.giulia).await?;
    giulia
        .append("INBOX", &fixture("021-translation"), &[])
        .await?;

    ms.stop_postfix();
    let out = office.run_once_ok();
    assert!(out.contains("0 forwarded, 1 waiting"), "{out}");
    assert_eq!(
        giulia.fetch_all("INBOX").await?.len(),
        1,
        "kept until the forward is out"
    );
    let row = &office.ledger()[0];
    assert_eq!(row.status, Status::Pending);
    let outbox = office.state().outbox_for(row.id)?.expect("outbox row");
    assert_eq!((outbox.state, outbox.attempts), (OutboxState::Pending, 1));

    ms.start_postfix();
    let out = office.run_once_ok();
    assert!(out.contains("1 forwarded"), "{out}");
    let mut luca = TestImap::login(&ms, &office.luca).await?;
    luca.wait_for("INBOX", 1, DELIVERY).await?;
    assert_eq!(giulia.fetch_all("Delegated").await?.len(), 1);
    assert_eq!(office.ledger()[0].status, Status::Done);
    Ok(())
}

#[tokio::test]
async fn mail_from_assistants_auto_replies_and_delegas_own_forwards_are_never_forwarded()
-> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let mut office = Office::new(ms);
    // One rule that would delegate all of them: only the guards keep them back.
    std::fs::create_dir(office.dir.path().join("rules"))?;
    std::fs::write(
        office.dir.path().join("rules/10.toml"),
        "[[rule]]\nname = \"everything\"\ncategory = \"delegable\"\nassistant = \"marta\"\n\
         instructions = \"Handle it.\"\nwhen = { subject = \"fattura\" }\n",
    )?;
    office.rules_dir = office.dir.path().join("rules");
    office.write_config();
    office.run_once_ok();

    let from_assistant = format!(
        "From: Marta <{}>\r\nTo: {}\r\nSubject: Re: fattura 114\r\nMessage-ID: <m1@x>\r\n\r\nFatto.\r\n",
        office.marta, office.giulia
    );
    let auto_reply = format!(
        "From: Ufficio <info@supplier.example>\r\nTo: {}\r\nSubject: Risposta automatica: fattura\r\n\
         Auto-Submitted: auto-replied\r\nMessage-ID: <m2@x>\r\n\r\nSono fuori ufficio.\r\n",
        office.giulia
    );
    let own_forward = format!(
        "From: <{}>\r\nTo: {}\r\nSubject: [delega] fattura\r\nX-Delega-Forward: giulia.1.1\r\n\
         Message-ID: <m3@x>\r\n\r\nA forward.\r\n",
        office.sender, office.giulia
    );
    let mut giulia = TestImap::login(ms, &office.giulia).await?;
    for raw in [&from_assistant, &auto_reply, &own_forward] {
        giulia.append("INBOX", raw.as_bytes(), &[]).await?;
    }
    let out = office.run_once_ok();
    assert!(out.contains("3 strategic, 0 delegable"), "{out}");

    let ledger = office.ledger();
    let whys: Vec<&str> = ledger.iter().map(|r| r.decision.why.as_str()).collect();
    assert!(whys[0].contains("comes from the assistant"), "{}", whys[0]);
    assert!(whys[1].contains("sent by a machine"), "{}", whys[1]);
    assert!(
        whys[2].contains("delega sent this message itself"),
        "{}",
        whys[2]
    );
    assert_eq!(
        giulia.fetch_all("INBOX").await?.len(),
        3,
        "kept in the Inbox"
    );
    let mut marta = TestImap::login(ms, &office.marta).await?;
    std::thread::sleep(SETTLE);
    assert!(
        marta.fetch_all("INBOX").await?.is_empty(),
        "no forward went out"
    );
    Ok(())
}

#[tokio::test]
async fn beyond_the_hourly_limit_forwards_wait_in_the_inbox() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let mut office = Office::new(ms);
    office.account_extra = "forward = { max_per_hour = 1 }".into();
    office.write_config();
    office.run_once_ok();
    let mut giulia = office
        .deliver(ms, &["015-meeting-request", "017-order-shipped"])
        .await?;
    let out = office.run_once_ok();
    assert!(out.contains("1 forwarded, 1 waiting"), "{out}");

    let mut marta = TestImap::login(ms, &office.marta).await?;
    marta.wait_for("INBOX", 1, DELIVERY).await?;
    std::thread::sleep(SETTLE);
    assert_eq!(
        marta.fetch_all("INBOX").await?.len(),
        1,
        "only one within the hour"
    );
    assert_eq!(
        giulia.fetch_all("INBOX").await?.len(),
        1,
        "the other waits in the Inbox"
    );
    let statuses: Vec<Status> = office.ledger().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Status::Done, Status::Pending]);
    Ok(())
}

#[tokio::test]
async fn a_daemon_the_hourly_limit_holds_back_waits_for_the_limit_not_a_pass_a_second()
-> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let mut office = Office::new(ms);
    office.account_extra = "forward = { max_per_hour = 1 }".into();
    office.write_config();
    office.run_once_ok();
    office
        .deliver(ms, &["015-meeting-request", "017-order-shipped"])
        .await?;
    let _daemon = office.spawn();
    let passes = || office.daemon_log().matches("pass done").count();
    let first = wait_until(DELIVERY, || passes() >= 1);
    assert!(first.is_some(), "{}", office.daemon_log());
    // The waiting forward is due now, but the limit lets it go only in an hour: the daemon
    // waits for mail until then, instead of a pass (and its IMAP commands) every second.
    std::thread::sleep(Duration::from_secs(4));
    let log = office.daemon_log();
    assert_eq!(passes(), 1, "{log}");
    assert!(log.contains("forwarded=1 waiting=1"), "{log}");
    Ok(())
}
