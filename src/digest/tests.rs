//! The digest composed from a ledger fixture: sections, languages, escaping, headers, and
//! the period read from the state.

use mail_parser::{MessageParser, MimeHeaders};

use super::*;
use crate::classify::Category;
use crate::config::Language;
use crate::config::tests::account;
use crate::state::{Action, Entry, InDoubt, NewEntry, OutboxRow, OutboxState, Status};

/// 2026-11-24T17:00:00Z, 18:00 in Rome: the end of the fixture's period.
const END: i64 = 1_795_539_600;
const HOUR: i64 = 3_600;

fn row(id: i64, category: Category, action: Action, minutes_before_end: i64) -> Handled {
    let at = END - minutes_before_end * 60;
    Handled {
        entry: Entry {
            id,
            mailbox: "INBOX".into(),
            uidvalidity: 1,
            decision: NewEntry {
                uid: id as u32,
                message_id: Some(format!("m{id}@x.example")),
                date: Some(at),
                date_written: None,
                from_addr: format!("sender{id}@x.example"),
                from_name: Some(format!("Sender {id}")),
                subject: format!("Subject {id}"),
                excerpt: format!("Excerpt {id}"),
                list_id: None,
                category,
                rule: None,
                why: "no rule matched".into(),
                reason: None,
                observe: false,
                assistant: None,
                action,
            },
            status: Status::Done,
            detail: None,
            decided_at: at,
        },
        // Where the state's query places such a row (observed and refused rows are set
        // where they are made).
        place: match category {
            Category::Strategic => Place::NeedsYou,
            Category::Delegable => Place::Delegated { failed: false },
            Category::Noise => Place::Filed,
        },
        forward: None,
        undone: false,
    }
}

fn keep(id: i64, minutes_before_end: i64) -> Handled {
    row(id, Category::Strategic, Action::Keep, minutes_before_end)
}

fn noise(id: i64, from: &str, list: Option<&str>, rule: &str) -> Handled {
    let mut h = row(id, Category::Noise, Action::File("Noise".into()), 100);
    h.entry.decision.from_addr = from.into();
    h.entry.decision.list_id = list.map(str::to_string);
    h.entry.decision.rule = Some(rule.into());
    h
}

fn forward(id: i64, assistant: &str, state: OutboxState, error: Option<&str>) -> Handled {
    let mut h = row(
        id,
        Category::Delegable,
        Action::Forward("Delegated".into()),
        200 + id,
    );
    h.entry.decision.assistant = Some(assistant.into());
    h.entry.decision.rule = Some("quotes".into());
    if state == OutboxState::Failed {
        h.entry.status = Status::Failed;
        h.entry.detail = error.map(str::to_string);
        h.place = Place::Delegated { failed: true };
    }
    h.forward = Some(OutboxRow {
        id,
        ledger_id: id,
        forward_id: format!("giulia.{id}.1"),
        assistant: assistant.into(),
        address: format!("{assistant}@office.example"),
        state,
        attempts: 1,
        next_attempt_at: END,
        last_error: error.map(str::to_string),
        interrupted: 0,
        reason: None,
    });
    h
}

/// A forward sent again after a send cut off with the message already out.
fn maybe_twice(mut h: Handled) -> Handled {
    if let Some(f) = &mut h.forward {
        f.interrupted = 1;
    }
    h
}

/// A day with something in every section.
fn fixture() -> Report {
    let mut guarded = keep(2, 30);
    guarded.entry.decision.rule = Some("quotes".into());
    let kept = crate::reason::Kept {
        rule: Some("quotes".into()),
        refusal: crate::reason::Refusal::Machine(crate::reason::AutoEvidence::AutoSubmitted(
            "auto-replied".into(),
        )),
    };
    guarded.entry.decision.why = kept.to_string();
    guarded.entry.decision.reason = Some(crate::reason::Reason::Kept(kept));
    let mut observed_delegable = row(20, Category::Delegable, Action::Nothing, 50);
    observed_delegable.entry.decision.observe = true;
    observed_delegable.place = Place::Observed;
    observed_delegable.entry.decision.assistant = Some("luca".into());
    observed_delegable.entry.decision.rule = Some("invoices".into());
    let mut observed_noise = row(21, Category::Noise, Action::Nothing, 40);
    observed_noise.entry.decision.observe = true;
    observed_noise.place = Place::Observed;
    observed_noise.entry.decision.rule = Some("promos".into());
    let list = Some("Shop news <news.shop.example>");
    let messages = vec![
        keep(1, 60),
        guarded,
        forward(10, "marta", OutboxState::Sent, None),
        forward(
            11,
            "marta",
            OutboxState::Pending,
            Some("421 try again later"),
        ),
        maybe_twice(forward(12, "marta", OutboxState::Sent, None)),
        forward(
            13,
            "marta",
            OutboxState::Failed,
            Some("550 mailbox unavailable"),
        ),
        forward(14, "luca", OutboxState::Sent, None),
        observed_delegable,
        observed_noise,
        noise(30, "a@shop.example", list, "newsletters"),
        noise(31, "b@shop.example", list, "newsletters"),
        noise(32, "c@shop.example", list, "newsletters"),
        noise(33, "Promo@Deals.example", None, "promos"),
        noise(34, "promo@deals.example", None, "promos"),
        noise(35, "alerts@bank.example", None, "notifications"),
    ];
    let events = [
        (END - 5 * HOUR, "imap", "connection refused"),
        (END - 4 * HOUR, "imap", "connection refused"),
        (
            END - 3 * HOUR,
            "forward",
            "forward of \"Subject 13\" to Marta refused",
        ),
    ];
    Report {
        rules: vec![
            rule_use("quotes", Some(END - HOUR)),
            rule_use("old-clients", Some(END - 40 * 86_400)),
            rule_use("never-used", None),
        ],
        proposals: vec![
            "3 messages from the list news.shop.example moved to the Inbox: make it strategic"
                .into(),
        ],
        ..report(messages, &events)
    }
}

/// The report of a period with `messages` and `events` (at, kind, detail), every message
/// listed: what `State::digest_period` reads, without its limits, which `compose` applies too.
fn report(messages: Vec<Handled>, events: &[(i64, &str, &str)]) -> Report {
    let mut r = Report {
        start: END - 24 * HOUR,
        end: END,
        ..Report::default()
    };
    r.totals.messages = messages.len() as u64;
    for h in messages {
        let e = &h.entry.decision;
        // Moved back by undo: with the entrepreneur again; a forward stays among the
        // delegated (it went out), a filing is no longer filed.
        if h.undone {
            r.totals.undone += 1;
            r.needs_you.push(h.clone());
            if !matches!(h.place, Place::Delegated { .. }) {
                continue;
            }
            r.totals.undone_forwards += 1;
        }
        match h.place {
            Place::NeedsYou => {
                r.totals.strategic += 1;
                r.needs_you.push(h);
            }
            Place::Observed => {
                r.totals.observed += 1;
                r.observed.push(h);
            }
            Place::Delegated { failed } => {
                let assistant = e.assistant.clone().unwrap_or_default();
                let at = match r.delegated.iter().position(|f| f.assistant == assistant) {
                    Some(at) => at,
                    None => {
                        r.delegated.push(Forwards {
                            assistant,
                            count: 0,
                            failed: 0,
                            rows: Vec::new(),
                        });
                        r.delegated.len() - 1
                    }
                };
                if let Some(f) = h.forward.as_ref().filter(|f| f.may_be_duplicate()) {
                    r.in_doubt.push(InDoubt {
                        forward_id: f.forward_id.clone(),
                        assistant: f.assistant.clone(),
                        state: f.state,
                        interrupted: f.interrupted,
                        subject: e.subject.clone(),
                        decided_at: h.entry.decided_at,
                    });
                }
                let forwards = &mut r.delegated[at];
                forwards.count += 1;
                if failed {
                    forwards.failed += 1;
                    r.needs_you.push(h.clone());
                }
                forwards.rows.push(h);
            }
            Place::Filed => {
                r.totals.filed += 1;
                let list_id = e.list_id.clone().filter(|l| !l.is_empty());
                let sender = match list_id {
                    Some(_) => String::new(),
                    None => e.from_addr.to_lowercase(),
                };
                let at = match r
                    .noise
                    .iter()
                    .position(|s| s.list_id == list_id && s.sender == sender)
                {
                    Some(at) => at,
                    None => {
                        r.noise.push(NoiseSource {
                            list_id,
                            sender,
                            messages: 0,
                            rules: Vec::new(),
                        });
                        r.noise.len() - 1
                    }
                };
                let source = &mut r.noise[at];
                source.messages += 1;
                if let Some(rule) = &e.rule
                    && !source.rules.contains(rule)
                {
                    source.rules.push(rule.clone());
                }
            }
        }
    }
    r.totals.noise_sources = r.noise.len() as u64;
    for &(at, kind, detail) in events {
        match r
            .problems
            .iter_mut()
            .find(|p| p.kind == kind && p.detail == detail)
        {
            Some(p) => (p.count, p.last) = (p.count + 1, p.last.max(at)),
            None => r.problems.push(Problem {
                kind: kind.into(),
                detail: detail.into(),
                count: 1,
                last: at,
                reason: None,
            }),
        }
    }
    r.totals.problems = r.problems.len() as u64;
    r
}

fn rule_use(name: &str, last_match: Option<i64>) -> RuleUse {
    RuleUse {
        name: name.into(),
        last_match,
        // Watching for long enough to be reported when never used.
        deciding_since: Some(END - 60 * 86_400),
    }
}

fn compose_in(language: Language, report: &Report) -> DigestMail {
    let mut account = account();
    account.digest.language = language;
    compose(&Settings::of(&account), report)
}

fn assert_in_order(haystack: &str, needles: &[&str]) {
    let mut from = 0;
    for needle in needles {
        match haystack[from..].find(needle) {
            Some(at) => from += at + needle.len(),
            None => {
                panic!("{needle:?} missing (or out of order) after byte {from} in:\n{haystack}")
            }
        }
    }
}

#[test]
fn every_section_is_composed_in_english() {
    let mail = compose_in(Language::En, &fixture());
    assert_eq!(
        mail.subject,
        "delega · 3 need you, 5 delegated, 6 filed, 3 problems"
    );
    assert!(!mail.nothing_to_report);
    assert_eq!((mail.period_start, mail.period_end), (END - 24 * HOUR, END));
    let text = &mail.text;
    assert_in_order(
        text,
        &[
            "Your delega digest",
            "The giulia inbox · 23 Nov 2026 18:00 to 24 Nov 2026 18:00 (Europe/Rome)",
            // Newest first, with the reasons.
            "NEEDS YOU (3)",
            "Subject 2",
            "Not forwarded — kept in the Inbox: rule quotes would delegate it",
            "Subject 1",
            "“Excerpt 1”",
            "Subject 13",
            "Forward to Marta Verdi failed: 550 mailbox unavailable",
            // Per assistant in config order, newest first, with rule and state.
            "DELEGATED (5)",
            "Marta Verdi (4)",
            "sent         Subject 10",
            "Sender 10 <sender10@x.example> · rule quotes",
            "waiting      Subject 11",
            "Last attempt: 421 try again later",
            "maybe twice  Subject 12",
            "the assistant may have received it twice",
            "failed       Subject 13",
            "Luca Bianchi (1)",
            "sent         Subject 14",
            "WOULD HAVE BEEN DELEGATED OR FILED (2)",
            "→ filed         Subject 21",
            "→ Luca Bianchi  Subject 20",
            // Largest first, addresses compared without case.
            "FILED AS NOISE (6)",
            "3  Shop news <news.shop.example>",
            "rule newsletters",
            "2  promo@deals.example",
            "1  alerts@bank.example",
            // What delega learned from the entrepreneur's corrections.
            "RULES TO CONSIDER (1)",
            "`delega suggest` writes the rule",
            "→  3 messages from the list news.shop.example moved to the Inbox: make it strategic",
            "TIME GIVEN BACK",
            "An estimate: 10 messages handled for you × 2 min = 20 min.",
            "At your €100.00 an hour, that is €33.33.",
            "PROBLEMS",
            "forward of \"Subject 13\" to Marta refused",
            "forward refused",
            "connection refused",
            "mailbox connection · 2 times",
            // Every forward that may have gone twice, whatever the caps.
            "Subject 12",
            "forward maybe twice",
            "forward to Marta Verdi sent again after a cut-off send: it may have arrived twice",
            "old-clients",
            "no match in the last 30 days (last on 15 Oct 2026)",
            "never-used",
            "has never matched a message",
            "-- \nSent by delega for the giulia inbox.",
        ],
    );
    assert!(
        !text.contains("“Excerpt 10”"),
        "the digest leaves delegated excerpts out"
    );
    let problems = &text[text.find("PROBLEMS").expect("problems")..];
    assert!(
        !problems.contains("quotes"),
        "a rule that matched is not listed"
    );
    // The HTML says the same.
    assert_in_order(
        &mail.html,
        &[
            "<html lang=\"en\">",
            "Needs you",
            "Subject 2",
            "Delegated",
            "Marta Verdi (4)",
            "<span class=\"lead good\">sent</span>",
            "<span class=\"lead wait\">waiting</span>",
            "Would have been delegated or filed",
            "Filed as noise",
            "Shop news &lt;news.shop.example&gt;",
            "Time given back",
            "€33.33",
            "Problems",
            "never-used",
        ],
    );
}

#[test]
fn every_section_is_composed_in_italian() {
    let mail = compose_in(Language::It, &fixture());
    assert_eq!(
        mail.subject,
        "delega · 3 per te, 5 delegati, 6 filtrati, 3 problemi"
    );
    assert_in_order(
        &mail.text,
        &[
            "Il riepilogo di delega",
            "Casella giulia · dal 23/11/2026 18:00 al 24/11/2026 18:00 (Europe/Rome)",
            "PER TE (3)",
            "24/11 17:30  Subject 2",
            "Non inoltrato — tenuto nella Posta in arrivo: la regola quotes lo delegherebbe, ma \
             l'ha inviato un sistema automatico (Auto-Submitted: auto-replied)",
            "Inoltro a Marta Verdi non riuscito: 550 mailbox unavailable",
            "DELEGATI (5)",
            "inviato       Subject 10",
            "Sender 10 <sender10@x.example> · regola quotes",
            "in attesa     Subject 11",
            "Ultimo tentativo: 421 try again later",
            "forse doppio  Subject 12",
            "non riuscito  Subject 13",
            "AVREI DELEGATO O FILTRATO (2)",
            "FILTRATI COME RUMORE (6)",
            "3  Shop news <news.shop.example>",
            "TEMPO RESTITUITO",
            "Stima: 10 messaggi gestiti al posto tuo × 2 min = 20 min.",
            "Al tuo valore di 100,00 € l'ora, sono 33,33 €.",
            "PROBLEMI",
            "connessione alla casella · 2 volte",
            "inoltro forse doppio",
            "nessun messaggio negli ultimi 30 giorni (l'ultimo il 15/10/2026)",
            "non ha mai deciso un messaggio",
            "Inviato da delega per la casella giulia.",
        ],
    );
    assert_in_order(
        &mail.html,
        &["<html lang=\"it\">", "Per te", "Delegati", "33,33 €"],
    );
    assert!(!mail.text.contains("Needs you") && !mail.html.contains("Needs you"));
}

#[test]
fn why_a_message_was_not_forwarded_reads_in_the_digests_language() {
    let mut account = account();
    let raws = [
        "From: a@x.example\r\nAuto-Submitted: auto-replied\r\n\r\n",
        "From: MAILER-DAEMON@mx.example\r\n\r\n",
        "From: a@x.example\r\nReturn-Path: <>\r\n\r\n",
        "From: a@x.example\r\nX-Autoreply: yes\r\n\r\n",
        "From: a@x.example\r\nContent-Type: multipart/report; boundary=b\r\n\r\n",
        "From: Marta <marta@office.example>\r\n\r\n",
        "From: a@x.example\r\nX-Delega-Forward: giulia.7.1\r\n\r\n",
        &format!(
            "{}From: a@x.example\r\n\r\n",
            "Received: from h.example\r\n".repeat(26)
        ),
    ];
    let delegable = crate::classify::Decision {
        category: Category::Delegable,
        rule: Some("quotes".into()),
        assistant: Some("marta".into()),
        instructions: None,
        observe: false,
        why: "subject contains \"quote\"".into(),
        reason: None,
    };
    let mut messages: Vec<Handled> = raws
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let msg = crate::message::Message::parse(raw.as_bytes());
            let history = crate::guard::History::default();
            let decision = crate::guard::guard(delegable.clone(), &msg, &account, history);
            let mut h = keep(i as i64 + 1, 10 * i as i64);
            h.entry.decision.why = decision.why;
            h.entry.decision.reason = decision.reason;
            h
        })
        .collect();
    let mut again = keep(99, 200);
    let history = crate::guard::History {
        already_forwarded: true,
    };
    let msg = crate::message::Message::parse(b"From: a@x.example\r\n\r\n");
    let no_rule = crate::classify::Decision {
        rule: None,
        ..delegable.clone()
    };
    let guarded = crate::guard::guard(no_rule, &msg, &account, history);
    again.entry.decision.why = guarded.why;
    again.entry.decision.reason = guarded.reason;
    messages.push(again);
    let report = report(messages, &[]);

    account.digest.language = Language::It;
    let text = compose(&Settings::of(&account), &report).text;
    assert_in_order(
        &text,
        &[
            "Non inoltrato — tenuto nella Posta in arrivo: la regola quotes lo delegherebbe, ma \
             l'ha inviato un sistema automatico (Auto-Submitted: auto-replied)",
            "l'ha inviato un sistema automatico (mittente MAILER-DAEMON, un avviso di mancato \
             recapito)",
            "l'ha inviato un sistema automatico (Return-Path vuoto, un avviso di mancato recapito)",
            "l'ha inviato un sistema automatico (intestazione X-Autoreply)",
            "l'ha inviato un sistema automatico (un multipart/report, avviso di consegna o di \
             lettura)",
            "viene dall'assistente Marta Verdi (marta@office.example): non si rimanda mai indietro",
            "ma l'ha inviato delega stesso (inoltro giulia.7.1)",
            "ma è passato per 26 server di posta (più di 25): probabilmente un ciclo di inoltri",
            "Non inoltrato — tenuto nella Posta in arrivo: sarebbe da delegare, ma un messaggio \
             con lo stesso Message-ID è già stato inoltrato",
        ],
    );
    for english in [
        "kept in the Inbox",
        "would delegate",
        "sent by a machine",
        "bounce",
        "mail servers",
        "never forwarded",
        "already forwarded",
    ] {
        assert!(!text.contains(english), "{english:?} in:\n{text}");
    }

    account.digest.language = Language::En;
    let text = compose(&Settings::of(&account), &report).text;
    assert_in_order(
        &text,
        &[
            "Not forwarded — kept in the Inbox: rule quotes would delegate it, but it was sent \
             by a machine (Auto-Submitted: auto-replied)",
            "it was sent by a machine (sent by MAILER-DAEMON (a bounce))",
            "it comes from the assistant Marta Verdi (marta@office.example): never forwarded back",
            "it crossed 26 mail servers (more than 25): probably a mail loop",
            "Not forwarded — kept in the Inbox: it would be delegated, but a message with this \
             Message-ID was already forwarded",
        ],
    );
}

#[test]
fn why_a_forward_did_not_go_out_reads_in_the_digests_language() {
    use crate::delivery::NotSent;
    let reasons = [
        NotSent::LeftInbox,
        NotSent::Renumbered,
        NotSent::AssistantGone("sara".into()),
    ];
    let mut messages: Vec<Handled> = reasons
        .iter()
        .enumerate()
        .map(|(i, reason)| {
            let error = reason.to_string();
            let mut h = forward(i as i64 + 1, "marta", OutboxState::Failed, Some(&error));
            if let Some(f) = h.forward.as_mut() {
                f.reason = Some(reason.clone());
            }
            h
        })
        .collect();
    // A server's own refusal is quoted as it came.
    messages.push(forward(
        9,
        "marta",
        OutboxState::Failed,
        Some("550 5.1.1 no such user"),
    ));
    let mut report = report(messages, &[(END - HOUR, "forward", "")]);
    report.problems[0].reason = Some(crate::reason::Reason::NotSent(NotSent::LeftInbox));

    let it = compose_in(Language::It, &report).text;
    assert_in_order(
        &it,
        &[
            "Inoltro a Marta Verdi non riuscito: il messaggio è uscito dalla Posta in arrivo \
             prima dell'inoltro",
            "Inoltro a Marta Verdi non riuscito: il server ha rinumerato la casella di posta",
            "Inoltro a Marta Verdi non riuscito: l'assistente sara non è più nella \
             configurazione",
            "Inoltro a Marta Verdi non riuscito: 550 5.1.1 no such user",
        ],
    );
    // The problems section too.
    assert_in_order(
        &it,
        &[
            "PROBLEMI",
            "il messaggio è uscito dalla Posta in arrivo prima dell'inoltro",
        ],
    );
    for english in [
        "left the Inbox",
        "renumbered the mailbox",
        "no longer in the config",
    ] {
        assert!(!it.contains(english), "{english:?} in:\n{it}");
    }
    let en = compose_in(Language::En, &report).text;
    assert!(
        en.contains("the message left the Inbox before it was forwarded"),
        "{en}"
    );
}

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
fn a_hand_delegation_not_forwarded_says_where_the_message_is_and_why() {
    use crate::guard::{HandKept, Refusal};
    use crate::message::AutoEvidence;
    use crate::reason::Reason;
    let machine = HandKept {
        folder: "Delegated".into(),
        refusal: Some(Refusal::Machine(AutoEvidence::NullReturnPath)),
    };
    let mut refused = keep(1, 10);
    refused.entry.decision.why = machine.to_string();
    refused.entry.decision.reason = Some(Reason::HandKept(machine.clone()));
    let mut unassigned = keep(2, 20);
    let nobody = HandKept {
        folder: "Delegated".into(),
        refusal: None,
    };
    unassigned.entry.decision.why = nobody.to_string();
    unassigned.entry.decision.reason = Some(Reason::HandKept(nobody));
    let mut report = report(
        vec![refused, unassigned],
        &[(END - HOUR, "delegation", "\"Fuori ufficio: \"ferie\"\"")],
    );
    report.problems[0].reason = Some(Reason::HandKept(machine));
    let it = compose_in(Language::It, &report).text;
    assert_in_order(
        &it,
        &[
            "PROBLEMI",
            "\"Fuori ufficio: \"ferie\"\": Spostato a mano in Delegated, non inoltrato: l'ha \
             inviato un sistema automatico",
        ],
    );
    assert_in_order(
        &it,
        &[
            "Spostato a mano in Delegated, non inoltrato: l'ha inviato un sistema automatico \
             (Return-Path vuoto, un avviso di mancato recapito)",
            "Spostato a mano in Delegated, non inoltrato: nessuna regola e nessun \
             default_assistant indicano un assistente",
        ],
    );
    assert!(!it.contains("by hand"), "{it}");
    let en = compose_in(Language::En, &report).text;
    assert!(
        en.contains("Moved into Delegated by hand, not forwarded: no rule or default_assistant"),
        "{en}"
    );
}

#[test]
fn the_text_part_aligns_each_item_under_its_lead() {
    let mail = compose_in(Language::En, &fixture());
    let lines: Vec<&str> = mail.text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.ends_with("Shop news <news.shop.example>"))
        .expect("the list line");
    // Counts right-aligned in one column; what follows starts in one column.
    assert_eq!(lines[at], "  3  Shop news <news.shop.example>");
    assert_eq!(lines[at + 1], "     rule newsletters");
    assert_eq!(lines[at + 2], "  2  promo@deals.example");
    let title = lines
        .iter()
        .position(|l| l.contains("Subject 1") && l.starts_with("  "))
        .expect("a message line");
    let column = lines[title].find("Subject 1").expect("the subject");
    assert_eq!(&lines[title][..column], "  24 Nov 17:00  ");
    assert!(lines[title + 1][..column].trim().is_empty());
    assert_eq!(
        lines[title + 1][column..].trim_end(),
        "Sender 1 <sender1@x.example>"
    );
}

fn hostile() -> Report {
    let mut h = keep(1, 10);
    h.entry.decision.subject = "<script>alert(1)</script>".into();
    h.entry.decision.from_name = Some("\"><img src=x onerror=alert(1)>".into());
    h.entry.decision.excerpt = "<a href=\"https://evil.example\">click</a> & more\u{202e}".into();
    let n = noise(2, "x@y.example", Some("<b>list</b>"), "r<i>");
    let events = [(
        END - HOUR,
        "forward",
        "forward of \"<script>x</script>\" refused",
    )];
    Report {
        // A proposal names a sender taken from mail: escaped like the rest.
        proposals: vec!["2 messages from <script>@x moved to the Inbox".into()],
        ..report(vec![h, n], &events)
    }
}

#[test]
fn strings_from_mail_are_escaped_in_the_html() {
    for language in [Language::En, Language::It] {
        let html = compose_in(language, &hostile()).html;
        for raw in ["<script", "<img", "<a ", "<b>", "<i>", "\u{202e}"] {
            assert!(!html.contains(raw), "{raw:?} unescaped in:\n{html}");
        }
        for escaped in [
            "&lt;script&gt;alert(1)&lt;&#x2f;script&gt;",
            "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;",
            "&lt;a href=&quot;https:&#x2f;&#x2f;evil.example&quot;&gt;click&lt;&#x2f;a&gt; &amp; more",
            "&lt;b&gt;list&lt;&#x2f;b&gt;",
            "forward of &quot;&lt;script&gt;x&lt;&#x2f;script&gt;&quot; refused",
        ] {
            assert!(html.contains(escaped), "{escaped:?} missing from:\n{html}");
        }
    }
}

#[test]
fn the_html_loads_nothing_from_outside_and_fits_a_phone() {
    let html = compose_in(Language::En, &fixture()).html;
    for outside in [
        "<img", "<script", "<link", "<a ", "src=", "href=", "url(", "http", "@import",
    ] {
        assert!(!html.contains(outside), "{outside:?} in:\n{html}");
    }
    for phone in [
        "name=\"viewport\"",
        "max-width: 640px",
        "-apple-system",
        "<style>",
    ] {
        assert!(html.contains(phone), "{phone:?} missing");
    }
}

#[test]
fn cr_lf_in_a_mail_subject_cannot_reach_the_digest_headers() {
    let mut report = fixture();
    let first = report
        .needs_you
        .iter_mut()
        .find(|h| h.entry.id == 1)
        .expect("message 1 needs you");
    first.entry.decision.subject = "Hello\r\nBcc: evil@x.example".into();
    first.entry.decision.from_name = Some("Eve\r\nX-Evil: 1".into());
    let account = account();
    let mail = compose(&Settings::of(&account), &report);
    assert!(!mail.subject.contains(['\r', '\n']));
    let bytes = message("delega <delega@studio.example>", &account, &mail)
        .expect("builds")
        .formatted();
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_lowercase();
    for line in head.split("\r\n") {
        assert!(
            !line.starts_with("bcc:") && !line.starts_with("x-evil:"),
            "{head}"
        );
    }
    // The text part shows the subject on one line.
    assert!(mail.text.contains("Hello Bcc: evil@x.example"));
    assert!(mail.text.contains("Eve X-Evil: 1 <sender1@x.example>"));
}

#[test]
fn the_digest_is_multipart_alternative_from_delega_to_the_entrepreneur() {
    let account = account();
    let mail = compose(&Settings::of(&account), &fixture());
    let bytes = message("Giulia's inbox <delega@studio.example>", &account, &mail)
        .expect("builds")
        .formatted();
    let m = MessageParser::default().parse(&bytes).expect("parses");
    let address = |a: Option<&mail_parser::Address<'_>>| {
        a.and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(str::to_string)
    };
    assert_eq!(address(m.from()).as_deref(), Some("delega@studio.example"));
    assert_eq!(address(m.to()).as_deref(), Some("giulia@studio.example"));
    assert_eq!(m.subject(), Some(mail.subject.as_str()));
    assert_eq!(
        m.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-generated")
    );
    assert_eq!(
        m.message_id(),
        Some(format!("digest.giulia.{END}@studio.example").as_str())
    );
    assert_eq!(m.date().map(|d| d.to_timestamp()), Some(END));
    let ct = m.content_type().expect("a content type");
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative"))
    );
    let text = m.body_text(0).expect("a text part");
    assert!(text.contains("NEEDS YOU (3)"), "{text}");
    let html = m.body_html(0).expect("an HTML part");
    assert!(html.contains("Marta Verdi (4)"), "{html}");
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
fn an_assistant_list_has_their_forwards_and_nothing_else() {
    let account = account();
    let settings = Settings::of(&account);
    let marta = account.assistant("marta").expect("marta");
    let list = compose_list(&settings, &fixture(), marta).expect("marta has forwards");
    assert_eq!(list.subject, "delega · 3 messages delegated to you");
    assert_in_order(
        &list.text,
        &[
            "Delegated to you, Marta Verdi",
            "from the giulia inbox, 23 Nov 2026 18:00 to 24 Nov 2026 18:00",
            "sent         Subject 10",
            "Sender 10 <sender10@x.example> · rule quotes",
            "“Excerpt 10”",
            "waiting      Subject 11",
            "maybe twice  Subject 12",
        ],
    );
    for absent in [
        "Subject 13",
        "Subject 14",
        "Subject 1\n",
        "Subject 20",
        "Problems",
    ] {
        assert!(!list.text.contains(absent), "{absent:?} in:\n{}", list.text);
    }
    assert_eq!(list.id, format!("list.giulia.marta.{END}"));
    let bytes = list_message("delega <delega@studio.example>", marta, &list)
        .expect("builds")
        .formatted();
    let m = MessageParser::default().parse(&bytes).expect("parses");
    let to = m.to().and_then(|a| a.first()).expect("To");
    assert_eq!(to.address(), Some("marta@office.example"));
    assert!(
        m.body_html(0)
            .expect("HTML")
            .contains("Delegated to you, Marta Verdi")
    );

    let mut italian = account.clone();
    italian.digest.language = Language::It;
    let list = compose_list(&Settings::of(&italian), &fixture(), marta).expect("a list");
    assert_eq!(list.subject, "delega · 3 messaggi delegati a te");

    let report = Report {
        rules: fixture().rules,
        ..report(
            vec![forward(13, "luca", OutboxState::Failed, Some("550"))],
            &[],
        )
    };
    let luca = account.assistant("luca").expect("luca");
    assert_eq!(compose_list(&settings, &report, luca), None);
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
fn a_malformed_message_says_why_it_stayed_in_the_inbox_in_the_digests_language() {
    let raw = b"Subject: no sender here\r\n\r\nbody\r\n";
    let msg = crate::message::Message::parse(raw);
    let decision = account().rules.classify(&msg);
    let mut h = keep(1, 60);
    h.entry.decision.why = decision.why;
    h.entry.decision.reason = decision.reason;
    let r = report(vec![h], &[]);
    assert_in_order(
        &compose_in(Language::En, &r).text,
        &["Malformed message (no From address): kept in the Inbox, no rule was applied"],
    );
    assert_in_order(
        &compose_in(Language::It, &r).text,
        &["Messaggio malformato (senza indirizzo del mittente): tenuto nella Posta in arrivo"],
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
