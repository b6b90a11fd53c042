//! The sections of the entrepreneur's digest, each from the ledger rows `compose` sorted
//! into it: needs you, delegated, would have been, filed as noise, time given back, problems.

use std::collections::BTreeMap;

use crate::classify::Category;
use crate::reason::Reason;

use super::item::{
    LINE_MAX, assistant_name, bounded, clean, message_item, more_messages, newest_first,
};
use super::locale::Words;
use super::view::{ForwardState, Group, Item, Section, Tone, one_group, section};
use super::{Forwards, Handled, NoiseSource, Place, Report, Settings, Totals};
use crate::state::{Action, OutboxState};

/// A rule with no match in this long is reported as unused.
const UNUSED_RULE_SECS: i64 = 30 * 86_400;
/// A rule that never matched is reported once it has seen this much mail.
const NEVER_MATCHED_SECS: i64 = 14 * 86_400;

/// The messages listed under "needs you" (`rows`, newest first) of the `total`.
pub(super) fn needs_you_section(
    settings: &Settings<'_>,
    w: Words,
    rows: &[&Handled],
    total: u64,
) -> Section {
    let (heading, intro, empty) = w.needs_you();
    let items = rows
        .iter()
        .map(|h| {
            let mut item = message_item(settings, w, h);
            let e = &h.entry.decision;
            item.note = if h.undone {
                Some(undone_note(settings, w, h))
            } else if matches!(h.place, Place::Delegated { .. }) {
                let forward = h.forward.as_ref();
                // delega's own reason, from the outbox row or else the ledger row (a forward
                // given up with no outbox row, or after it was sent); else the server's words.
                let not_sent = forward.and_then(|f| f.reason.as_ref()).or(match &e.reason {
                    Some(Reason::NotSent(why)) => Some(why),
                    _ => None,
                });
                let error = match not_sent {
                    Some(why) => clean(&w.not_sent(why)),
                    None => forward
                        .and_then(|f| f.last_error.as_deref())
                        .or(h.entry.detail.as_deref())
                        .map_or_else(|| "?".to_string(), clean),
                };
                Some(w.forward_failed(&assistant_name(settings, e.assistant.as_deref()), &error))
            } else {
                match &e.reason {
                    Some(Reason::HandKept(hand)) => Some(w.hand_kept(hand)),
                    Some(Reason::Kept(kept)) => Some(w.not_forwarded(&clean(&w.kept(kept)))),
                    Some(Reason::Malformed(why)) => Some(w.malformed(*why)),
                    Some(Reason::NotSent(why)) => Some(w.not_forwarded(&clean(&w.not_sent(why)))),
                    Some(Reason::TaskStatus { reference, state }) => {
                        Some(w.task_status(reference, *state))
                    }
                    // An event's reasons, never a message's.
                    Some(
                        Reason::CopyOnly
                        | Reason::DigestNotSent(_)
                        | Reason::ListNotSent { .. }
                        | Reason::Attention(_),
                    )
                    | None => None,
                }
            };
            item.note = item.note.map(|n| bounded(&n, 300));
            item
        })
        .collect::<Vec<_>>();
    let more = more_messages(w, total, items.len());
    Section {
        key: "needs-you",
        groups: one_group(items, more),
        empty: Some(empty.to_string()),
        ..section(heading, Some(w.integer(total)), Some(intro))
    }
}

/// Why a message undo moved back is in the Inbox again: where it had been filed and,
/// for a delegated one, that its forward went out all the same.
fn undone_note(settings: &Settings<'_>, w: Words, h: &Handled) -> String {
    let e = &h.entry.decision;
    let folder = match &e.action {
        Action::File(f) | Action::Forward(f) => clean(f),
        Action::Keep | Action::Nothing => String::new(),
    };
    let forwarded_to = h
        .forward
        .as_ref()
        .filter(|f| f.state == OutboxState::Sent || f.may_be_duplicate())
        .map(|_| assistant_name(settings, e.assistant.as_deref()));
    w.undone(&folder, forwarded_to.as_deref())
}

/// The forwards to each assistant: the newest `max` of each, under its count.
pub(super) fn delegated_section(
    settings: &Settings<'_>,
    w: Words,
    forwards: &[Forwards],
    max: usize,
) -> Section {
    let (heading, intro, empty) = w.delegated();
    let count = forwards.iter().map(|f| f.count).sum();
    // By assistant, in the config's order; ids no longer configured come last.
    let mut by_assistant: BTreeMap<(usize, &str), &Forwards> = BTreeMap::new();
    for f in forwards.iter().filter(|f| f.count > 0) {
        let rank = settings
            .assistants
            .iter()
            .position(|a| a.id == f.assistant)
            .unwrap_or(usize::MAX);
        by_assistant.insert((rank, &f.assistant), f);
    }
    let groups = by_assistant
        .into_values()
        .map(|f| {
            let mut rows: Vec<&Handled> = f.rows.iter().collect();
            newest_first(&mut rows);
            rows.truncate(max);
            let items = rows
                .iter()
                .map(|h| delegated_item(settings, w, h))
                .collect::<Vec<_>>();
            let id = Some(f.assistant.as_str()).filter(|id| !id.is_empty());
            Group {
                heading: Some(format!(
                    "{} ({})",
                    assistant_name(settings, id),
                    w.integer(f.count)
                )),
                more: more_messages(w, f.count, items.len()),
                items,
            }
        })
        .collect();
    Section {
        key: "delegated",
        groups,
        empty: Some(empty.to_string()),
        ..section(heading, Some(w.integer(count)), Some(intro))
    }
}

fn delegated_item(settings: &Settings<'_>, w: Words, h: &Handled) -> Item {
    let state = ForwardState::of(h);
    let mut item = message_item(settings, w, h);
    let error = h.forward.as_ref().and_then(|f| f.last_error.as_deref());
    item.note = match (state, error) {
        _ if h.undone => Some(undone_note(settings, w, h)),
        (ForwardState::MaybeTwice, _) => Some(w.maybe_twice_note().to_string()),
        (ForwardState::Waiting | ForwardState::Failed, Some(e)) => {
            let reason = h.forward.as_ref().and_then(|f| f.reason.as_ref());
            Some(bounded(
                &w.last_attempt(&clean(&w.send_error(reason, e))),
                300,
            ))
        }
        _ => None,
    };
    item.detail = None;
    (item.lead, item.tone) = (w.state(state).to_string(), state.tone());
    item
}

/// The messages listed as observed (`rows`, newest first) of the `total`.
pub(super) fn observed_section(
    settings: &Settings<'_>,
    w: Words,
    rows: &[&Handled],
    total: u64,
) -> Section {
    let (heading, intro) = w.observed();
    let items = rows
        .iter()
        .map(|h| {
            let mut item = message_item(settings, w, h);
            let e = &h.entry.decision;
            item.lead = match e.category {
                Category::Delegable => {
                    format!("→ {}", assistant_name(settings, e.assistant.as_deref()))
                }
                _ => w.would_file().to_string(),
            };
            item.detail = None;
            item
        })
        .collect::<Vec<_>>();
    let more = more_messages(w, total, items.len());
    Section {
        key: "observed",
        groups: one_group(items, more),
        ..section(heading, Some(w.integer(total)), Some(intro))
    }
}

/// The `max` largest noise sources, then one line counting the rest.
pub(super) fn noise_section(
    w: Words,
    sources: &[NoiseSource],
    totals: &Totals,
    max: usize,
) -> Section {
    let (heading, intro, empty) = w.noise();
    let mut sources: Vec<(String, &NoiseSource)> =
        sources.iter().map(|s| (source_name(w, s), s)).collect();
    // Largest first; equal counts by name.
    sources.sort_by(|(a, x), (b, y)| y.messages.cmp(&x.messages).then_with(|| a.cmp(b)));
    sources.truncate(max);
    let listed: u64 = sources.iter().map(|(_, s)| s.messages).sum();
    let rest = totals.noise_sources.saturating_sub(sources.len() as u64);
    let more = (rest > 0).then(|| w.more_sources(rest, totals.filed.saturating_sub(listed)));
    let items = sources
        .into_iter()
        .map(|(name, s)| {
            let rules: Vec<String> = s.rules.iter().map(|r| clean(r)).collect();
            Item {
                lead: w.integer(s.messages),
                tone: Tone::Plain,
                title: name,
                meta: (!rules.is_empty()).then(|| w.rules(&rules)),
                detail: None,
                note: None,
            }
        })
        .collect();
    Section {
        key: "noise",
        paragraphs: (totals.copied > 0)
            .then(|| w.copied(totals.copied))
            .into_iter()
            .collect(),
        groups: one_group(items, more),
        empty: Some(empty.to_string()),
        numeric_lead: true,
        ..section(heading, Some(w.integer(totals.filed)), Some(intro))
    }
}

/// A noise source as shown: the list's name, or the sender's address.
fn source_name(w: Words, s: &NoiseSource) -> String {
    let name = match s.list_id.as_deref().map(clean).filter(|l| !l.is_empty()) {
        // A List-Id with no name is just `<id>`: show the id without the brackets.
        Some(list) => match list.strip_prefix('<').and_then(|l| l.strip_suffix('>')) {
            Some(id) if !id.contains(['<', '>']) => id.to_string(),
            _ => list,
        },
        None if s.sender.is_empty() => w.unknown_sender().to_string(),
        None => clean(&s.sender).to_lowercase(),
    };
    bounded(&name, LINE_MAX)
}

/// Messages handled × minutes each and, with an hourly value, what that time is worth.
pub(super) fn time_section(settings: &Settings<'_>, w: Words, handled: u64) -> Section {
    let d = settings.digest;
    let minutes = handled.saturating_mul(u64::from(d.minutes_per_message));
    let mut paragraphs = vec![w.time_estimate(handled, d.minutes_per_message, minutes)];
    if let Some(rate) = d.hourly_value {
        let value = rate * minutes as f64 / 60.0;
        paragraphs.push(w.time_value(&w.money(rate, &d.currency), &w.money(value, &d.currency)));
    }
    Section {
        key: "time",
        paragraphs,
        ..section(w.time_given_back(), None, None)
    }
}

/// The latest `max` problems, then the rules that have not matched in a long time.
pub(super) fn problems_section(
    settings: &Settings<'_>,
    w: Words,
    report: &Report,
    max: usize,
) -> Section {
    let (heading, empty) = w.problems();
    let tz = &settings.digest.timezone;
    let mut problems: Vec<_> = report.problems.iter().collect();
    problems.sort_by_key(|p| std::cmp::Reverse(p.last));
    problems.truncate(max);
    let mut items: Vec<Item> = problems
        .iter()
        .map(|p| {
            let mut meta = w.event_kind(&p.kind);
            if p.count > 1 {
                meta = format!("{meta} · {}", w.times(p.count));
            }
            Item {
                lead: w.short_datetime(p.last, tz),
                tone: Tone::Bad,
                // delega's own reasons in the digest's language; anything else as recorded.
                title: bounded(
                    &clean(&w.event_detail(&p.kind, &p.detail, p.reason.as_ref())),
                    300,
                ),
                meta: Some(meta),
                detail: None,
                note: None,
            }
        })
        .collect();
    // Every forward that may have gone twice, however many: each one is something to check.
    for d in &report.in_doubt {
        let assistant = assistant_name(settings, Some(&d.assistant));
        items.push(Item {
            lead: w.short_datetime(d.decided_at, tz),
            tone: Tone::Bad,
            title: bounded(&clean(&d.subject), 300),
            meta: Some(w.in_doubt_kind().to_string()),
            detail: Some(w.in_doubt(d.state == OutboxState::Sent, &assistant)),
            note: None,
        });
    }
    let rest = report.totals.problems.saturating_sub(problems.len() as u64);
    let more = (rest > 0).then(|| w.more_problems(rest));
    let since = report.end - UNUSED_RULE_SECS;
    let long_enough = report.end - NEVER_MATCHED_SECS;
    for rule in &report.rules {
        if rule.last_match.is_some_and(|t| t >= since) {
            continue;
        }
        // A rule that has seen only a few days of mail may just not have met its kind yet.
        if rule.last_match.is_none() && rule.deciding_since.is_none_or(|t| t > long_enough) {
            continue;
        }
        let last = rule.last_match.map(|t| w.date(t, tz));
        items.push(Item {
            lead: w.rule_lead().to_string(),
            tone: Tone::Wait,
            title: clean(&rule.name),
            meta: Some(w.rule_unused(last.as_deref())),
            detail: None,
            note: None,
        });
    }
    Section {
        key: "problems",
        groups: one_group(items, more),
        empty: Some(empty.to_string()),
        ..section(heading, None, None)
    }
}
