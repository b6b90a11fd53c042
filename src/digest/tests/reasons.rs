//! Why a message stayed in the Inbox, or a forward did not go out, in the digest's language:
//! every reason delega keeps as data, put into Italian and English words.

use super::*;

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
    use crate::task::NotSent;
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
fn a_servers_and_a_digests_events_read_in_the_digests_language_with_the_servers_words_as_they_came()
{
    use crate::reason::{Reason, SendFailure};
    let mut report = report(Vec::new(), &[]);
    let reasons = [
        ("server", Reason::CopyOnly),
        (
            "digest",
            Reason::DigestNotSent(SendFailure::Refused("554 5.7.1 message rejected".into())),
        ),
        (
            "digest",
            Reason::ListNotSent {
                assistant: "Marta Verdi".into(),
                failure: SendFailure::Temporary("421 4.3.2 try again later".into()),
            },
        ),
    ];
    // Recorded as they are since: the reason says it all, the detail is empty.
    for (i, (kind, reason)) in reasons.into_iter().enumerate() {
        report.problems.push(Problem {
            kind: kind.into(),
            detail: String::new(),
            count: 1,
            last: END - 3 * HOUR + i as i64 * HOUR,
            reason: Some(reason),
        });
    }
    report.totals.problems = report.problems.len() as u64;

    let it = compose_in(Language::It, &report).text;
    assert_in_order(
        &it,
        &[
            "lista del giorno per Marta Verdi: errore temporaneo: 421 4.3.2 try again later",
            "invio del riepilogo",
            "rifiutato dal server: 554 5.7.1 message rejected",
            "invio del riepilogo",
            "non ha né MOVE né UIDPLUS: delega copia i messaggi nelle cartelle e lascia gli \
             originali nella posta in arrivo",
            "server di posta",
        ],
    );
    for english in [
        "daily list",
        "temporary failure",
        "refused:",
        "neither MOVE",
    ] {
        assert!(!it.contains(english), "{english:?} in:\n{it}");
    }

    let en = compose_in(Language::En, &report).text;
    assert_in_order(
        &en,
        &[
            "daily list for Marta Verdi: temporary failure: 421 4.3.2 try again later",
            "refused: 554 5.7.1 message rejected",
            "it has neither MOVE nor UIDPLUS: delega copies messages to their folders and \
             leaves the originals in the Inbox",
        ],
    );
}

#[test]
fn a_refusal_that_needs_attention_reads_in_the_digests_language_with_the_servers_answer_as_it_came()
{
    use crate::reason::{Attention, Reason};
    let mut report = report(Vec::new(), &[]);
    let refusals = [
        Attention::FolderRefused {
            folder: "Bad.Noise".into(),
            answer: "Permission denied".into(),
        },
        Attention::Refused {
            doing: "UID FETCH".into(),
            answer: "[SERVERBUG] Internal error".into(),
        },
        Attention::LoginRefused {
            username: "giulia@office.example".into(),
            answer: "[AUTHENTICATIONFAILED] Authentication failed.".into(),
        },
    ];
    for (i, attention) in refusals.into_iter().enumerate() {
        report.problems.push(Problem {
            kind: "attention".into(),
            detail: String::new(),
            count: 1,
            last: END - 3 * HOUR + i as i64 * HOUR,
            reason: Some(Reason::Attention(attention)),
        });
    }
    report.totals.problems = report.problems.len() as u64;

    let it = compose_in(Language::It, &report).text;
    assert_in_order(
        &it,
        &[
            "accesso come giulia@office.example rifiutato (controlla nome utente e password): \
             il server ha risposto «[AUTHENTICATIONFAILED] Authentication failed.»",
            "da sistemare",
            "UID FETCH: il server ha risposto «[SERVERBUG] Internal error»",
            "da sistemare",
            "il server ha rifiutato di creare la cartella Bad.Noise: Permission denied; \
             controlla folders.noise e folders.delegated",
            "da sistemare",
        ],
    );
    for english in [
        "the server answered",
        "refused to create",
        "check folders",
        "login as",
    ] {
        assert!(!it.contains(english), "{english:?} in:\n{it}");
    }

    let en = compose_in(Language::En, &report).text;
    assert_in_order(
        &en,
        &[
            "login as giulia@office.example failed (check username and password): the server \
             answered \"[AUTHENTICATIONFAILED] Authentication failed.\"",
            "UID FETCH: the server answered \"[SERVERBUG] Internal error\"",
            "the server refused to create the folder Bad.Noise: Permission denied; check \
             folders.noise and folders.delegated",
        ],
    );
}
