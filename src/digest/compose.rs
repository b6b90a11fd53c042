//! Composing a digest: a [`Report`] of the period in, a [`DigestMail`] out.
//!
//! Pure: no clock, no database, no sockets. Ledger rows are sorted into the digest's sections
//! (needs you, delegated, would have been, filed as noise, time given back, problems) as a
//! [`View`] of plain strings in the account's language; `render` lays the view out as text
//! and as HTML. The same rows give each assistant's daily list.

use std::collections::BTreeMap;

use crate::classify::Category;
use crate::config::Assistant;
use crate::message::one_line;
use crate::state::{OutboxState, Status};

use super::locale::Words;
use super::render;
use super::{DigestMail, Event, Handled, Report, Settings};

/// A rule with no match in this long is reported as unused.
const UNUSED_RULE_SECS: i64 = 30 * 86_400;
/// Longest subject shown, in characters.
const SUBJECT_MAX: usize = 200;
/// Longest excerpt, event detail or source shown, in characters.
const LINE_MAX: usize = 160;
/// Noise sources and problems listed; the rest are counted in one line.
const GROUPS_MAX: usize = 20;

/// The digest as data, in the account's language: what both renderings show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct View {
    /// `it` or `en`, for `<html lang>`.
    pub lang: &'static str,
    pub title: String,
    /// Account and period, under the title.
    pub subtitle: String,
    pub sections: Vec<Section>,
    pub footer: String,
}

/// One section of the digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Section {
    /// A stable name (HTML class), never shown.
    pub key: &'static str,
    pub heading: String,
    /// How many messages it is about, beside the heading.
    pub count: Option<u64>,
    pub intro: Option<String>,
    /// Sentences (time given back).
    pub paragraphs: Vec<String>,
    pub groups: Vec<Group>,
    /// Shown when there is nothing else.
    pub empty: Option<String>,
    /// The lead column holds numbers: right-aligned in the text part.
    pub numeric_lead: bool,
}

/// Items under an optional sub-heading (an assistant's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Group {
    pub heading: Option<String>,
    pub items: Vec<Item>,
    /// A closing line, e.g. "… and 4 more sources".
    pub more: Option<String>,
}

/// One line of a section: a message, a noise source, a problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Item {
    /// The short left column: a time, a state, a count.
    pub lead: String,
    /// How the lead is coloured.
    pub tone: Tone,
    pub title: String,
    pub meta: Option<String>,
    /// An excerpt, shown quoted.
    pub detail: Option<String>,
    /// A reason or a warning.
    pub note: Option<String>,
}

/// The colour of an item's lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tone {
    Plain,
    Good,
    Wait,
    Bad,
}

impl Tone {
    pub(super) fn class(self) -> &'static str {
        match self {
            Tone::Plain => "plain",
            Tone::Good => "good",
            Tone::Wait => "wait",
            Tone::Bad => "bad",
        }
    }
}

/// Where a forward stands, as the digest tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ForwardState {
    /// The assistant's server accepted it.
    Sent,
    /// delega stopped while sending: taken as sent, to be checked.
    Unconfirmed,
    /// Not sent yet (rate limit, retries).
    Waiting,
    /// Refused for good: the message stays in the Inbox.
    Failed,
}

impl ForwardState {
    fn of(h: &Handled) -> ForwardState {
        if h.entry.status == Status::Failed {
            return ForwardState::Failed;
        }
        match &h.forward {
            None => ForwardState::Waiting,
            Some(f) => match f.state {
                OutboxState::Sent
                    if f.last_error.as_deref().is_some_and(|e| e.starts_with("unconfirmed")) =>
                {
                    ForwardState::Unconfirmed
                }
                OutboxState::Sent => ForwardState::Sent,
                OutboxState::Failed => ForwardState::Failed,
                OutboxState::Pending | OutboxState::Sending => ForwardState::Waiting,
            },
        }
    }

    fn tone(self) -> Tone {
        match self {
            ForwardState::Sent => Tone::Good,
            ForwardState::Unconfirmed | ForwardState::Waiting => Tone::Wait,
            ForwardState::Failed => Tone::Bad,
        }
    }
}

/// Which section a ledger row belongs to.
enum Place {
    NeedsYou,
    Delegated(ForwardState),
    Observed,
    Filed,
}

fn place(h: &Handled) -> Place {
    let e = &h.entry.entry;
    match e.category {
        Category::Strategic => Place::NeedsYou,
        _ if e.observe => Place::Observed,
        Category::Delegable => Place::Delegated(ForwardState::of(h)),
        Category::Noise => Place::Filed,
    }
}

/// Composes the entrepreneur's digest of `report`.
pub fn compose(settings: &Settings<'_>, report: &Report) -> DigestMail {
    let w = Words(settings.digest.language);
    let mut needs_you = Vec::new();
    let mut delegated: Vec<(&Handled, ForwardState)> = Vec::new();
    let mut observed = Vec::new();
    let mut filed = Vec::new();
    for h in &report.messages {
        match place(h) {
            Place::NeedsYou => needs_you.push(h),
            Place::Delegated(state) => {
                if state == ForwardState::Failed {
                    needs_you.push(h);
                }
                delegated.push((h, state));
            }
            Place::Observed => observed.push(h),
            Place::Filed => filed.push(h),
        }
    }
    newest_first(&mut needs_you);
    newest_first(&mut observed);
    let forwarded = delegated
        .iter()
        .filter(|(_, s)| *s != ForwardState::Failed)
        .count() as u64;
    let handled = forwarded + filed.len() as u64;
    let problems = problem_groups(&report.events);

    let mut sections = vec![
        needs_you_section(settings, w, &needs_you),
        delegated_section(settings, w, delegated),
    ];
    if !observed.is_empty() {
        sections.push(observed_section(settings, w, &observed));
    }
    sections.push(noise_section(w, &filed));
    sections.push(time_section(settings, w, handled));
    sections.push(problems_section(settings, w, report, &problems));

    let view = View {
        lang: w.lang(),
        title: w.title().to_string(),
        subtitle: subtitle(settings, w, report),
        sections,
        footer: w.footer(settings.account),
    };
    DigestMail {
        subject: w.subject(
            needs_you.len() as u64,
            forwarded,
            filed.len() as u64,
            problems.len() as u64,
        ),
        text: render::text(&view),
        html: render::html(&view),
        period_start: report.start,
        period_end: report.end,
        nothing_to_report: report.messages.is_empty() && report.events.is_empty(),
        id: format!("digest.{}.{}", atext(settings.account), report.end),
    }
}

/// Composes an assistant's daily list: what was forwarded (or is about to be) to them in the
/// period. `None` when nothing was. Failed forwards are left out: they never reached the
/// assistant, and the entrepreneur's digest lists them.
pub fn compose_list(
    settings: &Settings<'_>,
    report: &Report,
    assistant: &Assistant,
) -> Option<DigestMail> {
    let w = Words(settings.digest.language);
    let mut mine: Vec<&Handled> = report
        .messages
        .iter()
        .filter(|h| h.entry.entry.assistant.as_deref() == Some(assistant.id.as_str()))
        .filter(|h| matches!(place(h), Place::Delegated(s) if s != ForwardState::Failed))
        .collect();
    if mine.is_empty() {
        return None;
    }
    newest_first(&mut mine);
    let items = mine
        .iter()
        .map(|h| {
            let state = ForwardState::of(h);
            let mut item = message_item(settings, w, h);
            (item.lead, item.tone) = (w.state(state).to_string(), state.tone());
            item
        })
        .collect();
    let tz = &settings.digest.timezone;
    let (from, to) = (w.datetime(report.start, tz), w.datetime(report.end, tz));
    let name = one_line(&assistant.name);
    let view = View {
        lang: w.lang(),
        title: w.list_title(&name),
        subtitle: w.list_intro(settings.account, &from, &to),
        sections: vec![Section {
            key: "list",
            groups: vec![Group {
                heading: None,
                items,
                more: None,
            }],
            ..section(w.delegated().0, Some(mine.len() as u64), None)
        }],
        footer: w.list_footer().to_string(),
    };
    Some(DigestMail {
        subject: w.list_subject(mine.len() as u64),
        text: render::text(&view),
        html: render::html(&view),
        period_start: report.start,
        period_end: report.end,
        nothing_to_report: false,
        id: format!(
            "list.{}.{}.{}",
            atext(settings.account),
            atext(&assistant.id),
            report.end
        ),
    })
}

fn subtitle(settings: &Settings<'_>, w: Words, report: &Report) -> String {
    let tz = &settings.digest.timezone;
    w.period(
        settings.account,
        &w.datetime(report.start, tz),
        &w.datetime(report.end, tz),
        &settings.digest.timezone_name,
    )
}

fn section(heading: &str, count: Option<u64>, intro: Option<&str>) -> Section {
    Section {
        key: "",
        heading: heading.to_string(),
        count,
        intro: intro.map(str::to_string),
        paragraphs: Vec::new(),
        groups: Vec::new(),
        empty: None,
        numeric_lead: false,
    }
}

fn one_group(items: Vec<Item>, more: Option<String>) -> Vec<Group> {
    if items.is_empty() {
        return Vec::new();
    }
    vec![Group {
        heading: None,
        items,
        more,
    }]
}

fn needs_you_section(settings: &Settings<'_>, w: Words, rows: &[&Handled]) -> Section {
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
                    .unwrap_or("?");
                Some(w.forward_failed(&assistant_name(settings, e.assistant.as_deref()), error))
            } else if e.why.starts_with("kept in the Inbox") {
                Some(w.not_forwarded(&e.why))
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

fn delegated_section(
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
            Some(bounded(&w.last_attempt(e), 300))
        }
        _ => None,
    };
    item.detail = None;
    (item.lead, item.tone) = (w.state(state).to_string(), state.tone());
    item
}

fn observed_section(settings: &Settings<'_>, w: Words, rows: &[&Handled]) -> Section {
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

fn noise_section(w: Words, rows: &[&Handled]) -> Section {
    let (heading, intro, empty) = w.noise();
    // Source → (count, rules).
    let mut sources: BTreeMap<String, (u64, Vec<String>)> = BTreeMap::new();
    for h in rows {
        let e = &h.entry.entry;
        let source = match e.list_id.as_deref().map(clean).filter(|l| !l.is_empty()) {
            Some(list) => list,
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
fn time_section(settings: &Settings<'_>, w: Words, handled: u64) -> Section {
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
fn problem_groups(events: &[Event]) -> Vec<(&str, &str, u64, i64)> {
    let mut groups: Vec<(&str, &str, u64, i64)> = Vec::new();
    for e in events {
        match groups
            .iter_mut()
            .find(|g| g.0 == e.kind && g.1 == e.detail)
        {
            Some(g) => (g.2, g.3) = (g.2 + 1, g.3.max(e.at)),
            None => groups.push((&e.kind, &e.detail, 1, e.at)),
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.3));
    groups
}

fn problems_section(
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
    let more = (events.len() > shown.len())
        .then(|| w.more_problems((events.len() - shown.len()) as u64));
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

/// A message as an item: time, subject, sender and rule, excerpt.
fn message_item(settings: &Settings<'_>, w: Words, h: &Handled) -> Item {
    let e = &h.entry.entry;
    let subject = match clean(&e.subject) {
        s if s.is_empty() => w.no_subject().to_string(),
        s => bounded(&s, SUBJECT_MAX),
    };
    let mut meta = sender(w, e.from_name.as_deref(), &e.from_addr);
    if let Some(rule) = e.rule.as_deref() {
        meta = format!("{meta} · {}", w.rule(&clean(rule)));
    }
    let excerpt = bounded(&clean(&e.excerpt), LINE_MAX);
    Item {
        lead: w.short_datetime(received(h), &settings.digest.timezone),
        tone: Tone::Plain,
        title: subject,
        meta: Some(meta),
        detail: (!excerpt.is_empty()).then_some(excerpt),
        note: None,
    }
}

/// `Name <address>`, or whichever of the two there is.
fn sender(w: Words, name: Option<&str>, address: &str) -> String {
    let name = name.map(clean).filter(|n| !n.is_empty() && n != address);
    let address = clean(address);
    let s = match (name, address.is_empty()) {
        (Some(n), false) => format!("{n} <{address}>"),
        (Some(n), true) => n,
        (None, false) => address,
        (None, true) => w.unknown_sender().to_string(),
    };
    bounded(&s, LINE_MAX)
}

fn assistant_name(settings: &Settings<'_>, id: Option<&str>) -> String {
    let id = id.unwrap_or("?");
    match settings.assistants.iter().find(|a| a.id == id) {
        Some(a) => clean(&a.name),
        None => clean(id),
    }
}

/// When a message arrived, as far as is known: its Date, else when delega saw it.
fn received(h: &Handled) -> i64 {
    h.entry.entry.date.unwrap_or(h.entry.decided_at)
}

fn newest_first(rows: &mut [&Handled]) {
    rows.sort_by_key(|h| std::cmp::Reverse((received(h), h.entry.id)));
}

/// Text from a message made safe to lay out: one line, no control characters and no bidi
/// overrides (which could make a sender's name read backwards). Escaping for HTML is the
/// template engine's.
fn clean(s: &str) -> String {
    one_line(s)
        .chars()
        .filter(|c| !matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
        .collect()
}

/// `s` cut to `max` characters, with an ellipsis when cut.
fn bounded(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_string(),
    }
}

/// A name reduced to RFC 5322 atext, for the left part of a Message-ID.
fn atext(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}
