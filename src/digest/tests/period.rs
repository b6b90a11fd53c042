//! The period read from the state (`load`, `prepare`), and when a message arrived.

use super::*;

#[test]
fn prepare_reports_the_period_since_the_last_digest() {
    let mut state = State::in_memory().expect("db");
    let mut account = account();
    account.rules.rules = ["newsletters", "quotes"]
        .into_iter()
        .map(|name| crate::classify::Rule {
            name: name.into(),
            category: Category::Noise,
            assistant: None,
            instructions: None,
            observe: false,
            due: None,
            remind: None,
            when: Vec::new(),
            origin: crate::classify::Origin {
                path: "rules/main.toml".into(),
                line: 1,
            },
        })
        .collect();
    let filed = |id: i64| noise(id, "n@x.example", None, "newsletters").entry.decision;
    let delegated = forward(5, "marta", OutboxState::Pending, None)
        .entry
        .decision;
    let address = |_: &str| Some("marta@office.example".to_string());
    state
        .record("giulia", "INBOX", 1, &[filed(1)], &address, END - 30 * HOUR)
        .expect("before the last digest");
    let ids = state
        .record(
            "giulia",
            "INBOX",
            1,
            &[filed(2), delegated],
            &address,
            END - 2 * HOUR,
        )
        .expect("after it")
        .into_iter()
        .map(|r| r.id)
        .collect::<Vec<i64>>();
    // Filed only once the move is done.
    state
        .complete(
            "giulia",
            &[(ids[0], Status::Done, None)],
            None,
            END - 2 * HOUR,
        )
        .expect("moved");
    state
        .record_event("giulia", "imap", "connection refused", END - HOUR)
        .expect("event");
    assert!(
        state
            .record_digest(
                "giulia",
                jiff::civil::date(2026, 11, 23),
                0,
                END - 20 * HOUR,
                END - 20 * HOUR
            )
            .expect("recorded")
    );

    let now = Timestamp::from_second(END).expect("in range");
    let report = load(&state, &account, now).expect("loads");
    // The period takes in the current second too.
    assert_eq!((report.start, report.end), (END - 20 * HOUR, END + 1));
    assert_eq!((report.totals.messages, report.totals.filed), (2, 1));
    let marta = &report.delegated[0];
    assert_eq!((marta.assistant.as_str(), marta.count), ("marta", 1));
    let forward = marta.rows[0].forward.as_ref().expect("its forward");
    assert_eq!(forward.state, OutboxState::Pending);
    assert_eq!(report.totals.problems, 1);
    // The rules have been deciding since the account's first decision.
    let since = |r: RuleUse| RuleUse {
        deciding_since: Some(END - 30 * HOUR),
        ..r
    };
    assert_eq!(
        report.rules,
        vec![
            since(rule_use("newsletters", Some(END - 2 * HOUR))),
            since(rule_use("quotes", Some(END - 2 * HOUR))),
        ]
    );

    let mail = prepare(&state, &account, now).expect("prepares");
    assert_eq!(
        mail.subject,
        "delega · 0 need you, 1 delegated, 1 filed, 1 problem"
    );
    assert_eq!(mail.period_start, END - 20 * HOUR);

    // With no digest before, the period is the last 24 hours.
    let other = State::in_memory().expect("db");
    let report = load(&other, &account, now).expect("loads");
    assert_eq!((report.start, report.end), (END + 1 - 24 * HOUR, END + 1));
    assert_eq!(report.rules[0].last_match, None);
}

/// A strategic row for `raw` as triage records it, arrived an hour before the period's end.
fn arrived(id: i64, raw: &str) -> Handled {
    let msg = crate::message::Message::parse(raw.as_bytes());
    let mut h = keep(id, 60);
    let e = &mut h.entry.decision;
    (e.date, e.date_written) = match msg.date_as_of(h.entry.decided_at) {
        crate::message::DateHeader::Real(t) => (Some(t), None),
        crate::message::DateHeader::Missing => (None, None),
        crate::message::DateHeader::Impossible(w) => (None, Some(w)),
    };
    e.subject = msg.subject().to_string();
    h
}

#[test]
fn a_missing_or_impossible_date_shows_the_arrival_time_and_says_so() {
    let rows = vec![
        arrived(
            1,
            "From: a@x.example\r\nSubject: impossible\r\nDate: 32 Nov 2026 25:61 +0000\r\n\r\n",
        ),
        arrived(
            2,
            "From: a@x.example\r\nSubject: far future\r\nDate: Fri, 30 Jun 3609 10:00:00 +0000\r\n\r\n",
        ),
        arrived(3, "From: a@x.example\r\nSubject: undated\r\n\r\n"),
        arrived(
            4,
            "From: a@x.example\r\nSubject: last year\r\nDate: Mon, 24 Nov 2025 09:00:00 +0100\r\n\r\n",
        ),
        arrived(
            5,
            "From: a@x.example\r\nSubject: today\r\nDate: Tue, 24 Nov 2026 16:30:00 +0100\r\n\r\n",
        ),
    ];
    let r = report(rows, &[]);
    let en = compose_in(Language::En, &r).text;
    assert_in_order(
        &en,
        &[
            // Newest first by arrival (then last decided first): a broken date never jumps
            // ahead, and each says so.
            "24 Nov 17:00       undated",
            "no Date: the time shown is its arrival",
            "24 Nov 17:00       far future",
            "impossible Date “Fri, 30 Jun 3609 10:00:00 +0000”: the time shown is its arrival",
            "24 Nov 17:00       impossible",
            "impossible Date “32 Nov 2026 25:61 +0000”: the time shown is its arrival",
            "24 Nov 16:30       today",
            // Not this year: the year is shown.
            "24 Nov 2025 09:00  last year",
        ],
    );
    assert_eq!(
        en.matches("the time shown is its arrival").count(),
        3,
        "{en}"
    );
    let it = compose_in(Language::It, &r).text;
    assert_in_order(
        &it,
        &[
            "senza data: l'ora è quella di arrivo",
            "data impossibile «32 Nov 2026 25:61 +0000»: l'ora è quella di arrivo",
            "24/11/2025 09:00  last year",
        ],
    );
}

#[test]
fn a_forward_given_up_says_why_in_the_digests_language_with_or_without_an_outbox_row() {
    use crate::delivery::give_up;
    use crate::task::NotSent;
    let mut state = State::in_memory().expect("db");
    let mut account = account();
    account.digest.language = Language::It;
    let address = |_: &str| Some("marta@office.example".to_string());
    // A forward waiting (its outbox row pending), one already sent, and one planned with
    // no outbox row (no assistant was recorded for it).
    let decision = |id| {
        forward(id, "marta", OutboxState::Pending, None)
            .entry
            .decision
    };
    let mut unassigned = decision(3);
    unassigned.assistant = None;
    let recorded = state
        .record(
            "giulia",
            "INBOX",
            1,
            &[decision(1), decision(2), unassigned],
            &address,
            END - 2 * HOUR,
        )
        .expect("recorded");
    assert!(recorded[2].forward.is_none(), "no outbox row");
    let sent = recorded[1].forward.as_ref().expect("an outbox row");
    state
        .outbox_update(sent.id, OutboxState::Sent, 0, None, END - 2 * HOUR)
        .expect("sent");
    let reasons = [NotSent::LeftInbox, NotSent::Renumbered, NotSent::LeftInbox];
    let mut settled = Vec::new();
    for (r, why) in recorded.iter().zip(&reasons) {
        let row = state.outbox_for(r.id).expect("query");
        let detail = give_up(&state, r.id, row.as_ref(), why).expect("given up");
        settled.push((r.id, Status::Failed, Some(detail)));
    }
    state
        .complete("giulia", &settled, None, END - HOUR)
        .expect("settled");

    let now = Timestamp::from_second(END).expect("in range");
    let it = prepare(&state, &account, now).expect("prepares").text;
    assert_in_order(
        &it,
        &[
            "PER TE (3)",
            "Inoltro a Marta Verdi non riuscito: il messaggio è uscito dalla Posta in arrivo \
             prima dell'inoltro",
            "Inoltro a Marta Verdi non riuscito: il server ha rinumerato la casella di posta",
            "Inoltro a ? non riuscito: il messaggio è uscito dalla Posta in arrivo prima \
             dell'inoltro",
        ],
    );
    for english in ["left the Inbox", "renumbered the mailbox"] {
        assert!(!it.contains(english), "{english:?} in:\n{it}");
    }
    account.digest.language = Language::En;
    let en = prepare(&state, &account, now).expect("prepares").text;
    assert!(
        en.contains("Forward to ? failed: the message left the Inbox before it was forwarded"),
        "{en}"
    );
}
