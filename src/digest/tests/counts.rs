//! The digest's counts and caps: what is handled (time given back), what is back with the
//! entrepreneur, an empty period, a huge day listed to its newest rows and counted whole.

use super::*;

#[test]
fn a_filing_undone_is_counted_as_back_in_the_inbox_not_as_filed_or_handled() {
    let undone = |mut h: Handled| {
        h.undone = true;
        h
    };
    let messages = vec![
        keep(1, 10),
        noise(30, "a@shop.example", None, "promos"),
        undone(noise(31, "b@shop.example", None, "promos")),
        forward(10, "marta", OutboxState::Sent, None),
        undone(forward(11, "marta", OutboxState::Sent, None)),
    ];
    let mail = compose_in(Language::En, &report(messages, &[]));
    // 1 strategic + 2 moved back; 2 forwards (one undone), 1 still filed.
    assert_eq!(mail.subject, "delega · 3 need you, 2 delegated, 1 filed");
    // Handled: the forward not undone and the filing not undone; nothing else.
    assert!(
        mail.text
            .contains("An estimate: 2 messages handled for you × 2 min = 4 min."),
        "{}",
        mail.text
    );
    assert!(
        mail.text
            .contains("Moved back to the Inbox by `delega undo` (it was in Noise)"),
        "{}",
        mail.text
    );
    assert!(
        mail.text.contains(
            "Moved back to the Inbox by `delega undo` (it was in Delegated); the forward to \
             Marta Verdi had already gone out"
        ),
        "{}",
        mail.text
    );

    let messages = vec![undone(noise(31, "b@shop.example", None, "promos"))];
    let it = compose_in(Language::It, &report(messages, &[]));
    assert_eq!(it.subject, "delega · 1 per te, 0 delegati, 0 filtrati");
    assert!(
        it.text
            .contains("Riportato nella Posta in arrivo da `delega undo` (era in Noise)"),
        "{}",
        it.text
    );
}

#[test]
fn time_given_back_is_messages_times_minutes_and_what_that_is_worth() {
    let messages = (0..60)
        .map(|i| noise(i, "n@x.example", None, "newsletters"))
        .collect();
    let report = report(messages, &[]);
    let en = compose_in(Language::En, &report).text;
    assert!(
        en.contains("An estimate: 60 messages handled for you × 2 min = 2 h."),
        "{en}"
    );
    assert!(
        en.contains("At your €100.00 an hour, that is €200.00."),
        "{en}"
    );
    let it = compose_in(Language::It, &report).text;
    assert!(
        it.contains("Stima: 60 messaggi gestiti al posto tuo × 2 min = 2 h."),
        "{it}"
    );
    assert!(
        it.contains("Al tuo valore di 100,00 € l'ora, sono 200,00 €."),
        "{it}"
    );

    let mut account = account();
    account.digest.hourly_value = None;
    let text = compose(&Settings::of(&account), &report).text;
    assert!(text.contains("= 2 h."), "{text}");
    assert!(
        !text.contains("€"),
        "no value without an hourly value:\n{text}"
    );
}

#[test]
fn failed_and_observed_messages_are_not_counted_as_time_given_back() {
    // 5 forwards, of which one failed (not counted), and 6 noise: 10 handled; the two
    // observed ones are not.
    let text = compose_in(Language::En, &fixture()).text;
    assert!(text.contains("10 messages handled"), "{text}");
}

#[test]
fn an_empty_period_says_so_and_can_be_skipped() {
    let report = Report {
        start: END - 24 * HOUR,
        end: END,
        ..Report::default()
    };
    let mail = compose_in(Language::En, &report);
    assert!(mail.nothing_to_report);
    assert_eq!(mail.subject, "delega · 0 need you, 0 delegated, 0 filed");
    for empty in [
        "Nothing needs you.",
        "Nothing was delegated.",
        "Nothing was filed.",
        "No problems.",
    ] {
        assert!(
            mail.text.contains(empty),
            "{empty:?} missing:\n{}",
            mail.text
        );
        assert!(mail.html.contains(empty), "{empty:?} missing from the HTML");
    }
    assert!(
        !mail.text.contains("WOULD HAVE BEEN"),
        "no observe section without observed rows"
    );
}

#[test]
fn many_noise_sources_and_problems_are_capped_with_a_count_of_the_rest() {
    let messages = (0..25)
        .map(|i| noise(i, &format!("s{i:02}@x.example"), None, "r"))
        .collect();
    let details: Vec<String> = (0..23).map(|i| format!("error {i}")).collect();
    let events: Vec<_> = (0..23)
        .map(|i| (END - i as i64 * 60, "smtp", details[i].as_str()))
        .collect();
    let report = report(messages, &events);
    let text = compose_in(Language::En, &report).text;
    assert!(text.contains("… and 5 more sources (5 messages)"), "{text}");
    assert!(text.contains("… and 3 more\n"), "{text}");
    assert!(
        text.contains("error 0\n") && !text.contains("error 22\n"),
        "latest first"
    );
}

/// A day of 10,000 messages: 3,000 strategic; 3,000 forwards, half to each assistant, of
/// which Marta's 300 failed; 3,000 noise from as many senders; 1,000 observed.
fn huge_day() -> Report {
    let mut messages: Vec<Handled> = (0..3_000).map(|i| keep(i, 10_000 - i)).collect();
    messages.extend((3_000..6_000).map(|i| {
        let (who, state) = match i % 10 {
            0 => ("marta", OutboxState::Failed),
            n if n % 2 == 0 => ("marta", OutboxState::Sent),
            _ => ("luca", OutboxState::Sent),
        };
        let error = (state == OutboxState::Failed).then_some("550 mailbox unavailable");
        forward(i, who, state, error)
    }));
    messages.extend((6_000..9_000).map(|i| noise(i, &format!("s{i}@x.example"), None, "r")));
    messages.extend((9_000..10_000).map(|i| {
        let mut h = row(i, Category::Noise, Action::Nothing, 50);
        h.entry.decision.observe = true;
        h.place = Place::Observed;
        h
    }));
    report(messages, &[])
}

#[test]
fn a_huge_day_lists_the_newest_of_each_section_and_counts_every_message() {
    let mail = compose_in(Language::En, &huge_day());
    assert_eq!(
        mail.subject,
        "delega · 3,300 need you, 3,000 delegated, 3,000 filed"
    );
    // 50 strategic and 200 failed forwards need you, 50 per assistant, 50 observed.
    assert_eq!(
        mail.text.matches("Subject ").count(),
        50 + 200 + 2 * 50 + 50
    );
    assert_in_order(
        &mail.text,
        &[
            "NEEDS YOU (3,300)",
            "Subject 2999\n",
            "Subject 2950\n",
            "… and 3,050 more messages",
            "DELEGATED (3,000)",
            "Marta Verdi (1,500)",
            "… and 1,450 more messages",
            "Luca Bianchi (1,500)",
            "… and 1,450 more messages",
            "WOULD HAVE BEEN DELEGATED OR FILED (1,000)",
            "… and 950 more messages",
            "FILED AS NOISE (3,000)",
            "… and 2,980 more sources (2,980 messages)",
            "An estimate: 5,700 messages handled for you × 2 min = 190 h.",
        ],
    );
    assert!(
        !mail.text.contains("Subject 2949\n"),
        "older than the newest 50"
    );
    assert!(mail.text.len() < 150_000, "{} bytes", mail.text.len());
    assert_in_order(
        &mail.html,
        &[
            "<span class=\"count\">(3,300)</span>",
            "<div class=\"more\">… and 3,050 more messages</div>",
            "Marta Verdi (1,500)",
            "<div class=\"more\">… and 1,450 more messages</div>",
        ],
    );

    let it = compose_in(Language::It, &huge_day());
    assert_in_order(
        &it.text,
        &[
            "PER TE (3.300)",
            "… e altri 3.050 messaggi",
            "Marta Verdi (1.500)",
            "… e altri 1.450 messaggi",
        ],
    );
}

#[test]
fn max_listed_sets_how_many_messages_each_section_lists() {
    let mut account = account();
    account.digest.max_listed = 5;
    let mail = compose(&Settings::of(&account), &huge_day());
    // Failed forwards: four times as many.
    assert_eq!(mail.text.matches("Subject ").count(), 5 + 20 + 2 * 5 + 5);
    assert!(
        mail.text.contains("… and 3,275 more messages"),
        "{}",
        mail.text
    );
}

#[test]
fn an_assistant_list_on_a_huge_day_lists_the_newest_and_counts_the_rest() {
    let account = account();
    let marta = account.assistant("marta").expect("marta");
    let list = compose_list(&Settings::of(&account), &huge_day(), marta).expect("a list");
    assert_eq!(list.subject, "delega · 1,200 messages delegated to you");
    assert_eq!(list.text.matches("Subject ").count(), 50);
    assert!(list.text.contains("DELEGATED (1,200)"), "{}", list.text);
    assert!(
        list.text.contains("… and 1,150 more messages"),
        "{}",
        list.text
    );
}

#[test]
fn a_rule_is_called_never_matched_only_after_two_weeks_of_mail() {
    let mut r = report(vec![keep(1, 60)], &[]);
    let rule = |name: &str, days: i64| RuleUse {
        name: name.into(),
        last_match: None,
        deciding_since: Some(END - days * 86_400),
    };
    r.rules = vec![
        rule("first-day", 1),
        rule("thirteen-days", 13),
        rule("fifteen-days", 15),
        RuleUse {
            deciding_since: None,
            ..rule("no-mail-yet", 0)
        },
    ];
    let en = compose_in(Language::En, &r).text;
    assert_in_order(&en, &["fifteen-days", "has never matched a message"]);
    for young in ["first-day", "thirteen-days", "no-mail-yet"] {
        assert!(!en.contains(young), "{young} reported:\n{en}");
    }
}

#[test]
fn assistants_mails_about_tasks_are_told_apart_not_as_noise_nor_time_given_back() {
    let mut status = noise(2, "marta@office.example", None, "newsletters");
    status.entry.decision.rule = None;
    status.entry.decision.assistant = Some("marta".into());
    status.place = Place::TaskStatus;
    let mut second = status.clone();
    second.entry.id = 3;
    let messages = vec![noise(1, "n@x.example", None, "newsletters"), status, second];
    let r = report(messages, &[]);
    let en = compose_in(Language::En, &r);
    assert_eq!(en.subject, "delega · 0 need you, 0 delegated, 1 filed");
    assert_in_order(
        &en.text,
        &[
            // A results section for them, even with no task to review.
            "RESULTS (0)",
            "2 mails from assistants about their tasks were filed with the tasks, out of your \
             Inbox.",
            "FILED AS NOISE (1)",
            "1  n@x.example",
            "An estimate: 1 message handled for you × 2 min = 2 min.",
        ],
    );
    assert!(!en.text.contains("marta@office.example"), "{}", en.text);
    let mut one = report(Vec::new(), &[]);
    one.totals.status_mails = 1;
    let it = compose_in(Language::It, &one);
    assert!(
        it.text.contains(
            "1 messaggio di un assistente su un'attività è stato archiviato con l'attività, \
             fuori dalla Posta in arrivo."
        ),
        "{}",
        it.text
    );
}

#[test]
fn assistants_mails_only_copied_on_a_server_that_cannot_move_are_said_to_be_in_the_inbox() {
    let mut status = noise(1, "marta@office.example", None, "newsletters");
    status.entry.decision.rule = None;
    status.entry.decision.assistant = Some("marta".into());
    status.entry.status = Status::Copied;
    status.place = Place::TaskStatus;
    let r = report(vec![status], &[]);
    let en = compose_in(Language::En, &r);
    assert_eq!(en.subject, "delega · 0 need you, 0 delegated, 0 filed");
    assert_in_order(
        &en.text,
        &[
            "RESULTS (0)",
            "1 mail from an assistant about a task was copied to the delegation folder with \
             the task but is also still in your Inbox: this server cannot move messages.",
            "FILED AS NOISE (0)",
        ],
    );
    assert!(!en.text.contains("was filed with the task"), "{}", en.text);
    let mut two = report(Vec::new(), &[]);
    two.totals.status_copied = 2;
    two.totals.status_mails = 1;
    let it = compose_in(Language::It, &two);
    assert_in_order(
        &it.text,
        &[
            "1 messaggio di un assistente su un'attività è stato archiviato con l'attività, \
             fuori dalla Posta in arrivo.",
            "2 messaggi degli assistenti sulle loro attività sono stati copiati con le attività \
             nella cartella delle deleghe ma restano anche nella Posta in arrivo: questo \
             server non sa spostare i messaggi.",
        ],
    );
}
