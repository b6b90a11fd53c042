//! The whole digest, and an assistant's list, against golden files: text and HTML, Italian
//! and English, composed from one fixed report with something in every section.
//!
//! The golden files live in `tests/fixtures/digest/`: `NAME.txt` is the subject, a blank line
//! and the text part; `NAME.html` the HTML part. They are compared byte for byte; on a
//! mismatch what was composed is written beside the golden file as `NAME.txt.failed` (or
//! `.html.failed`) to diff, and the test fails. When a change to the digest is meant,
//! regenerate them all with
//!
//! ```sh
//! DELEGA_GOLDEN=write cargo test --lib digest::tests::golden
//! ```
//!
//! and read the diff of the golden files before committing it.

use std::path::{Path, PathBuf};

use super::*;
use crate::review::review;
use crate::task::fixtures::task;
use crate::task::{Due, Forwarded, TaskState};

/// The fixture of the other tests, and what they leave out: tasks done, open and overdue,
/// a filing undone, noise only copied (a server that cannot move), a forward not sent for
/// one of delega's own reasons, assistants' mails about their tasks (filed, or only copied).
fn golden_report(account: &crate::config::Account) -> Report {
    let mut r = fixture();
    let mut back = noise(36, "c@deals.example", None, "promos");
    back.undone = true;
    let undone = report(vec![back], &[]);
    r.totals.messages += undone.totals.messages;
    r.totals.undone += undone.totals.undone;
    r.needs_you.extend(undone.needs_you);
    // A message of noise copied, its original left in the Inbox.
    r.totals.messages += 1;
    r.totals.copied = 1;
    // Two mails from assistants about their tasks, filed with them; one only copied.
    r.totals.messages += 3;
    r.totals.status_mails = 2;
    r.totals.status_copied = 1;
    r.problems.push(Problem {
        kind: "forward".into(),
        detail: "\"Subject 15\"".into(),
        count: 1,
        last: END - 2 * HOUR,
        reason: Some(crate::reason::Reason::NotSent(
            crate::reason::NotSent::LeftInbox,
        )),
    });
    r.totals.problems += 1;
    // Marta: one done in the period, one open, one overdue, two whose forward was refused
    // for good (by the server; by delega, for a reason of its own); Luca: one answered.
    let day = 86_400;
    let not_sent = |id, reason, error: &str| {
        let mut t = task(id, "marta", TaskState::Open, END - 10 * HOUR, None);
        t.forward = Forwarded::NotSent {
            reason,
            error: error.into(),
        };
        t
    };
    let tasks = [
        task(
            10,
            "marta",
            TaskState::Done,
            END - 9 * HOUR,
            Some(END - 7 * HOUR),
        ),
        task(11, "marta", TaskState::Open, END - HOUR, None),
        task(15, "marta", TaskState::Open, END - 8 * day, None),
        not_sent(13, None, "550 mailbox unavailable"),
        not_sent(
            16,
            Some(crate::reason::NotSent::LeftInbox),
            &crate::reason::NotSent::LeftInbox.to_string(),
        ),
        task(14, "luca", TaskState::Answered, END - 3 * HOUR, None),
    ];
    r.tasks = review(account, &tasks, r.start, END);
    r.work_day_secs = account.tasks.work_hours.day_secs();
    r
}

/// Giulia's account, in `language`, with tasks due in a working day.
fn golden_account(language: Language) -> crate::config::Account {
    let mut account = account();
    account.digest.language = language;
    account.tasks.due = Some(Due {
        days: 1,
        minutes: 0,
    });
    account
}

/// Where the golden file `name` lives.
fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/digest")
        .join(name)
}

/// Compares `actual` with the golden file `name`, byte for byte: `None` when equal (and any
/// stale `.failed` removed), else what differs, with `name.failed` written beside it. With
/// `DELEGA_GOLDEN=write`, writes the golden file instead.
fn differs(name: &str, actual: &str) -> Option<String> {
    let path = golden_path(name);
    let failed = PathBuf::from(format!("{}.failed", path.display()));
    if std::env::var("DELEGA_GOLDEN").is_ok_and(|v| v == "write") {
        std::fs::write(&path, actual).expect("write the golden file");
        let _ = std::fs::remove_file(&failed);
        return None;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected == actual {
        let _ = std::fs::remove_file(&failed);
        return None;
    }
    std::fs::write(&failed, actual).expect("write .failed");
    let line = expected
        .lines()
        .zip(actual.lines())
        .position(|(e, a)| e != a)
        .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
    Some(format!(
        "{} differs from what was composed (first at line {}): diff it with {}",
        path.display(),
        line + 1,
        failed.display()
    ))
}

#[test]
fn the_digest_and_a_list_read_as_their_golden_files() {
    let mut failures = Vec::new();
    for (language, suffix) in [(Language::En, "en"), (Language::It, "it")] {
        let account = golden_account(language);
        let settings = Settings::of(&account);
        let report = golden_report(&account);
        let mail = compose(&settings, &report);
        let marta = account.assistant("marta").expect("marta");
        let list = compose_list(&settings, &report, marta).expect("marta's list");
        for (kind, m) in [("digest", mail), ("list", list)] {
            let text = format!("Subject: {}\n\n{}", m.subject, m.text);
            failures.extend(differs(&format!("{kind}.{suffix}.txt"), &text));
            failures.extend(differs(&format!("{kind}.{suffix}.html"), &m.html));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(if the change is meant: DELEGA_GOLDEN=write cargo test --lib digest::tests::golden)",
        failures.join("\n")
    );
}

#[test]
fn the_golden_report_has_something_in_every_section() {
    let account = golden_account(Language::En);
    let r = golden_report(&account);
    let states: Vec<_> = r
        .delegated
        .iter()
        .flat_map(|f| &f.rows)
        .map(super::super::view::ForwardState::of)
        .collect();
    use super::super::view::ForwardState::*;
    for state in [Sent, Waiting, MaybeTwice, Failed] {
        assert!(states.contains(&state), "no {state:?} forward");
    }
    assert!(r.needs_you.iter().any(|h| h.undone));
    assert!(
        r.needs_you
            .iter()
            .any(|h| h.entry.decision.reason.is_some())
    );
    assert!(!r.observed.is_empty() && !r.in_doubt.is_empty() && !r.proposals.is_empty());
    assert!(r.noise.len() >= 3 && r.totals.copied > 0 && r.totals.status_mails > 0);
    assert!(r.totals.status_copied > 0);
    assert!(r.problems.iter().any(|p| p.reason.is_some()));
    let t = crate::review::counts(&r.tasks);
    assert!(t.done > 0 && t.open > t.overdue && t.overdue > 0, "{t:?}");
    assert!(r.rules.iter().any(|u| u.last_match.is_none()));
}
