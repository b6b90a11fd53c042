//! The pieces every section of the digest is built from: a ledger row as an [`Item`], the
//! sender and assistant as people read them, a count of what is not listed, and text
//! cleaned and bounded for one line. Shared by `compose`, `sections` and `results`, so
//! that none of them reaches into another.

use super::locale::Words;
use super::view::{Item, Tone};
use super::{Handled, Settings};
use crate::message::one_line;

/// Longest subject shown, in characters.
const SUBJECT_MAX: usize = 200;
/// Longest excerpt, event detail or source shown, in characters.
pub(super) const LINE_MAX: usize = 160;

/// "… and 2,950 more", when fewer than `total` messages are listed.
pub(super) fn more_messages(w: Words, total: u64, listed: usize) -> Option<String> {
    let rest = total.saturating_sub(listed as u64);
    (rest > 0).then(|| w.more_messages(rest))
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
