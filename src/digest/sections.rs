//! The sections of the entrepreneur's digest, each from the ledger rows `compose` sorted
//! into it: needs you, delegated, would have been, filed as noise, time given back, problems.

use std::collections::BTreeMap;

use crate::classify::Category;

use super::compose::{
    ForwardState, LINE_MAX, assistant_name, bounded, clean, message_item, received,
};
use super::locale::Words;
use super::view::{Group, Item, Section, Tone, one_group, section};
use super::{Event, Handled, Report, Settings};

/// A rule with no match in this long is reported as unused.
const UNUSED_RULE_SECS: i64 = 30 * 86_400;
/// Noise sources and problems listed; the rest are counted in one line.
const GROUPS_MAX: usize = 20;

pub(super) fn needs_you_section(settings: &Settings<'_>, w: Words, rows: &[&Handled]) -> Section {
    let (heading, intro, empty) = w.needs_you();
    let items = rows
        .iter()
        .map(|h| {
            let mut item = message_item(settings, w, h);
            let e = &h.entry.entry;
            item.note = if e.category == Category::Delegable {
                let error = h
                    .forward
                    .as_ref()
                    .and_then(|f| f.last_error.as_deref())
                    .or(h.entry.detail.as_deref())
                    .map_or_else(|| "?".to_string(), clean);
                Some(w.forward_failed(&assistant_name(settings, e.assistant.as_deref()), &error))
            } else if e.why.starts_with("kept in the Inbox") {
                Some(w.not_forwarded(&clean(&e.why)))
            } else {
                None
            };
            item.note = item.note.map(|n| bounded(&n, 300));
            item
        })
        .collect();
    Section {
        key: "needs-you",
        groups: one_group(items, None),
        empty: Some(empty.to_string()),
        ..section(heading, Some(rows.len() as u64), Some(intro))
    }
}

pub(super) fn delegated_section(
    settings: &Settings<'_>,
    w: Words,
    rows: Vec<(&Handled, ForwardState)>,
) -> Section {
    let (heading, intro, empty) = w.delegated();
    let count = rows.len() as u64;
    // By assistant, in the config's order; ids no longer configured come last.
    let mut by_assistant: BTreeMap<(usize, String), Vec<(&Handled, ForwardState)>> =
        BTreeMap::new();
    for (h, state) in rows {
        let id = h.entry.entry.assistant.clone().unwrap_or_default();
        let rank = settings
            .assistants
            .iter()
            .position(|a| a.id == id)
            .unwrap_or(usize::MAX);
        by_assistant.entry((rank, id)).or_default().push((h, state));
    }
    let groups = by_assistant
        .into_iter()
        .map(|((_, id), mut rows)| {
            rows.sort_by_key(|(h, _)| std::cmp::Reverse(received(h)));
            let items = rows
                .iter()
                .map(|(h, state)| delegated_item(settings, w, h, *state))
                .collect::<Vec<_>>();
            Group {
                heading: Some(format!(
                    "{} ({})",
                    assistant_name(settings, Some(&id)),
                    w.integer(items.len() as u64)
                )),
                items,
                more: None,
            }
        })
        .collect();
    Section {
        key: "delegated",
        groups,
        empty: Some(empty.to_string()),
        ..section(heading, Some(count), Some(intro))
    }
}

fn delegated_item(settings: &Settings<'_>, w: Words, h: &Handled, state: ForwardState) -> Item {
    let mut item = message_item(settings, w, h);
    let error = h.forward.as_ref().and_then(|f| f.last_error.as_deref());
    item.note = match (state, error) {
        (ForwardState::Unconfirmed, _) => Some(w.unconfirmed_note().to_string()),
        (ForwardState::Waiting | ForwardState::Failed, Some(e)) => {
            Some(bounded(&w.last_attempt(&clean(e)), 300))
        }
        _ => None,
    };
    item.detail = None;
    (item.lead, item.tone) = (w.state(state).to_string(), state.tone());
    item
}

pub(super) fn observed_section(settings: &Settings<'_>, w: Words, rows: &[&Handled]) -> Section {
    let (heading, intro) = w.observed();
    let items = rows
        .iter()
        .map(|h| {
            let mut item = message_item(settings, w, h);
            let e = &h.entry.entry;
            item.lead = match e.category {
                Category::Delegable => {
                    format!("→ {}", assistant_name(settings, e.assistant.as_deref()))
                }
                _ => w.would_file().to_string(),
            };
            item.detail = None;
            item
        })
        .collect();
    Section {
        key: "observed",
        groups: one_group(items, None),
        ..section(heading, Some(rows.len() as u64), Some(intro))
    }
}

pub(super) fn noise_section(w: Words, rows: &[&Handled]) -> Section {
    let (heading, intro, empty) = w.noise();
    // Source → (count, rules).
    let mut sources: BTreeMap<String, (u64, Vec<String>)> = BTreeMap::new();
    for h in rows {
        let e = &h.entry.entry;
        let source = match e.list_id.as_deref().map(clean).filter(|l| !l.is_empty()) {
            // A List-Id with no name is just `<id>`: show the id without the brackets.
            Some(list) => match list.strip_prefix('<').and_then(|l| l.strip_suffix('>')) {
                Some(id) if !id.contains(['<', '>']) => id.to_string(),
                _ => list,
            },
            None if e.from_addr.is_empty() => w.unknown_sender().to_string(),
            None => clean(&e.from_addr).to_lowercase(),
        };
        let (count, rules) = sources.entry(bounded(&source, LINE_MAX)).or_default();
        *count += 1;
        if let Some(rule) = e.rule.as_deref().map(clean)
            && !rules.contains(&rule)
        {
            rules.push(rule);
        }
    }
    let mut sources: Vec<_> = sources.into_iter().collect();
    // Largest first; the map already ordered equal counts by name.
    sources.sort_by_key(|(_, (count, _))| std::cmp::Reverse(*count));
    let rest = sources.split_off(sources.len().min(GROUPS_MAX));
    let more = (!rest.is_empty()).then(|| {
        let messages = rest.iter().map(|(_, (c, _))| c).sum();
        w.more_sources(rest.len() as u64, messages)
    });
    let items = sources
        .into_iter()
        .map(|(source, (count, rules))| Item {
            lead: w.integer(count),
            tone: Tone::Plain,
            title: source,
            meta: (!rules.is_empty()).then(|| w.rules(&rules)),
            detail: None,
            note: None,
        })
        .collect();
    Section {
        key: "noise",
        groups: one_group(items, more),
        empty: Some(empty.to_string()),
        numeric_lead: true,
        ..section(heading, Some(rows.len() as u64), Some(intro))
    }
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

/// Events with the same kind and detail, counted: (kind, detail, count, last time).
pub(super) fn problem_groups(events: &[Event]) -> Vec<(&str, &str, u64, i64)> {
    let mut groups: Vec<(&str, &str, u64, i64)> = Vec::new();
    for e in events {
        match groups.iter_mut().find(|g| g.0 == e.kind && g.1 == e.detail) {
            Some(g) => (g.2, g.3) = (g.2 + 1, g.3.max(e.at)),
            None => groups.push((&e.kind, &e.detail, 1, e.at)),
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.3));
    groups
}

pub(super) fn problems_section(
    settings: &Settings<'_>,
    w: Words,
    report: &Report,
    events: &[(&str, &str, u64, i64)],
) -> Section {
    let (heading, empty) = w.problems();
    let tz = &settings.digest.timezone;
    let shown = &events[..events.len().min(GROUPS_MAX)];
    let mut items: Vec<Item> = shown
        .iter()
        .map(|&(kind, detail, count, at)| {
            let mut meta = w.event_kind(kind);
            if count > 1 {
                meta = format!("{meta} · {}", w.times(count));
            }
            Item {
                lead: w.short_datetime(at, tz),
                tone: Tone::Bad,
                title: bounded(&clean(detail), 300),
                meta: Some(meta),
                detail: None,
                note: None,
            }
        })
        .collect();
    let more =
        (events.len() > shown.len()).then(|| w.more_problems((events.len() - shown.len()) as u64));
    let since = report.end - UNUSED_RULE_SECS;
    for rule in &report.rules {
        if rule.last_match.is_some_and(|t| t >= since) {
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
