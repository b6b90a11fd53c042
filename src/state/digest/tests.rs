//! The digest's queries against a real (in-memory) state: counts, limits, places, undo,
//! the digest table.

use jiff::civil::date;

use super::super::tests::entry;
use super::super::{NewEntry, OutboxState, Status, UndoOutcome};
use super::*;
use crate::classify::Category;

const LIMITS: Limits = Limits {
    messages: 50,
    failed: 200,
    groups: 20,
};

#[test]
fn a_day_is_recorded_once_and_the_next_period_starts_at_its_end() {
    let s = State::in_memory().expect("db");
    assert_eq!(s.last_digest_day("g").expect("query"), None);
    assert_eq!(s.last_digest_period_end("g").expect("query"), None);

    let day = date(2026, 11, 24);
    assert!(s.record_digest("g", day, 100, 200, 201).expect("first"));
    assert!(!s.record_digest("g", day, 200, 300, 301).expect("second"));
    assert!(
        s.record_digest("other", day, 0, 50, 51)
            .expect("another account")
    );
    assert!(
        s.record_digest("g", date(2026, 11, 23), 0, 100, 101)
            .expect("an earlier day")
    );

    assert_eq!(s.last_digest_day("g").expect("query"), Some(day));
    assert_eq!(s.last_digest_period_end("g").expect("query"), Some(200));
}

#[test]
fn entries_come_with_their_forwards_and_rules_with_their_last_match() {
    let mut s = State::in_memory().expect("db");
    let mut delegated = entry(1, Category::Delegable, Action::Forward("Delegated".into()));
    delegated.assistant = Some("anna".into());
    delegated.rule = Some("quotes".into());
    let mut kept = entry(2, Category::Strategic, Action::Keep);
    kept.rule = None;
    let address = |_: &str| Some("anna@studio.example".to_string());
    s.record("g", "INBOX", 1, &[delegated, kept], &address, 100)
        .expect("recorded");
    let mut later = entry(3, Category::Noise, Action::File("Noise".into()));
    later.rule = Some("quotes".into());
    s.record("g", "INBOX", 1, &[later], &address, 150)
        .expect("recorded");

    let report = s.digest_period("g", 100, 101, LIMITS).expect("query");
    assert_eq!((report.totals.messages, report.totals.strategic), (2, 1));
    let forward = report.delegated[0].rows[0].forward.as_ref();
    assert_eq!(forward.expect("the forward").assistant, "anna");
    assert!(report.needs_you[0].forward.is_none());

    assert_eq!(
        s.last_rule_matches("g").expect("query"),
        vec![("quotes".to_string(), 150)],
        "the latest match per rule; rows without a rule are not a rule"
    );
    assert!(s.last_rule_matches("other").expect("query").is_empty());
}

#[test]
fn a_filing_undone_is_no_longer_filed_but_back_with_the_entrepreneur() {
    let mut s = State::in_memory().expect("db");
    let address = |id: &str| Some(format!("{id}@office.example"));
    let mut noise = entry(1, Category::Noise, Action::File("Noise".into()));
    noise.rule = Some("promos".into());
    let kept_noise = entry(2, Category::Noise, Action::File("Noise".into()));
    let mut delegated = entry(3, Category::Delegable, Action::Forward("Delegated".into()));
    delegated.assistant = Some("anna".into());
    let ids = s
        .record(
            "g",
            "INBOX",
            1,
            &[noise, kept_noise, delegated],
            &address,
            100,
        )
        .expect("recorded")
        .into_iter()
        .map(|r| r.id)
        .collect::<Vec<i64>>();
    let done: Vec<_> = ids.iter().map(|&id| (id, Status::Done, None)).collect();
    s.complete("g", &done, None, 101).expect("filed");
    let forward = s.outbox_for(ids[2]).expect("query").expect("a forward");
    s.outbox_update(forward.id, OutboxState::Sent, 0, None, 101)
        .expect("sent");
    let before = s.digest_period("g", 100, 200, LIMITS).expect("query");
    assert_eq!((before.totals.filed, before.totals.undone), (2, 0));

    for uid in [1, 3] {
        let row = s
            .entry_by_message_id("g", &format!("m{uid}@x.example"))
            .expect("query")
            .expect("a row");
        s.record_undo("g", &row, UndoOutcome::MovedBack, 150)
            .expect("undone");
    }
    let after = s.digest_period("g", 100, 200, LIMITS).expect("query");
    let t = after.totals;
    assert_eq!(
        (t.messages, t.filed, t.undone, t.undone_forwards),
        (3, 1, 2, 1),
        "one filing left; two moved back, one of them a forward"
    );
    // The noise source counts only what is still filed.
    assert_eq!(after.noise.iter().map(|n| n.messages).sum::<u64>(), 1);
    let back: Vec<(i64, bool)> = after
        .needs_you
        .iter()
        .map(|h| (h.entry.id, h.undone))
        .collect();
    assert_eq!(back, [(ids[2], true), (ids[0], true)]);
    // The forward went out all the same: still among the delegated, marked undone.
    assert!(after.delegated[0].rows[0].undone);
}

#[test]
fn an_assistants_mail_about_a_task_is_counted_apart_not_as_noise() {
    let status = Reason::TaskStatus {
        reference: "T-7K3Q".into(),
        state: crate::task::TaskState::Answered,
    };
    assert!(
        status.to_json().starts_with(TASK_STATUS),
        "{}",
        status.to_json()
    );
    let mut s = State::in_memory().expect("db");
    let address = |id: &str| Some(format!("{id}@office.example"));
    let noise = entry(1, Category::Noise, Action::File("Noise".into()));
    let mut reply = entry(2, Category::Noise, Action::File("Delegated".into()));
    reply.from_addr = "marta@office.example".into();
    reply.assistant = Some("marta".into());
    reply.reason = Some(status);
    // The same on a server that cannot move: a copy filed, the original in the Inbox.
    let mut copied = reply.clone();
    copied.uid = 3;
    let recorded = s
        .record("g", "INBOX", 1, &[noise, reply, copied], &address, 100)
        .expect("recorded");
    let ids: Vec<(i64, Status, Option<String>)> = recorded
        .iter()
        .zip([Status::Done, Status::Done, Status::Copied])
        .map(|(r, status)| (r.id, status, None))
        .collect();
    s.complete("g", &ids, None, 101).expect("filed");

    let r = s.digest_period("g", 100, 200, LIMITS).expect("query");
    assert_eq!(
        (
            r.totals.messages,
            r.totals.filed,
            r.totals.copied,
            r.totals.status_mails,
            r.totals.status_copied
        ),
        (3, 1, 0, 1, 1)
    );
    let senders: Vec<&str> = r.noise.iter().map(|n| n.sender.as_str()).collect();
    assert_eq!(
        senders,
        ["a@x.example"],
        "the assistant is no source of noise"
    );
}

/// Message `i` of a busy day: strategic, delegated to anna or bruno, filed (from 30
/// sources, lists and senders), or observed, in turn; arrived at `i`.
fn busy(i: u32) -> NewEntry {
    let (category, action) = match i % 4 {
        0 => (Category::Strategic, Action::Keep),
        1 => (Category::Delegable, Action::Forward("Delegated".into())),
        2 => (Category::Noise, Action::File("Noise".into())),
        _ => (Category::Noise, Action::Nothing),
    };
    let mut e = entry(i, category, action);
    e.date = Some(i64::from(i));
    e.observe = i % 4 == 3;
    if category == Category::Delegable {
        e.assistant = Some(if i % 8 == 1 { "anna" } else { "bruno" }.into());
    }
    if i % 4 == 2 {
        let source = (i / 4) % 30;
        e.from_addr = format!("Sender{source}@News.example");
        e.list_id = source
            .is_multiple_of(2)
            .then(|| format!("<list{source}.example>"));
        e.rule = Some(format!("noise-{}", (i / 120) % 3));
    }
    e
}

#[test]
fn a_huge_day_is_counted_exactly_and_only_its_newest_rows_are_read() {
    let mut s = State::in_memory().expect("db");
    let address = |id: &str| Some(format!("{id}@office.example"));
    let entries: Vec<NewEntry> = (0..10_000).map(busy).collect();
    let ids = s
        .record("g", "INBOX", 1, &entries, &address, 1_000)
        .expect("recorded")
        .into_iter()
        .map(|r| r.id)
        .collect::<Vec<i64>>();
    // 300 forwards refused for good: 100 marked on the row, 200 on the outbox only.
    let forwards: Vec<i64> = ids.iter().copied().skip(1).step_by(4).collect();
    let failed_rows: Vec<_> = forwards[..100]
        .iter()
        .map(|&id| (id, Status::Failed, Some("550".to_string())))
        .collect();
    s.complete("g", &failed_rows, None, 1_001)
        .expect("completed");
    // The noise is filed (moved) once its move is done.
    let moved: Vec<_> = ids
        .iter()
        .copied()
        .skip(2)
        .step_by(4)
        .map(|id| (id, Status::Done, None))
        .collect();
    s.complete("g", &moved, None, 1_001).expect("completed");
    for &id in &forwards[100..300] {
        let row = s.outbox_for(id).expect("query").expect("a forward");
        s.outbox_update(row.id, OutboxState::Failed, 0, Some("550"), 1_001)
            .expect("updated");
    }
    for i in 0..100 {
        s.record_event("g", "smtp", &format!("error {}", i % 30), 900 + i)
            .expect("event");
    }

    let r = s.digest_period("g", 900, 1_001, LIMITS).expect("query");
    assert_eq!(
        r.totals,
        Totals {
            messages: 10_000,
            strategic: 2_500,
            observed: 2_500,
            filed: 2_500,
            copied: 0,
            undone: 0,
            undone_forwards: 0,
            status_mails: 0,
            status_copied: 0,
            noise_sources: 30,
            problems: 30,
        }
    );
    let counts: Vec<_> = r
        .delegated
        .iter()
        .map(|f| (f.assistant.as_str(), f.count, f.failed, f.rows.len()))
        .collect();
    // anna has the odd forwards (i % 8 == 1): half of the first 300, the failed ones.
    assert_eq!(
        counts,
        [("anna", 1_250, 150, 50), ("bruno", 1_250, 150, 50)]
    );

    // Newest first: the 50 latest strategic messages, and 200 of the failed forwards.
    let received = |h: &Handled| h.entry.decision.date.expect("dated");
    let strategic: Vec<i64> = r
        .needs_you
        .iter()
        .filter(|h| h.entry.decision.category == Category::Strategic)
        .map(received)
        .collect();
    assert_eq!(
        strategic,
        (0..50).map(|n| 9_996 - 4 * n).collect::<Vec<_>>()
    );
    assert_eq!(r.needs_you.len(), 50 + 200);
    assert!(
        r.needs_you
            .is_sorted_by_key(|h| std::cmp::Reverse(received(h)))
    );
    let anna = &r.delegated[0].rows;
    assert_eq!(received(&anna[0]), 9_993);
    assert!(anna.is_sorted_by_key(|h| std::cmp::Reverse(received(h))));
    assert_eq!(r.observed.len(), 50);
    assert_eq!(received(&r.observed[0]), 9_999);

    // The largest sources first, with their rules; addresses compared without case.
    assert_eq!(r.noise.len(), 20);
    let top = &r.noise[0];
    assert_eq!(top.messages, 84);
    assert!(r.noise.is_sorted_by_key(|n| std::cmp::Reverse(n.messages)));
    assert_eq!(top.rules, ["noise-0", "noise-1", "noise-2"]);
    let sender = r
        .noise
        .iter()
        .find(|n| n.list_id.is_none())
        .expect("a sender");
    assert!(sender.sender.starts_with("sender"), "{sender:?}");
    // The latest problems, each with its count.
    assert_eq!(r.problems.len(), 20);
    assert_eq!(
        (
            r.problems[0].detail.as_str(),
            r.problems[0].count,
            r.problems[0].last
        ),
        ("error 9", 4, 999)
    );
}
