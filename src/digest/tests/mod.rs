//! The digest's tests and the ledger fixtures they share: the whole digest against golden
//! files (`golden.rs`), then one behaviour per test — reasons in the digest's language
//! (`reasons.rs`), the mail and its escaping (`mail.rs`), counts and caps (`counts.rs`), the
//! period read from the state (`period.rs`).

mod counts;
mod golden;
mod mail;
mod period;
mod reasons;

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
            Place::TaskStatus if h.entry.status == Status::Copied => r.totals.status_copied += 1,
            Place::TaskStatus => r.totals.status_mails += 1,
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
