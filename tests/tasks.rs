//! Tasks end to end on the real Postfix and Dovecot: a forward is a task with a
//! reference; the assistant (a second SMTP client here) answers the client with the
//! entrepreneur in Cc → answered; sends the "done" link → done; those status mails are
//! filed with the delegated mail, not left in the Inbox and not forwarded back. An overdue
//! task reminds its assistant exactly once per working day (time passed in through the
//! database: the task is dated back, nothing sleeps).

use std::time::Duration;

use delega::config::Language;
use delega::forward::notice;
use delega::state::TaskFilter;
use delega::task::{Forwarded, TaskState};
use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use mail_parser::MessageParser;

use crate::support::MailSystem;
use crate::support::imap::TestImap;
use crate::support::office::Office;

/// Bounds waits for Postfix to deliver; delivery takes milliseconds.
const DELIVERY: Duration = Duration::from_secs(20);

/// The assistant's own mail client: sends `raw` from `from` to `to` through Postfix.
async fn assistant_sends(ms: &MailSystem, from: &str, to: &str, raw: &str) -> anyhow::Result<()> {
    let envelope = Envelope::new(Some(from.parse()?), vec![to.parse()?])?;
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(ms.smtp_port())
        .build()
        .send_raw(&envelope, raw.as_bytes())
        .await?;
    Ok(())
}

fn office_with_tasks(ms: &MailSystem) -> Office {
    let mut office = Office::new(ms);
    // Every hour is a working hour: the test runs whenever it runs.
    office.account_extra =
        "work_hours = \"Mon-Sun 00:00-23:59\"\ndue = \"1h\"\nremind = true".into();
    office.write_config();
    office
}

#[tokio::test]
async fn an_assistants_reply_answers_the_task_and_the_done_link_closes_it() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let office = office_with_tasks(ms);
    office.run_once_ok();
    let mut giulia = office.deliver(ms, &["012-supplier-invoice"]).await?;
    office.run_once_ok();

    // The forward carries the reference, the Cc instruction and the done link.
    let mut marta = TestImap::login(ms, &office.marta).await?;
    let forward = marta.wait_for("INBOX", 1, DELIVERY).await?.remove(0).raw;
    let parsed = MessageParser::default().parse(&forward).expect("parses");
    let subject = parsed.subject().unwrap_or_default().to_string();
    let task = office
        .state()
        .tasks("giulia", &TaskFilter::default())?
        .remove(0);
    assert_eq!(task.state, TaskState::Open);
    let reference = task.reference.to_string();
    assert!(
        subject.starts_with(&format!("[delega] [{reference}] ")),
        "{subject}"
    );
    let text = parsed.body_text(0).expect("text").to_string();
    assert!(text.starts_with(&format!("Task {reference}")), "{text}");
    assert!(
        text.contains(&format!("keep {} in Cc", office.giulia)),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "mailto:{}?subject=DONE%20{reference}",
            office.giulia
        )),
        "{text}"
    );
    let forward_id = parsed.message_id().expect("Message-ID").to_string();

    // Marta answers the client, Giulia in Cc, as a reply to the forward.
    let answer = format!(
        "From: Marta Verdi <{marta}>\r\nTo: Fornitore <billing@supplier.example>\r\n\
         Cc: {giulia}\r\nSubject: Re: {subject}\r\nMessage-ID: <answer-{reference}@office.example>\r\n\
         In-Reply-To: <{forward_id}>\r\nReferences: <{forward_id}>\r\n\r\n\
         Gentile fornitore, la fattura e' registrata e il pagamento programmato.\r\n",
        marta = office.marta,
        giulia = office.giulia,
    );
    assistant_sends(ms, &office.marta, &office.giulia, &answer).await?;
    giulia.wait_for("INBOX", 1, DELIVERY).await?;
    let out = office.run_once_ok();
    assert!(out.contains("0 forwarded"), "{out}");
    let t = office.state().task_for(task.ledger_id)?.expect("task");
    assert_eq!(t.state, TaskState::Answered);
    assert!(
        giulia.fetch_all("INBOX").await?.is_empty(),
        "filed, not left in the Inbox"
    );
    assert_eq!(
        giulia.fetch_all("Delegated").await?.len(),
        2,
        "with the task"
    );

    // Then the one-click "done": the mailto as a mail client sends it.
    let done = format!(
        "From: Marta Verdi <{marta}>\r\nTo: {giulia}\r\nSubject: DONE {reference}\r\n\
         Message-ID: <done-{reference}@office.example>\r\n\r\nTask completed.\r\n",
        marta = office.marta,
        giulia = office.giulia,
    );
    assistant_sends(ms, &office.marta, &office.giulia, &done).await?;
    giulia.wait_for("INBOX", 1, DELIVERY).await?;
    office.run_once_ok();
    let t = office.state().task_for(task.ledger_id)?.expect("task");
    assert_eq!(t.state, TaskState::Done);
    assert!(t.closed_at.is_some());
    assert!(giulia.fetch_all("INBOX").await?.is_empty());
    assert_eq!(giulia.fetch_all("Delegated").await?.len(), 3);
    // Never forwarded back: Marta still has only the forward, Luca nothing.
    assert_eq!(marta.fetch_all("INBOX").await?.len(), 1);
    let mut luca = TestImap::login(ms, &office.luca).await?;
    assert!(luca.fetch_all("INBOX").await?.is_empty());

    let out = office.command(&["tasks", "--done"]).output()?;
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains("giulia: 0 open (0 overdue), 1 done"),
        "{listing}"
    );
    assert!(listing.contains(&format!("{reference}  done")), "{listing}");

    // The entrepreneur's own correction.
    let out = office
        .command(&["task", "reopen", &reference.to_lowercase()])
        .output()?;
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("done → open"), "{said}");
    let out = office.command(&["task", "drop", "T-ZZZZ"]).output()?;
    assert_eq!(out.status.code(), Some(2));
    Ok(())
}

#[tokio::test]
async fn an_overdue_task_reminds_its_assistant_once_per_working_day() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let office = office_with_tasks(ms);
    office.run_once_ok();
    office.deliver(ms, &["021-translation"]).await?;
    office.run_once_ok();
    let task = office
        .state()
        .tasks("giulia", &TaskFilter::default())?
        .remove(0);
    let assistant = match task.assistant.as_str() {
        "marta" => office.marta.clone(),
        _ => office.luca.clone(),
    };
    let mut inbox = TestImap::login(ms, &assistant).await?;
    inbox.wait_for("INBOX", 1, DELIVERY).await?;

    // Not due yet: no reminder.
    assert!(!office.run_once_ok().contains("reminder"));
    // Two hours pass (due = 1h).
    let db = rusqlite::Connection::open(office.dir.path().join("state.db"))?;
    db.execute(
        "UPDATE task SET created_at = created_at - 7200, due_at = due_at - 7200 WHERE id = ?1",
        [task.id],
    )?;
    let out = office.run_once_ok();
    assert!(out.contains("1 reminder(s) of overdue tasks sent"), "{out}");
    let got = inbox.wait_for("INBOX", 2, DELIVERY).await?;
    let reminder = MessageParser::default().parse(&got[1].raw).expect("parses");
    let subject = reminder.subject().unwrap_or_default();
    assert!(
        subject.contains(&format!("Reminder {}", task.reference)),
        "{subject}"
    );
    let answers = reminder.in_reply_to().as_text().unwrap_or_default();
    assert!(
        answers.starts_with(&format!("{}@", task.forward_id)),
        "{answers}"
    );
    assert!(
        reminder.header_raw("X-Delega-Forward").is_some(),
        "delega's own mail"
    );
    // The same working day: never a second one.
    assert!(!office.run_once_ok().contains("reminder"));
    assert!(!office.run_once_ok().contains("reminder"));
    // The next working day (its record says yesterday): exactly one more.
    db.execute(
        "UPDATE task SET reminded_day = '2000-01-01' WHERE id = ?1",
        [task.id],
    )?;
    assert!(office.run_once_ok().contains("1 reminder(s)"));
    inbox.wait_for("INBOX", 3, DELIVERY).await?;
    assert!(!office.run_once_ok().contains("reminder"));
    assert_eq!(inbox.fetch_all("INBOX").await?.len(), 3);

    let status = office.command(&["status"]).output()?;
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains("tasks:         1 open, 1 overdue, 0 not sent"),
        "{status}"
    );
    let out = office.command(&["tasks", "--overdue"]).output()?;
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains(&format!("{}  overdue", task.reference)),
        "{listing}"
    );
    Ok(())
}

#[tokio::test]
async fn a_reminder_sent_this_hour_counts_against_the_forwards_hourly_limit() -> anyhow::Result<()>
{
    let ms = MailSystem::shared();
    let mut office = Office::new(ms);
    office.account_extra = "work_hours = \"Mon-Sun 00:00-23:59\"\ndue = \"1h\"\nremind = true\n\
         forward = { max_per_hour = 2 }"
        .into();
    office.write_config();
    office.run_once_ok();
    office.deliver(ms, &["021-translation"]).await?;
    assert!(office.run_once_ok().contains("1 forwarded, 0 waiting"));
    // Two hours pass: the forward leaves the hour, its task is overdue and reminds.
    let db = rusqlite::Connection::open(office.dir.path().join("state.db"))?;
    db.execute_batch(
        "UPDATE task SET created_at = created_at - 7200, due_at = due_at - 7200;
         UPDATE outbox SET sent_at = sent_at - 7200;",
    )?;
    let out = office.run_once_ok();
    assert!(out.contains("1 reminder(s) of overdue tasks sent"), "{out}");

    // One reminder this hour, a limit of 2: of two new forwards, one goes now.
    let mut giulia = office
        .deliver(ms, &["015-meeting-request", "017-order-shipped"])
        .await?;
    let out = office.run_once_ok();
    assert!(out.contains("1 forwarded, 1 waiting"), "{out}");
    assert!(
        out.contains("hourly limit reached (forwards and reminders of the last hour)"),
        "the log says why: {out}"
    );
    assert_eq!(
        giulia.fetch_all("INBOX").await?.len(),
        1,
        "the other waits in the Inbox"
    );
    let tasks = office.state().tasks("giulia", &TaskFilter::default())?;
    let waiting = tasks.iter().filter(|t| t.forward == Forwarded::Waiting);
    assert_eq!(waiting.count(), 1, "{tasks:?}");
    // And `delega status` says why it waits.
    let status = office.command(&["status"]).output()?;
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("forwards:      1 waiting,"), "{status}");
    assert!(
        status.contains(
            "hourly limit:  2 of 2 sent in the last hour (forwards and reminders); the next may go at "
        ),
        "{status}"
    );
    Ok(())
}

#[tokio::test]
async fn a_refused_forwards_task_is_not_sent_until_delegated_anew_by_hand() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let office = office_with_tasks(ms);
    office.run_once_ok();
    // Luca's address is one the server refuses for good (550 at RCPT).
    let good = std::fs::read_to_string(office.config_path())?;
    std::fs::write(
        office.config_path(),
        good.replace(&office.luca, "luca@elsewhere.example"),
    )?;
    let mut giulia = office.deliver(ms, &["021-translation"]).await?;
    office.run_once_ok();
    let task = office
        .state()
        .tasks("giulia", &TaskFilter::default())?
        .remove(0);
    let reference = task.reference.to_string();
    assert_eq!(
        (task.assistant.as_str(), task.state),
        ("luca", TaskState::Open)
    );
    let Forwarded::NotSent { error, .. } = &task.forward else {
        panic!("refused for good: {:?}", task.forward);
    };
    assert!(error.contains("550"), "{error}");
    assert_eq!(
        giulia.fetch_all("INBOX").await?.len(),
        1,
        "kept in the Inbox"
    );

    let text = |args: &[&str]| -> anyhow::Result<String> {
        let out = office.command(args).output()?;
        assert!(out.status.success(), "{args:?}");
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let listing = text(&["tasks"])?;
    assert!(
        listing.contains("giulia: 0 open (0 overdue), 0 done in the last 30 days, 1 not sent"),
        "{listing}"
    );
    assert!(
        listing.contains("Luca Bianchi: 0 open, 0 overdue, 0 done, 1 not sent"),
        "{listing}"
    );
    let line = listing
        .lines()
        .find(|l| l.contains(&reference))
        .expect("the task is listed");
    assert!(line.contains(&format!("{reference}  not sent")), "{line}");
    assert!(line.contains("reason: permanent error (550)"), "{line}");
    assert!(listing.contains("not sent again, not even by `delega retry`"));
    assert!(text(&["tasks", "--not-sent"])?.contains(&reference));
    assert!(!text(&["tasks", "--open"])?.contains(&reference));
    let status = text(&["status"])?;
    assert!(
        status.contains("tasks:         0 open, 0 overdue, 1 not sent"),
        "{status}"
    );
    let digest = text(&["digest", "--preview"])?;
    assert!(
        digest.contains("Luca Bianchi: done 0, open 0, overdue 0, not sent 1"),
        "{digest}"
    );
    assert!(digest.contains("550"), "{digest}");

    // The address fixed, `delega retry` does not send it: a refusal for good stays one.
    std::fs::write(office.config_path(), &good)?;
    text(&["retry"])?;
    let again = office.state().task_for(task.ledger_id)?.expect("task");
    assert!(matches!(again.forward, Forwarded::NotSent { .. }));
    let mut luca = TestImap::login(ms, &office.luca).await?;
    assert!(luca.fetch_all("INBOX").await?.is_empty());

    // Moved into Delegated by hand, it is delegated anew: a new task, due from now.
    let uid = giulia.fetch_all("INBOX").await?[0].uid;
    giulia.uid_move(uid, "INBOX", "Delegated").await?;
    let before = jiff::Timestamp::now().as_second();
    office.run_once_ok();
    let forward = luca.wait_for("INBOX", 1, DELIVERY).await?.remove(0).raw;
    let tasks = office.state().tasks("giulia", &TaskFilter::default())?;
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    let anew = &tasks[1];
    assert_eq!(
        (anew.state, &anew.forward),
        (TaskState::Open, &Forwarded::Sent)
    );
    assert!(anew.created_at >= before);
    assert_eq!(tasks[0].redelegated.as_ref(), Some(&anew.reference));
    let subject = MessageParser::default()
        .parse(&forward)
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_default();
    assert!(
        subject.contains(&format!("[{}]", anew.reference)),
        "{subject}"
    );
    let listing = text(&["tasks"])?;
    assert!(
        listing.contains("giulia: 1 open (0 overdue), 0 done in the last 30 days\n"),
        "{listing}"
    );
    assert!(!listing.contains(&reference), "{listing}");
    let status = text(&["status"])?;
    assert!(
        status.contains("tasks:         1 open, 0 overdue, 0 not sent"),
        "{status}"
    );
    Ok(())
}

#[tokio::test]
async fn changing_due_in_the_config_keeps_the_due_time_a_task_was_given() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let mut office = office_with_tasks(ms);
    office.run_once_ok();
    office.deliver(ms, &["021-translation"]).await?;
    office.run_once_ok();
    let first = office
        .state()
        .tasks("giulia", &TaskFilter::default())?
        .remove(0);
    assert!(first.due_fixed);
    let due = first.due_at.expect("due = 1h");
    // One working hour (every day 00:00-23:59 here: at most the minute off at midnight).
    assert!(
        (3600..=3660).contains(&(due - first.created_at)),
        "{first:?}"
    );
    // The forward states that time.
    let rome = jiff::tz::TimeZone::get("Europe/Rome")?;
    let said = format!(
        "Due by {} (working hours)",
        notice::local_time(due, &rome, Language::En)
    );
    let mut luca = TestImap::login(ms, &office.luca).await?;
    let forward = luca.wait_for("INBOX", 1, DELIVERY).await?.remove(0).raw;
    let parsed = MessageParser::default().parse(&forward).expect("parses");
    let text = parsed.body_text(0).expect("text").to_string();
    assert!(text.contains(&said), "{said}\n{text}");

    // `due` changes: the task already given keeps its time; a new one gets the new rule.
    office.account_extra = office.account_extra.replace("due = \"1h\"", "due = \"4h\"");
    office.write_config();
    office.deliver(ms, &["022-translation"]).await?;
    office.run_once_ok();
    let tasks = office.state().tasks("giulia", &TaskFilter::default())?;
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0].due_at, Some(due), "unchanged");
    let second = tasks[1].due_at.expect("due = 4h") - tasks[1].created_at;
    assert!((4 * 3600..=4 * 3600 + 60).contains(&second), "{second}");
    let out = office.command(&["tasks", "--open"]).output()?;
    let listing = String::from_utf8_lossy(&out.stdout);
    let line = listing
        .lines()
        .find(|l| l.contains(first.reference.as_str()))
        .expect("listed");
    assert!(
        line.contains(&format!(
            "due {}",
            notice::local_time(due, &rome, Language::En)
        )),
        "{line}"
    );

    // A task made before due times were stored (as migration 8 leaves it): readers work
    // its due out from the config, and the account's next start fixes it once.
    let db = rusqlite::Connection::open(office.dir.path().join("state.db"))?;
    db.execute(
        "UPDATE task SET due_at = NULL, due_fixed = 0 WHERE id = ?1",
        [first.id],
    )?;
    let from_config = office.state().tasks("giulia", &TaskFilter::default())?[0].clone();
    assert!(!from_config.due_fixed);
    office.run_once_ok();
    let fixed = office.state().task_for(first.ledger_id)?.expect("task");
    assert!(fixed.due_fixed);
    let four = fixed.due_at.expect("due = 4h now") - fixed.created_at;
    assert!((4 * 3600..=4 * 3600 + 60).contains(&four), "{four}");
    Ok(())
}

#[tokio::test]
async fn a_status_mail_an_observe_only_rule_matches_is_filed_with_its_task_all_the_same()
-> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let mut office = office_with_tasks(ms);
    // Giulia watches what a rule about Marta's mail would do before letting it act.
    let rules = office.dir.path().join("rules");
    std::fs::create_dir_all(&rules)?;
    std::fs::write(
        rules.join("10.toml"),
        format!(
            "[[rule]]\nname = \"from-marta\"\ncategory = \"noise\"\nmode = \"observe\"\n\
             when = {{ from = \"{}\" }}\n\n\
             [[rule]]\nname = \"invoices\"\ncategory = \"delegable\"\nassistant = \"marta\"\n\
             when = {{ subject = \"invoice\" }}\n",
            office.marta
        ),
    )?;
    office.rules_dir = rules;
    office.write_config();
    office.run_once_ok();
    let invoice = format!(
        "From: Shop <billing@supplier.example>\r\nTo: {}\r\nSubject: invoice 7\r\n\
         Message-ID: <inv-7@supplier.example>\r\n\r\nPlease pay.\r\n",
        office.giulia
    );
    let mut giulia = TestImap::login(ms, &office.giulia).await?;
    giulia.append("INBOX", invoice.as_bytes(), &[]).await?;
    office.run_once_ok();
    let task = office
        .state()
        .tasks("giulia", &TaskFilter::default())?
        .remove(0);
    let reference = task.reference.to_string();

    // Marta's "done" mail: the observe-only rule matches it, but it is the task's mail.
    let done = format!(
        "From: Marta Verdi <{}>\r\nTo: {}\r\nSubject: DONE {reference}\r\n\
         Message-ID: <done-{reference}@office.example>\r\n\r\nPaid.\r\n",
        office.marta, office.giulia
    );
    giulia.append("INBOX", done.as_bytes(), &[]).await?;
    office.run_once_ok();
    let t = office.state().task_for(task.ledger_id)?.expect("task");
    assert_eq!(t.state, TaskState::Done);
    assert!(
        giulia.fetch_all("INBOX").await?.is_empty(),
        "filed with the task, not left in the Inbox"
    );
    assert_eq!(giulia.fetch_all("Delegated").await?.len(), 2);
    let row = office.ledger().pop().expect("the status mail's row");
    assert!(!row.decision.observe, "{row:?}");

    // The digest counts it with the tasks, not as what the rule would have done.
    let out = office.command(&["digest", "--preview"]).output()?;
    let digest = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{digest}");
    assert!(
        digest.contains(
            "1 mail from an assistant about a task was filed with the task, out of your Inbox."
        ),
        "{digest}"
    );
    assert!(!digest.contains("WOULD HAVE BEEN"), "{digest}");
    Ok(())
}
