//! `delega explain` decides exactly as `delega run`: the same rules, then the same guards
//! (delega's own forward, an assistant, a machine, a loop, a Message-ID already forwarded,
//! read from the state database), and the run's log line names the guard that kept a
//! message. An assistant's mail about a task is said to be what run makes of it: a status
//! mail, filed with the task, and how the task moves.

use std::collections::BTreeMap;

use delega::reason::Reason;
use delega::state::TaskFilter;
use delega::task::TaskState;

use crate::support::MailSystem;
use crate::support::imap::TestImap;
use crate::support::office::Office;

/// One delegable rule: anything with "invoice" in the subject goes to Marta.
const RULES: &str = r#"[[rule]]
name = "invoices"
category = "delegable"
assistant = "marta"
instructions = "Register it."
when = { subject = "invoice" }
"#;

fn mail(id: &str, from: &str, subject: &str, extra: &str) -> String {
    format!(
        "{extra}From: {from}\r\nTo: giulia@studio.example\r\nSubject: {subject}\r\n\
         Message-ID: <{id}@supplier.example>\r\nDate: Tue, 1 Dec 2026 10:00:00 +0100\r\n\r\nPlease pay.\r\n"
    )
}

/// `explain`'s answer for each file, by subject: the decision line and the guard line.
fn explained(out: &str) -> BTreeMap<String, (String, Option<String>)> {
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    for line in out.lines() {
        match line.strip_prefix("  ") {
            // Each file's lines are indented under its name.
            Some(field) => blocks.last_mut().expect("a file first").push(field),
            None => blocks.push(Vec::new()),
        }
    }
    let mut all = BTreeMap::new();
    for block in blocks {
        let field = |name: &str| {
            block
                .iter()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
        };
        if let (Some(subject), Some(decision)) = (field("subject:"), field("decision:")) {
            all.insert(subject, (decision, field("guard:")));
        }
    }
    all
}

#[tokio::test]
async fn explain_decides_as_run_does_on_every_guard() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let mut office = Office::new(ms);
    let rules = office.dir.path().join("rules");
    std::fs::create_dir_all(&rules)?;
    std::fs::write(rules.join("10.toml"), RULES)?;
    office.rules_dir = rules;
    office.write_config();
    office.run_once_ok();

    // A first invoice is forwarded: its Message-ID is now in the ledger.
    let mut imap = TestImap::login(ms, &office.giulia).await?;
    let first = mail("inv-1", "Shop <billing@supplier.example>", "invoice 1", "");
    imap.append("INBOX", first.as_bytes(), &[]).await?;
    office.run_once_ok();

    let hops = "Received: from relay.example by mx.example\r\n".repeat(26);
    let own = "X-Delega-Forward: giulia.1.1\r\n";
    let cases = [
        (
            "plain",
            mail("inv-2", "billing@supplier.example", "invoice plain", ""),
        ),
        (
            "own",
            mail(
                "inv-3",
                "billing@supplier.example",
                "invoice own forward",
                own,
            ),
        ),
        (
            "assistant",
            mail("inv-4", &office.marta, "invoice from the assistant", ""),
        ),
        (
            "machine",
            mail(
                "inv-5",
                "billing@supplier.example",
                "invoice auto",
                "Auto-Submitted: auto-replied\r\n",
            ),
        ),
        (
            "loop",
            mail("inv-6", "billing@supplier.example", "invoice loop", &hops),
        ),
        (
            "again",
            mail("inv-1", "billing@supplier.example", "invoice again", ""),
        ),
    ];
    let mut files = Vec::new();
    for (name, raw) in &cases {
        let path = office.dir.path().join(format!("{name}.eml"));
        std::fs::write(&path, raw)?;
        files.push(path.display().to_string());
    }
    let mut args = vec!["explain"];
    args.extend(files.iter().map(String::as_str));
    let out = office.command(&args).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let explain = explained(&text);
    assert_eq!(explain.len(), cases.len(), "{text}");

    for (_, raw) in &cases {
        imap.append("INBOX", raw.as_bytes(), &[]).await?;
    }
    let log = office.run_once_ok();

    let ledger = office.ledger();
    let mut guarded = 0;
    for (subject, (decision, guard)) in &explain {
        let row = ledger
            .iter()
            .rev()
            .find(|e| &e.decision.subject == subject)
            .unwrap_or_else(|| panic!("{subject} not decided by run"));
        let e = &row.decision;
        let run_decision = match &e.assistant {
            Some(a) => format!("{} → {a}", e.category),
            None => e.category.to_string(),
        };
        assert!(
            decision.starts_with(&run_decision),
            "{subject}: explain says {decision:?}, run decided {run_decision:?}\n{text}"
        );
        let run_guard = match &e.reason {
            Some(Reason::Kept(k)) => Some(k.refusal.to_string()),
            _ => None,
        };
        assert_eq!(guard, &run_guard, "{subject}: the guard\n{text}");
        let line = log
            .lines()
            .find(|l| l.contains("decided") && l.contains(&format!("uid={}", e.uid)))
            .unwrap_or_else(|| panic!("no log line for uid {}:\n{log}", e.uid));
        if let Some(g) = run_guard {
            guarded += 1;
            assert!(
                decision.contains("kept in the Inbox by a guard"),
                "{decision}"
            );
            // The run's log line for it names the guard too.
            assert!(line.contains(&g), "{line}");
        } else {
            // No guard, no `kept` field.
            assert!(!line.contains("kept="), "{line}");
        }
    }
    // Every guard was met: own forward, assistant, machine, loop, already forwarded.
    assert_eq!(guarded, 5, "{text}");
    assert!(
        explain["invoice again"]
            .1
            .as_deref()
            .unwrap_or("")
            .contains("already forwarded")
    );
    assert_eq!(explain["invoice plain"].0, "delegable → marta");
    Ok(())
}

#[tokio::test]
async fn explain_says_a_status_mail_is_filed_with_its_task_as_run_does() -> anyhow::Result<()> {
    let ms = MailSystem::shared();
    let office = Office::new(ms);
    office.run_once_ok();
    let mut giulia = office.deliver(ms, &["012-supplier-invoice"]).await?;
    office.run_once_ok();
    let task = office
        .state()
        .tasks("giulia", &TaskFilter::default())?
        .remove(0);
    let (reference, forward_id) = (task.reference.to_string(), task.forward_id.clone());
    let marta = &office.marta;
    let cases = [
        (
            "reply",
            format!(
                "From: Marta Verdi <{marta}>\r\nTo: billing@supplier.example\r\nCc: {giulia}\r\n\
                 Subject: Re: the invoice\r\nMessage-ID: <reply-1@office.example>\r\n\
                 In-Reply-To: <{forward_id}@x>\r\n\r\nRegistered, payment scheduled.\r\n",
                giulia = office.giulia
            ),
        ),
        (
            "done",
            format!(
                "From: Marta Verdi <{marta}>\r\nTo: {giulia}\r\nSubject: DONE {reference}\r\n\
                 Message-ID: <done-1@office.example>\r\n\r\nTask completed.\r\n",
                giulia = office.giulia
            ),
        ),
        (
            "unknown",
            format!(
                "From: Marta Verdi <{marta}>\r\nTo: {giulia}\r\n\
                 Subject: Fattura 2026/999 for T-ZZZZ\r\nMessage-ID: <unknown-1@office.example>\r\n\r\n\
                 Which one is this?\r\n",
                giulia = office.giulia
            ),
        ),
    ];
    let mut files = Vec::new();
    for (name, raw) in &cases {
        let path = office.dir.path().join(format!("{name}.eml"));
        std::fs::write(&path, raw)?;
        files.push(path.display().to_string());
    }
    let mut args = vec!["explain"];
    args.extend(files.iter().map(String::as_str));
    let out = office.command(&args).output()?;
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let block = |name: &str| -> String {
        // From its file's line to the next file's.
        let start = text.find(&format!("/{name}.eml\n")).expect("explained");
        let rest = &text[start + name.len() + 6..];
        let end = rest.find(".eml\n").unwrap_or(rest.len());
        rest[..end].to_string()
    };
    let reply = block("reply");
    assert!(
        reply.contains(&format!(
            "decision: status mail for task {reference}: filed in Delegated with the task, never forwarded back"
        )),
        "{reply}"
    );
    assert!(
        reply.contains(&format!("task:     {reference} ")) && reply.contains("open → answered"),
        "{reply}"
    );
    assert!(
        reply.contains(&format!(
            "it comes from the assistant Marta Verdi and answers the forward of {reference}"
        )),
        "{reply}"
    );
    assert!(
        !reply.contains("guard:"),
        "not the assistant guard: {reply}"
    );
    let done = block("done");
    assert!(done.contains("open → done"), "{done}");
    assert!(
        done.contains(&format!("names {reference} in its subject")),
        "{done}"
    );
    let unknown = block("unknown");
    assert!(
        unknown.contains("decision: strategic (kept in the Inbox by a guard)"),
        "{unknown}"
    );
    assert!(
        unknown.contains("guard:    it comes from the assistant Marta Verdi"),
        "{unknown}"
    );
    assert!(
        unknown.contains("task:     T-ZZZZ is no task of account giulia: not a status mail"),
        "{unknown}"
    );

    // What run does with them: the two status mails filed with the task, the other kept.
    for (_, raw) in &cases {
        giulia.append("INBOX", raw.as_bytes(), &[]).await?;
    }
    office.run_once_ok();
    let t = office.state().task_for(task.ledger_id)?.expect("task");
    assert_eq!(t.state, TaskState::Done);
    let inbox = giulia.fetch_all("INBOX").await?;
    assert_eq!(inbox.len(), 1, "only the unknown reference stays");
    assert!(String::from_utf8_lossy(&inbox[0].raw).contains("T-ZZZZ"));
    assert_eq!(giulia.fetch_all("Delegated").await?.len(), 3);
    Ok(())
}
