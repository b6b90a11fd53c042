//! The digest as data: sections of items, in plain strings already in the account's
//! language. `compose`, `sections` and `results` build it; `render` lays it out as text and
//! HTML, and adds nothing to what it says. [`ForwardState`] is where a forward stands, as
//! told.

use super::{Handled, Place};
use crate::state::OutboxState;

/// A digest (or an assistant's list) as both renderings show it.
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
    /// How many messages it is about, beside the heading, in the language's digits.
    pub count: Option<String>,
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

pub(super) fn section(heading: &str, count: Option<String>, intro: Option<&str>) -> Section {
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

pub(super) fn one_group(items: Vec<Item>, more: Option<String>) -> Vec<Group> {
    if items.is_empty() {
        return Vec::new();
    }
    vec![Group {
        heading: None,
        items,
        more,
    }]
}

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
    /// The state of a delegated row's forward. Refused for good is the row's place (the
    /// state's query decides it); otherwise its outbox row says.
    pub(super) fn of(h: &Handled) -> ForwardState {
        if h.place == (Place::Delegated { failed: true }) {
            return ForwardState::Failed;
        }
        match &h.forward {
            Some(f) if f.state == OutboxState::Sent && f.may_be_duplicate() => {
                ForwardState::MaybeTwice
            }
            Some(f) if f.state == OutboxState::Sent => ForwardState::Sent,
            _ => ForwardState::Waiting,
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
