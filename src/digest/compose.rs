//! Composing a digest: a [`Report`] of the period in, a [`DigestMail`] out.
//!
//! Pure: no clock, no database, no sockets. The report holds each section's newest rows and
//! the period's exact counts; here they are capped to what is listed, `sections.rs` turns
//! each into a section of plain strings in the account's language, and `render` lays the
//! resulting [`View`] out as text and as HTML. The same rows give each assistant's daily list.

use crate::classify::Category;
use crate::config::Assistant;
use crate::message::one_line;
use crate::state::{OutboxState, Status};

use super::locale::Words;
use super::render;
use super::sections::{
    delegated_section, needs_you_section, noise_section, observed_section, problems_section,
    time_section,
};
use super::view::{Group, Item, Section, Tone, View, section};
use super::{DigestMail, Handled, Limits, Report, Settings};

/// Longest subject shown, in characters.
const SUBJECT_MAX: usize = 200;
/// Longest excerpt, event detail or source shown, in characters.
pub(super) const LINE_MAX: usize = 160;

/// Where a forward stands, as the digest tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ForwardState {
    /// The assistant's server accepted it.
    Sent,
    /// Sent, after a send cut off with the message already out: the assistant may have it
    /// twice.
    MaybeTwice,
    /// Not sent yet (rate limit, retries).
    Waiting,
    /// Refused for good: the message stays in the Inbox.
    Failed,
}

impl ForwardState {
    pub(super) fn of(h: &Handled) -> ForwardState {
        if h.entry.status == Status::Failed {
            return ForwardState::Failed;
        }
        match &h.forward {
            None => ForwardState::Waiting,
            Some(f) => match f.state {
                OutboxState::Sent if f.may_be_duplicate() => ForwardState::MaybeTwice,
                OutboxState::Sent => ForwardState::Sent,
                OutboxState::Failed => ForwardState::Failed,
                OutboxState::Pending | OutboxState::InDoubt => ForwardState::Waiting,
            },
        }
    }

    pub(super) fn tone(self) -> Tone {
        match self {
            ForwardState::Sent => Tone::Good,
            ForwardState::MaybeTwice | ForwardState::Waiting => Tone::Wait,
            ForwardState::Failed => Tone::Bad,
        }
    }
}

/// Which section a ledger row belongs to (`state/digest.rs` says the same in SQL).
enum Place {
    NeedsYou,
    Delegated(ForwardState),
    Observed,
    Filed,
}

fn place(h: &Handled) -> Place {
    let e = &h.entry.decision;
    match e.category {
        Category::Strategic => Place::NeedsYou,
        _ if e.observe => Place::Observed,
        Category::Delegable => Place::Delegated(ForwardState::of(h)),
        Category::Noise => Place::Filed,
    }
}

/// Composes the entrepreneur's digest of `report`. Each section lists at most
/// `digest.max_listed` messages (and the report need hold no more); its count, the subject
/// and the time given back cover the whole period, from the report's totals.
pub fn compose(settings: &Settings<'_>, report: &Report) -> DigestMail {
    let w = Words(settings.digest.language);
    let limits = Limits::of(settings.digest);
    let totals = &report.totals;
    let delegated: u64 = report.delegated.iter().map(|f| f.count).sum();
    let failed: u64 = report.delegated.iter().map(|f| f.failed).sum();
    // A failed forward is both delegated (with its state) and back with the entrepreneur;
    // so is a forward whose message undo moved back. Neither was handled for them, nor is
    // filing undone (`totals.filed` leaves it out).
    let needs_you = totals.strategic + failed + totals.undone;
    let handled = delegated.saturating_sub(failed + totals.undone_forwards) + totals.filed;
    // Each forward that may have gone twice is a problem of its own.
    let problems = totals.problems + report.in_doubt.len() as u64;

    let mut sections = vec![
        needs_you_section(
            settings,
            w,
            &listed_needs_you(&report.needs_you, limits),
            needs_you,
        ),
        delegated_section(settings, w, &report.delegated, limits.messages),
    ];
    sections.extend(super::results::results_section(
        settings,
        w,
        &report.tasks,
        limits.messages,
        report.work_day_secs,
    ));
    if totals.observed > 0 {
        let mut observed: Vec<&Handled> = report.observed.iter().collect();
        newest_first(&mut observed);
        observed.truncate(limits.messages);
        sections.push(observed_section(settings, w, &observed, totals.observed));
    }
    sections.push(noise_section(w, &report.noise, totals, limits.groups));
    if !report.proposals.is_empty() {
        sections.push(proposals_section(w, &report.proposals));
    }
    sections.push(time_section(settings, w, handled));
    sections.push(problems_section(settings, w, report, limits.groups));

    let view = View {
        lang: w.lang(),
        title: w.title().to_string(),
        subtitle: subtitle(settings, w, report),
        sections,
        footer: w.footer(settings.account),
    };
    DigestMail {
        // The same numbers as the sections' headings.
        subject: w.subject(needs_you, delegated, totals.filed, problems),
        text: render::text(&view),
        html: render::html(&view),
        period_start: report.start,
        period_end: report.end,
        nothing_to_report: totals.messages == 0 && problems == 0,
        id: format!("digest.{}.{}", atext(settings.account), report.end),
    }
}

/// The messages "needs you" lists, newest first: the newest strategic ones and, since a
/// failure matters more, more of the failed forwards.
fn listed_needs_you(rows: &[Handled], limits: Limits) -> Vec<&Handled> {
    let mut rows: Vec<&Handled> = rows.iter().collect();
    newest_first(&mut rows);
    let (mut strategic, mut failed) = (0, 0);
    rows.retain(|h| {
        let (listed, max) = match place(h) {
            Place::Delegated(ForwardState::Failed) => (&mut failed, limits.failed),
            _ => (&mut strategic, limits.messages),
        };
        *listed += 1;
        *listed <= max
    });
    rows
}

fn proposals_section(w: Words, proposals: &[String]) -> Section {
    let (heading, intro) = w.proposals();
    let mut s = section(
        heading,
        Some(w.integer(proposals.len() as u64)),
        Some(intro),
    );
    s.key = "proposals";
    s.groups.push(Group {
        heading: None,
        items: proposals
            .iter()
            .map(|p| Item {
                lead: "→".into(),
                tone: Tone::Plain,
                title: clean(p),
                meta: None,
                detail: None,
                note: None,
            })
            .collect(),
        more: None,
    });
    s
}

/// Composes an assistant's daily list: what was forwarded (or is about to be) to them in the
/// period, the newest `digest.max_listed` of it. `None` when nothing was. Failed forwards
/// are left out: they never reached the assistant, and the entrepreneur's digest lists them.
pub fn compose_list(
    settings: &Settings<'_>,
    report: &Report,
    assistant: &Assistant,
) -> Option<DigestMail> {
    let w = Words(settings.digest.language);
    let forwards = report
        .delegated
        .iter()
        .find(|f| f.assistant == assistant.id);
    let count = forwards.map_or(0, |f| f.count.saturating_sub(f.failed));
    let tasks = report
        .tasks
        .iter()
        .find(|r| r.assistant == assistant.id)
        .and_then(|r| {
            let max = Limits::of(settings.digest).messages;
            super::results::list_section(settings, w, r, max, report.work_day_secs)
        });
    if count == 0 && tasks.is_none() {
        return None;
    }
    let mut mine: Vec<&Handled> = forwards
        .iter()
        .flat_map(|f| &f.rows)
        .filter(|h| matches!(place(h), Place::Delegated(s) if s != ForwardState::Failed))
        .collect();
    newest_first(&mut mine);
    mine.truncate(Limits::of(settings.digest).messages);
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
        // A day with nothing new still lists what is open: the new part only when there is one.
        sections: (count > 0)
            .then_some(Section {
                key: "list",
                groups: vec![Group {
                    heading: None,
                    items,
                    more: more_messages(w, count, mine.len()),
                }],
                ..section(w.delegated().0, Some(w.integer(count)), None)
            })
            .into_iter()
            .chain(tasks)
            .collect(),
        footer: w.list_footer().to_string(),
    };
    Some(DigestMail {
        subject: w.list_subject(count),
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

/// "… and 2,950 more", when fewer than `total` messages are listed.
pub(super) fn more_messages(w: Words, total: u64, listed: usize) -> Option<String> {
    let rest = total.saturating_sub(listed as u64);
    (rest > 0).then(|| w.more_messages(rest))
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

/// A message as an item: time, subject, sender and rule, excerpt.
pub(super) fn message_item(settings: &Settings<'_>, w: Words, h: &Handled) -> Item {
    let e = &h.entry.decision;
    let subject = match clean(&e.subject) {
        s if s.is_empty() => w.no_subject().to_string(),
        s => bounded(&s, SUBJECT_MAX),
    };
    let mut meta = sender(w, e.from_name.as_deref(), &e.from_addr);
    if let Some(rule) = e.rule.as_deref() {
        meta = format!("{meta} · {}", w.rule(&clean(rule)));
    }
    if e.date.is_none() {
        let written = e.date_written.as_deref().map(|d| bounded(&clean(d), 40));
        meta = format!("{meta} · {}", w.undated(written.as_deref()));
    }
    let excerpt = bounded(&clean(&e.excerpt), LINE_MAX);
    Item {
        // Decided moments after it arrived: the year, when not this one, is no noise.
        lead: w.datetime_near(received(h), h.entry.decided_at, &settings.digest.timezone),
        tone: Tone::Plain,
        title: subject,
        meta: Some(meta),
        detail: (!excerpt.is_empty()).then_some(excerpt),
        note: None,
    }
}

/// `Name <address>`, or whichever of the two there is.
pub(super) fn sender(w: Words, name: Option<&str>, address: &str) -> String {
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

pub(super) fn assistant_name(settings: &Settings<'_>, id: Option<&str>) -> String {
    let id = id.unwrap_or("?");
    match settings.assistants.iter().find(|a| a.id == id) {
        Some(a) => clean(&a.name),
        None => clean(id),
    }
}

/// When a message arrived, as far as is known: its Date, else when delega saw it.
pub(super) fn received(h: &Handled) -> i64 {
    h.entry.decision.date.unwrap_or(h.entry.decided_at)
}

pub(super) fn newest_first(rows: &mut [&Handled]) {
    rows.sort_by_key(|h| std::cmp::Reverse((received(h), h.entry.id)));
}

/// Text from a message made safe to lay out: one line, no control characters and no bidi
/// overrides (which could make a sender's name read backwards). Escaping for HTML is the
/// template engine's.
pub(super) fn clean(s: &str) -> String {
    one_line(s)
        .chars()
        .filter(|c| !matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
        .collect()
}

/// `s` cut to `max` characters, with an ellipsis when cut.
pub(super) fn bounded(s: &str, max: usize) -> String {
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
