//! The test harness itself: the mail system starts, IMAP keeps a message's exact bytes, and
//! mail sent to Postfix over SMTP lands in the recipient's Dovecot inbox. If these fail, every
//! other integration test fails for the same reason; start here.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};

use crate::support::MailSystem;
use crate::support::imap::TestImap;

/// Postfix hands mail to Dovecot within milliseconds; this only bounds a broken setup.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);

#[tokio::test]
async fn appended_message_is_fetched_back_byte_for_byte() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let user = ms.new_user("giulia");
    let raw = b"From: Anna Rossi <anna@example.com>\r\n\
        To: giulia@delega.test\r\n\
        Subject: Preventivo =?UTF-8?Q?caff=C3=A8?=\r\n\
        Message-ID: <harness-append@example.com>\r\n\
        \r\n\
        Buongiorno,\r\n\
        ecco il preventivo.\r\n";

    let mut imap = TestImap::login(ms, &user).await?;
    imap.append("INBOX", raw, &["\\Flagged"]).await?;
    let messages = imap.fetch_all("INBOX").await?;

    assert_eq!(messages.len(), 1, "{messages:?}");
    let stored = &messages[0];
    assert_eq!(
        stored.raw,
        raw,
        "stored:\n{}",
        String::from_utf8_lossy(&stored.raw)
    );
    assert!(stored.flags.iter().any(|f| f == "\\Flagged"), "{stored:?}");
    assert!(
        !stored.flags.iter().any(|f| f == "\\Seen"),
        "fetching marked it seen"
    );
    imap.logout().await
}

#[tokio::test]
async fn mail_sent_over_smtp_arrives_in_the_recipients_inbox() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let user = ms.new_user("giulia");
    let subject = format!("Harness delivery to {user}");
    let raw = format!(
        "From: Anna Rossi <anna@example.com>\r\n\
         To: {user}\r\n\
         Subject: {subject}\r\n\
         Message-ID: <harness-smtp-{user}>\r\n\
         \r\n\
         Through Postfix and LMTP."
    );
    let envelope = Envelope::new(Some("anna@example.com".parse()?), vec![user.parse()?])?;
    let smtp = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(ms.smtp_port())
        .build();

    smtp.send_raw(&envelope, raw.as_bytes()).await?;

    let mut imap = TestImap::login(ms, &user).await?;
    let messages = imap.wait_for("INBOX", 1, DELIVERY_TIMEOUT).await?;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let delivered = String::from_utf8_lossy(&messages[0].raw);
    // Delivery prepends Return-Path, Delivered-To and Received; the message follows intact.
    // lettre ends DATA with "\r\n.\r\n" whatever the message ends with: that CRLF is the
    // message's last line end (a message ending in CRLF would arrive with an extra blank line).
    assert!(
        delivered.contains(&format!("Delivered-To: {user}\r\n")),
        "{delivered}"
    );
    assert!(delivered.ends_with(&format!("{raw}\r\n")), "{delivered}");
    imap.logout().await
}
